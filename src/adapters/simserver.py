"""Run an ASGI app as a real HTTP server on loopback, in a background thread.

Used by the tests (simulators over real HTTP) and by ``gateway dev``. uvicorn has no public
"serve in a thread" helper, so this small wrapper starts ``uvicorn.Server`` on its own event loop and
exposes the bound port, plus ``stop_listening``/``resume_listening`` so a simulator can refuse
connections the way a host that is down does.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import uvicorn

# Where this module picks its servers' ports (below the ephemeral range; above the well-known and most services').
_OWN_PORTS_START = 20000
_PORTS = random.SystemRandom()


def _ephemeral_ports_start() -> int:
    """The first port the kernel uses for outgoing connections (Linux; IANA's 49152 elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            return max(_OWN_PORTS_START + 1000, int(f.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return 49152


def _bind_free_port(sock: socket.socket, host: str) -> None:
    """Bind ``sock`` to a free port below the kernel's range for outgoing connections (any free port when all those
    tried are taken)."""
    low = _ephemeral_ports_start()
    # The operating system's randomness, not ``random``'s: tests seed that one (hypothesis does), and two processes
    # of one test run would then try the same ports in the same order.
    for port in _PORTS.sample(range(_OWN_PORTS_START, low), k=min(64, low - _OWN_PORTS_START)):
        try:
            sock.bind((host, port))
        except OSError:
            continue
        return
    sock.bind((host, 0))


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now, for a server another process will start (a gateway subprocess, a browser's
    driver). Drawn like the simulators' (below the ephemeral range, at random), so that neither an outgoing
    connection nor another test process is likely to take it before that server binds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        _bind_free_port(sock, host)
        port: int = sock.getsockname()[1]
        return port


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

    def _socket(self) -> socket.socket:
        # IPPROTO_TCP explicitly, so asyncio turns on TCP_NODELAY (no ~40 ms delayed-ACK stalls on loopback).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return sock

    def _bind(self) -> socket.socket:
        port = self.port or self._requested_port
        sock = self._socket() if port else self._bind_below_ephemeral_ports()
        if port:
            sock.bind((self.host, port))
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        return sock

    def _bind_below_ephemeral_ports(self) -> socket.socket:
        """A free port below the kernel's range for outgoing connections. A server that stops and listens again
        on its port (``resume_listening``) must find it free: a port the kernel handed out (port 0) lies in that
        range, where any outgoing connection of a busy machine may take it as its local port in the meantime."""
        sock = self._socket()
        try:
            _bind_free_port(sock, self.host)
        except OSError:
            sock.close()
            raise
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
            if self._thread.is_alive() and self._server is not None:
                # Still waiting for its connections to finish: end them (a host that goes down does not wait).
                self._server.force_exit = True
                self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError(f"the server on port {self.port} did not stop")
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
