"""The tests' servers on loopback (``adapters.simserver``): a server that stops listening and listens again finds
its port free, because its port lies below the kernel's range for outgoing connections."""

from __future__ import annotations

import socket

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapters.simserver import ThreadedServer, _ephemeral_ports_start, free_port


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


def test_a_free_port_for_another_process_is_drawn_below_the_ports_of_outgoing_connections() -> None:
    ports = {free_port() for _ in range(20)}
    assert all(20000 <= p < _ephemeral_ports_start() for p in ports)
    assert len(ports) > 1  # drawn at random, not the same port every time
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports.pop()))  # and free
