"""What every HTTP request meets before a route: body limits, security headers, the choice of GraphQL media
type, the client's request id, and the server's own limits (timeouts, header size, concurrency) for
``gateway serve``.

A reverse proxy in front still adds TLS and its own limits (README, "Behind a reverse proxy").
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import h11
import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.domain.cpr import looks_like_cpr, redact
from gateway.domain.errors import ErrorCode
from gateway.domain.i18n import Language, negotiate, translate
from gateway.settings import Settings

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def error_body(code: ErrorCode, key: str, language: Language, **params: object) -> dict[str, Any]:
    """A request-level GraphQL error: ``{"data": null, "errors": [{message, extensions.code}]}``."""
    return {
        "data": None,
        # redact: a detail may quote the client's request (an operation's name), which may hold a CPR number.
        "errors": [{"message": redact(translate(key, language, **params)), "extensions": {"code": code.value}}],
    }


# --- GraphQL over HTTP: which media type the client gets ---------------------------------------------------------


def response_media_type(accept: str | None) -> str:
    """``application/graphql-response+json`` when the client asks for it at least as much as for JSON (GraphQL
    over HTTP), else ``application/json``: also for no Accept header, ``*/*``, or media types we do not serve."""
    q_graphql = q_json = 0.0
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media == GRAPHQL_RESPONSE:
            q_graphql = max(q_graphql, q)
        elif media in (JSON, "application/*", "*/*"):
            q_json = max(q_json, q)
    return GRAPHQL_RESPONSE if q_graphql > 0 and q_graphql >= q_json else JSON


# --- the client's request id ---------------------------------------------------------------------------------

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Ten digits (a hyphen after six allowed), valid date or not: anything that could carry a CPR number.
_CPR_LIKE_RUN = re.compile(r"\d{6}-?\d{4}")


def new_request_id() -> str:
    """The server's own request id: the audit id of the access log. Random, and never with a run of digits
    that could be read as a CPR number (about one random UUID in twelve has one)."""
    while True:
        request_id = uuid.uuid4().hex
        if not _CPR_LIKE_RUN.search(request_id):
            return request_id


def client_request_id(value: str | None) -> str | None:
    """A client's ``X-Request-ID`` if it is safe to log and echo: 8–64 characters of ``[A-Za-z0-9._-]`` and
    nothing CPR-shaped. It never becomes the audit id (the server makes its own)."""
    if not value or not _CLIENT_REQUEST_ID.match(value) or _CPR_LIKE_RUN.search(value) or looks_like_cpr(value):
        return None
    return value


# --- middleware ------------------------------------------------------------------------------------------------


class SecurityHeaders:
    """``nosniff``, no referrer and no framing on every response; ``Cache-Control: no-store`` on JSON (the API's
    answers are personal). GraphiQL sets its own Content-Security-Policy (it needs a nonce)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                if "json" in headers.get("content-type", ""):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    """Raised from ``receive`` once a request body has grown past its route's limit."""


# Told of every 413 BodyLimit answers: the path, the GraphQL error body sent, and the seconds it took (metrics).
OnBodyRefused = Callable[[str, dict[str, Any], float], None]


class BodyLimit:
    """413 for a request body over its route's limit, before reading past it: at once when ``Content-Length``
    says so, else by counting the body as it streams in (no or a lying ``Content-Length``). The route never
    answers such a request, so ``on_refused`` is told of it instead (to count it where the route would have)."""

    def __init__(self, app: ASGIApp, limits: dict[str, int], on_refused: OnBodyRefused | None = None) -> None:
        self.app = app
        self.limits = limits
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.get(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit, started)
            return
        received = 0
        responding = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal responding
            responding = responding or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if responding:
                raise
            await self._refuse(scope, send, limit, started)

    async def _refuse(self, scope: Scope, send: Send, limit: int, started: float) -> None:
        headers = Headers(scope=scope)
        language = negotiate(headers.get("accept-language"))
        body = error_body(ErrorCode.BAD_USER_INPUT, "REQUEST_TOO_LARGE", language, limit=limit)
        media_type = response_media_type(headers.get("accept"))
        if media_type == GRAPHQL_RESPONSE:
            del body["data"]  # nothing was executed
        content = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", media_type.encode()),
                    (b"content-length", str(len(content)).encode()),
                    (b"connection", b"close"),  # the rest of the body is never read
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})
        if self.on_refused is not None:
            self.on_refused(scope["path"], body, time.perf_counter() - started)


# --- gateway serve: the server's own limits ----------------------------------------------------------------------


class _ReadTimeoutH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for receiving a request: from the moment the server waits for one
    (a new connection, or after the previous response) its head and body must have arrived within
    ``read_timeout`` seconds, else the connection is closed. uvicorn bounds only the silence between requests
    (``timeout_keep_alive``), so a new connection that says nothing, or a client that trickles its headers or
    body, would otherwise hold a connection for ever."""

    read_timeout: float = 10.0
    _read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):  # the request is in (or the connection done)
            self._cancel_read_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self._arm_read_timer()

    def _arm_read_timer(self) -> None:
        self._cancel_read_timer()
        self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing() and self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self.transport.close()


def http_protocol(read_timeout_seconds: float) -> type[H11Protocol]:
    return type("ReadTimeoutH11Protocol", (_ReadTimeoutH11,), {"read_timeout": read_timeout_seconds})


class SettingsReadTimeoutH11(_ReadTimeoutH11):
    """The read deadline of the environment's settings: what ``gateway serve --workers N`` names by its import
    path, since uvicorn's worker processes receive the server's options pickled (a class made at run time by
    ``http_protocol`` cannot be)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = _settings_read_timeout()


@functools.cache
def _settings_read_timeout() -> float:
    return Settings().http_request_read_timeout_seconds


def server_options(settings: Settings, *, workers: int = 1) -> dict[str, Any]:
    """``uvicorn.run`` / ``uvicorn.Config`` keyword arguments of ``gateway serve`` (besides app, host, port).

    h11 rather than httptools: h11 refuses a request head over ``h11_max_incomplete_event_size`` where httptools
    keeps buffering it, and our protocol adds the read deadline to it."""
    protocol: Any = (
        http_protocol(settings.http_request_read_timeout_seconds)
        if workers == 1
        else f"{__name__}:{SettingsReadTimeoutH11.__qualname__}"
    )
    return {
        "http": protocol,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
        "timeout_keep_alive": settings.http_keep_alive_timeout_seconds,
        "limit_concurrency": settings.http_limit_concurrency,
        "timeout_graceful_shutdown": settings.http_graceful_shutdown_seconds,
        "log_level": settings.log_level.lower(),
        "proxy_headers": True,  # the client address from X-Forwarded-For, from trusted proxies only
        "server_header": False,
        # A WebSocket message (a subscription's document) is bounded like a POST body; uvicorn's default is 16 MiB.
        "ws_max_size": settings.graphql_max_body_bytes,
    }
