"""``make audit``: the `graphql-http` package's GraphQL-over-HTTP server audit against a real ``gateway serve``.

Starts the gateway on a free loopback port against a fresh SQLite ledger (migrated and seeded) in a temporary
folder, installs the audit's npm packages (pinned) into ``var/graphql-http-audit`` (git-ignored) unless they
are there already, runs ``graphql-http-audit.cjs`` and exits with its status: non-zero when a MUST fails.
Needs Node.js and npm (``.ci/run`` installs them when they are missing).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: the gateway the tools serve
from served_gateway import fail as shared_fail
from served_gateway import free_port, served_gateway

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PREFIX = ROOT / "var" / "graphql-http-audit"
# Pinned, so that a new release of the audit cannot turn CI red on its own.
PACKAGES = {"graphql-http": "1.23.1", "graphql": "16.15.0"}


def fail(message: str) -> NoReturn:
    shared_fail("make audit", message)


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


def main() -> int:
    node = shutil.which("node")
    if node is None:
        fail("node is not installed (Node.js 18 or newer with npm is needed; e.g. `apt-get install nodejs npm`)")
    install_packages()
    port = free_port()
    settings = {
        "GATEWAY_GAELDST_URL": "http://127.0.0.1:9",  # not asked: the audit's queries touch no claim
        # The audit sends about 60 anonymous requests from one address within a second; the limiter itself is
        # tested in tests/api/test_http_edge.py.
        "GATEWAY_RATE_LIMIT_ANONYMOUS_BURST": "1000",
    }
    with (
        tempfile.TemporaryDirectory(prefix="gateway-audit-") as tmp,
        served_gateway("make audit", tmp, port, settings, stop_timeout=15),
    ):
        audit = subprocess.run(  # noqa: S603
            [
                node,
                str(HERE / "graphql-http-audit.cjs"),
                str(PREFIX / "node_modules"),
                f"http://127.0.0.1:{port}/graphql",
            ],
            check=False,
        )
        return audit.returncode


if __name__ == "__main__":
    raise SystemExit(main())
