"""Run an ASGI app as a real HTTP server on loopback, in a background thread.

Used by the tests (simulators over real HTTP) and by ``gateway dev``. uvicorn has no public
"serve in a thread" helper, so this small wrapper starts ``uvicorn.Server`` on its own event loop and
exposes the bound port, plus ``stop_listening``/``resume_listening`` so a simulator can refuse
connections the way a host that is down does.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import uvicorn


def port_of(url: str) -> int:
    """The port a URL names (80 when it names none): where to serve a simulator the settings point at."""
    return urlsplit(url).port or 80


class ThreadedServer:
    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _bind(self) -> socket.socket:
        # IPPROTO_TCP explicitly, so asyncio turns on TCP_NODELAY (no ~40 ms delayed-ACK stalls on loopback).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port or self._requested_port))
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        return sock

    def start(self, timeout: float = 10.0) -> ThreadedServer:
        sock = self._bind()
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        server = self._server

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"sim-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def stop_listening(self) -> None:
        """Stop the server entirely: new connections are refused (the port stays reserved by number)."""
        self.stop()

    def resume_listening(self) -> None:
        """Listen again on the same port after ``stop_listening``."""
        with contextlib.suppress(RuntimeError):
            self.stop()
        self.start()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
