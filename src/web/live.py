"""The page's live status: a GraphQL subscription to the API over WebSocket (graphql-transport-ws), on the
citizen's behalf.

The browser never holds the citizen's API token (it lives in the encrypted session cookie), so it cannot open the
API's WebSocket itself. The page's server subscribes for it, with the session's token, and relays each event to the
browser as a Server-Sent Event (``pages.payment_status_events``). It is still a client of the public API: the
same ``/graphql`` endpoint, protocol, authorization, rate limits and trusted documents as any client's.

Where the WebSocket goes follows ``GATEWAY_WEB_API_URL`` (``web.api``):
- unset: the gateway app that serves the page, in-process (:class:`AsgiWebSocket`);
- a URL: that gateway over the network, with the ``websockets`` library (:class:`NetworkWebSocket`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Protocol

from starlette.types import ASGIApp, Message
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

PROTOCOL = "graphql-transport-ws"
# How long the page's server waits for the API to acknowledge the connection.
ACK_TIMEOUT_SECONDS = 10.0
# How long a closed in-process connection may take to end its subscriptions before they are cancelled.
CLOSE_TIMEOUT_SECONDS = 5.0
# graphql-transport-ws close codes the gateway uses for a token it does not accept (docs/subscriptions.md).
FORBIDDEN = 4403


class Closed(Exception):
    """The WebSocket was closed (or refused) by the API."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"closed {code} {reason}".strip())
        self.code = code
        self.reason = reason


class WebSocket(Protocol):
    async def send(self, text: str) -> None: ...

    async def receive(self) -> str:
        """The next text message; raises :class:`Closed` when the connection ends."""
        ...

    async def close(self) -> None: ...


# Opens a WebSocket to the API's /graphql with these extra headers.
Connector = Callable[[dict[str, str]], Awaitable[WebSocket]]


class AsgiWebSocket:
    """A WebSocket to an ASGI app in this process: the app runs in a task of its own and the two sides talk
    through queues, as a server would hand it a connection.

    Written here because no maintained client offers it for our stack: ``websockets`` only speaks to sockets, and
    httpx-ws's ASGI transport runs the app in a task group bound to the task that opened it, which the page's
    streaming response cannot guarantee (that combination hung). Here the app's task is owned by this object and
    ended by :meth:`close` whatever task calls it.
    """

    def __init__(self, app: ASGIApp, headers: dict[str, str], client: tuple[str, int] | None) -> None:
        self.app = app
        self.scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "ws",
            "server": ("gateway.internal", 80),
            "client": client or ("127.0.0.1", 0),
            "root_path": "",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "headers": [(b"host", b"gateway.internal")]
            + [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            + [(b"sec-websocket-protocol", PROTOCOL.encode())],
            "subprotocols": [PROTOCOL],
            "extensions": {},
            "state": {},
        }
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed: Closed | None = None

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._to_app.get, self._from_app.put)
        finally:
            # The app returned (or failed) without closing: to the client that is an abnormal closure.
            self._from_app.put_nowait({"type": "websocket.close", "code": 1006})

    async def open(self) -> AsgiWebSocket:
        self._task = asyncio.create_task(self._run(), name="web-live-asgi-websocket")
        await self._to_app.put({"type": "websocket.connect"})
        message = await self._from_app.get()
        if message["type"] != "websocket.accept":
            await self.close()
            raise self._closing(message)
        return self

    def _closing(self, message: Message) -> Closed:
        if message["type"] == "websocket.close":
            return Closed(int(message.get("code", 1000)), str(message.get("reason") or ""))
        # ``websocket.http.response.start``: the handshake was refused with an HTTP answer.
        return Closed(FORBIDDEN if message.get("status") == 403 else 1006, "handshake refused")

    async def send(self, text: str) -> None:
        if self._closed is not None:
            raise self._closed
        await self._to_app.put({"type": "websocket.receive", "text": text})

    async def receive(self) -> str:
        if self._closed is not None:
            raise self._closed
        message = await self._from_app.get()
        if message["type"] == "websocket.send":
            text = message.get("text")
            return text if text is not None else bytes(message.get("bytes") or b"").decode()
        self._closed = self._closing(message)
        raise self._closed

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        try:
            if not task.done():
                self._to_app.put_nowait({"type": "websocket.disconnect", "code": 1000})
                # The app ends its subscriptions on the disconnect.
                await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_SECONDS)
        finally:
            # One that did not, or a close that was itself cancelled (the browser left): the app's task is
            # cancelled, never left behind.
            if not task.done():
                task.cancel()
            task.add_done_callback(_consume)


class NetworkWebSocket:
    """A WebSocket to a gateway over the network (``GATEWAY_WEB_API_URL``), with the ``websockets`` library."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, url: str, headers: dict[str, str]) -> NetworkWebSocket:
        try:
            connection = await connect(url, subprotocols=[PROTOCOL], additional_headers=headers)  # type: ignore[list-item]
        except InvalidHandshake as exc:
            raise Closed(FORBIDDEN if "403" in str(exc) else 1006, "handshake refused") from exc
        except OSError as exc:
            raise Closed(1006, type(exc).__name__) from exc
        return cls(connection)

    async def send(self, text: str) -> None:
        try:
            await self.connection.send(text)
        except ConnectionClosed as exc:
            raise _closed(exc) from exc

    async def receive(self) -> str:
        try:
            message = await self.connection.recv()
        except ConnectionClosed as exc:
            raise _closed(exc) from exc
        return message if isinstance(message, str) else message.decode()

    async def close(self) -> None:
        try:
            await self.connection.close()
        except BaseException:
            self.connection.transport.abort()  # cancelled mid-handshake (the browser left): drop the socket
            raise


def _consume(task: asyncio.Task[None]) -> None:
    """The app's task ended: retrieve its exception (already reported by the app's own error handling)."""
    if not task.cancelled():
        task.exception()


def _closed(exc: ConnectionClosed) -> Closed:
    frame = exc.rcvd
    return Closed(frame.code, frame.reason) if frame is not None else Closed(1006)


def in_process(app: ASGIApp, client: Callable[[], tuple[str, int] | None]) -> Connector:
    async def open_socket(headers: dict[str, str]) -> WebSocket:
        return await AsgiWebSocket(app, headers, client()).open()

    return open_socket


def over_network(base_url: str) -> Connector:
    url = base_url.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/graphql"

    async def open_socket(headers: dict[str, str]) -> WebSocket:
        return await NetworkWebSocket.open(url, headers)

    return open_socket


class SubscriptionError(Exception):
    """The API refused the subscription or ended it with an error; ``code`` is its ``extensions.code``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def subscribe(
    connector: Connector, body: dict[str, Any], *, token: str, language: str
) -> AsyncGenerator[dict[str, Any], None]:
    """Each event's ``data`` of one subscription (``body``: a trusted document's id and variables), until the API
    completes it. A refused token raises :class:`Closed` with code 4403; an ``error`` message raises
    :class:`SubscriptionError`. The connection is closed when the iteration ends, however it ends."""
    socket = await connector({"Accept-Language": language})
    try:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        async with asyncio.timeout(ACK_TIMEOUT_SECONDS):
            while (ack := json.loads(await socket.receive()))["type"] != "connection_ack":
                if ack["type"] == "ping":
                    await socket.send(json.dumps({"type": "pong"}))
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": body}))
        while True:
            message = json.loads(await socket.receive())
            kind = message.get("type")
            if kind == "ping":
                await socket.send(json.dumps({"type": "pong"}))
            elif kind == "next" and message.get("id") == "1":
                payload = message.get("payload") or {}
                if payload.get("data") is None:
                    raise SubscriptionError(_first_code(payload.get("errors")))
                yield payload["data"]
            elif kind == "error" and message.get("id") == "1":
                raise SubscriptionError(_first_code(message.get("payload")))
            elif kind == "complete" and message.get("id") == "1":
                return
    finally:
        await socket.close()


def _first_code(errors: Any) -> str:
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str((errors[0].get("extensions") or {}).get("code") or "INTERNAL")
    return "INTERNAL"
