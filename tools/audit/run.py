"""``make audit``: the `graphql-http` package's GraphQL-over-HTTP server audit against a real ``gateway serve``.

Starts the gateway on a free loopback port against a fresh SQLite ledger (migrated and seeded) in a temporary
folder, installs the audit's npm packages (pinned) into ``var/graphql-http-audit`` (git-ignored) unless they
are there already, runs ``graphql-http-audit.cjs`` and exits with its status: non-zero when a MUST fails.
Needs Node.js and npm (``.ci/run`` installs them when they are missing).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PREFIX = ROOT / "var" / "graphql-http-audit"
# Pinned, so that a new release of the audit cannot turn CI red on its own.
PACKAGES = {"graphql-http": "1.23.1", "graphql": "16.15.0"}
GATEWAY = Path(sys.executable).with_name("gateway")


def fail(message: str) -> NoReturn:
    print(f"make audit: {message}", file=sys.stderr)
    raise SystemExit(2)


def installed_version(name: str) -> str | None:
    manifest = PREFIX / "node_modules" / name / "package.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    return version


def install_packages() -> None:
    if all(installed_version(name) == version for name, version in PACKAGES.items()):
        return
    npm = shutil.which("npm")
    if npm is None:
        fail("npm is not installed (Node.js 18 or newer with npm is needed; e.g. `apt-get install nodejs npm`)")
    PREFIX.mkdir(parents=True, exist_ok=True)
    specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
    command = [npm, "install", "--prefix", str(PREFIX), "--no-save", "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run([*command, *specs], check=True)  # noqa: S603 - fixed arguments


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            fail(f"gateway serve exited with status {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - loopback URL
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    fail(f"gateway serve did not answer {url}/healthz within {timeout:.0f} s")


def main() -> int:
    node = shutil.which("node")
    if node is None:
        fail("node is not installed (Node.js 18 or newer with npm is needed; e.g. `apt-get install nodejs npm`)")
    install_packages()
    with tempfile.TemporaryDirectory(prefix="gateway-audit-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update(
            GATEWAY_ENVIRONMENT="development",
            GATEWAY_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/ledger.sqlite3",
            GATEWAY_LOG_LEVEL="WARNING",
            GATEWAY_GRAPHIQL="false",
            GATEWAY_PAYMENTS_POLL_INTERVAL_SECONDS="0",
            GATEWAY_GAELDST_URL="http://127.0.0.1:9",  # not asked: the audit's queries touch no claim
            # The audit sends about 60 anonymous requests from one address within a second; the limiter itself
            # is tested in tests/api/test_http_edge.py.
            GATEWAY_RATE_LIMIT_ANONYMOUS_BURST="1000",
        )
        for step in ("migrate", "seed"):
            subprocess.run([str(GATEWAY), step], cwd=tmp, env=env, check=True)  # noqa: S603
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603
            [str(GATEWAY), "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp, env=env
        )
        try:
            wait_until_healthy(url, server)
            audit = subprocess.run(  # noqa: S603
                [node, str(HERE / "graphql-http-audit.cjs"), str(PREFIX / "node_modules"), f"{url}/graphql"],
                check=False,
            )
            return audit.returncode
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


if __name__ == "__main__":
    raise SystemExit(main())
