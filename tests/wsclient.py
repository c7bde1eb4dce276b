"""A small graphql-transport-ws client for the tests, on the ``websockets`` library: a real WebSocket to a served
gateway, the protocol's messages as dicts, and waits bounded by generous timeouts (never sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PROTOCOL = "graphql-transport-ws"
WAIT_SECONDS = 15.0  # generous: a busy machine must not turn a slow event into a failure


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/graphql"


class Subscriptions:
    """One connection: ``init`` it, ``subscribe`` operations, ``next_message`` reads what the server sends."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def next_message(self, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """The next message, pongs skipped."""
        while True:
            raw = await _within(self.ws.recv(), timeout)
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") != "pong":
                return message

    async def init(self, token: str | None = None, **payload: Any) -> dict[str, Any]:
        if token is not None:
            payload["Authorization"] = f"Bearer {token}"
        await self.send({"type": "connection_init", "payload": payload})
        return await self.next_message()

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.send({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})

    async def events(self, op_id: str) -> list[dict[str, Any]]:
        """Every ``next`` payload of ``op_id`` until its ``complete`` (or ``error``: then that message's payload
        is the last item, as ``{"error": [...]}``)."""
        payloads: list[dict[str, Any]] = []
        while True:
            message = await self.next_message()
            if message.get("id") != op_id:
                continue
            if message["type"] == "next":
                payloads.append(message["payload"])
            elif message["type"] == "error":
                payloads.append({"error": message["payload"]})
                return payloads
            elif message["type"] == "complete":
                return payloads

    async def closed(self, timeout: float = WAIT_SECONDS) -> tuple[int | None, str]:
        """Wait until the server closes the connection: its close code and reason."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await _within(self.ws.recv(), timeout)
        return self.ws.close_code, self.ws.close_reason or ""


async def _within(awaitable: Any, timeout: float) -> Any:
    return await asyncio.wait_for(awaitable, timeout)


@contextlib.asynccontextmanager
async def subscriptions(
    http_url: str, *, subprotocols: list[str] | None = None, headers: dict[str, str] | None = None, **kwargs: Any
) -> AsyncIterator[Subscriptions]:
    async with connect(
        ws_url(http_url),
        subprotocols=[PROTOCOL] if subprotocols is None else subprotocols,  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=WAIT_SECONDS,
        **kwargs,
    ) as ws:
        yield Subscriptions(ws)


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port in this event loop (so it may use services built in it,
    whose connection pools belong to this loop); yields its URL. No lifespan: the services are the caller's."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT_SECONDS)
        sock.close()
