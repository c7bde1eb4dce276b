"""A gateway for the tools (``make audit``, ``make fuzz``): ``gateway serve`` on a free loopback port against a
fresh SQLite ledger, migrated and seeded, in a folder the caller owns; stopped with SIGTERM afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from adapters.simserver import free_port

__all__ = ["GATEWAY", "fail", "free_port", "served_gateway", "wait_until_healthy"]

GATEWAY = Path(sys.executable).with_name("gateway")


def fail(tool: str, message: str) -> NoReturn:
    print(f"{tool}: {message}", file=sys.stderr)
    raise SystemExit(2)


def wait_until_healthy(tool: str, url: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            fail(tool, f"gateway serve exited with status {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - loopback URL
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    fail(tool, f"gateway serve did not answer {url}/healthz within {timeout:.0f} s")


@contextmanager
def served_gateway(
    tool: str, folder: str, port: int, settings: Mapping[str, str], *, stop_timeout: float
) -> Iterator[dict[str, str]]:
    """Serve the gateway at ``http://127.0.0.1:<port>`` with ``settings`` (``GATEWAY_*``) over development
    defaults; yields the environment it runs with (for ``gateway token``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_ENVIRONMENT="development",
        GATEWAY_DATABASE_URL=f"sqlite+aiosqlite:///{folder}/ledger.sqlite3",
        GATEWAY_LOG_LEVEL="WARNING",
        GATEWAY_GRAPHIQL="false",
        GATEWAY_PAYMENTS_POLL_INTERVAL_SECONDS="0",
    )
    env.update(settings)
    for step in ("migrate", "seed"):
        subprocess.run([str(GATEWAY), step], cwd=folder, env=env, check=True)  # noqa: S603 - fixed arguments
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [str(GATEWAY), "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=folder, env=env
    )
    try:
        wait_until_healthy(tool, f"http://127.0.0.1:{port}", server)
        yield env
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
