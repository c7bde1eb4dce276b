"""The tests' servers on loopback (``adapters.simserver``): a server that stops listening and listens again finds
its port free, because its port lies below the kernel's range for outgoing connections."""

from __future__ import annotations

import socket

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapters.simserver import ThreadedServer, _ephemeral_ports_start


def _app() -> Starlette:
    return Starlette(routes=[Route("/", lambda _: PlainTextResponse("up"))])


def test_a_server_listens_below_the_ports_of_outgoing_connections_and_again_on_the_same_port() -> None:
    with ThreadedServer(_app()) as server:
        port = server.port
        assert 20000 <= port < _ephemeral_ports_start()
        assert httpx.get(server.url).text == "up"
        server.stop_listening()
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # refused, as a host that is down
        server.resume_listening()
        assert server.port == port
        assert httpx.get(server.url).text == "up"


def test_two_servers_get_two_ports() -> None:
    with ThreadedServer(_app()) as one, ThreadedServer(_app()) as two:
        assert one.port != two.port
