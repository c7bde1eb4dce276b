"""The web page's only way to the data: GraphQL over HTTP, with the signed-in citizen's bearer token.

Where the requests go (``GATEWAY_WEB_API_URL``):
- unset (the default): the gateway app that serves the page, in-process, through httpx's ASGI transport. The
  request still passes the whole HTTP edge (body limits, auth, rate limits, cost, the response cache) exactly as
  any client's would; it only saves the network hop and a second server. The browser's address is passed on as the
  request's client address, so anonymous requests (the contact page) are rate-limited per visitor, not together.
- a URL: that gateway over the network (e.g. a page served apart from the API).

Every operation is one of the page's named documents (``web.documents``); nothing else is ever sent.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from web import live
from web.documents import Documents

# The browser's address for the request being served (the in-process transport passes it on).
_client_address: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar(
    "web_client_address", default=None
)


def set_client_address(address: tuple[str, int] | None) -> None:
    _client_address.set(address)


class _WithClientAddress:
    """The gateway app, seen with the browser's address as the client (httpx's ASGI transport has one fixed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (address := _client_address.get()) is not None:
            scope = {**scope, "client": address}
        await self.app(scope, receive, send)


@dataclass
class UserError:
    code: str
    field: list[str] | None
    message: str

    @property
    def field_name(self) -> str | None:
        """The input field it is about (the last path element), e.g. ``monthlyAmount``."""
        return self.field[-1] if self.field else None


@dataclass
class Result:
    data: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)

    def codes(self) -> set[str]:
        return {str((e.get("extensions") or {}).get("code", "")) for e in self.errors}


class ApiError(Exception):
    """The API answered with an error for the whole request (or not at all)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


class SignedOut(ApiError):
    """The token was refused (expired, revoked): the session is over."""


class Api:
    def __init__(self, client: httpx.AsyncClient, documents: Documents, websockets: live.Connector) -> None:
        self.client = client
        self.documents = documents
        self.websockets = websockets

    @classmethod
    def in_process(cls, app: ASGIApp, documents: Documents) -> Api:
        transport = httpx.ASGITransport(app=_WithClientAddress(app))
        client = httpx.AsyncClient(transport=transport, base_url="http://gateway.internal", timeout=30.0)
        return cls(client, documents, live.in_process(app, _client_address.get))

    @classmethod
    def remote(cls, base_url: str, documents: Documents) -> Api:
        client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=30.0)
        return cls(client, documents, live.over_network(base_url))

    async def aclose(self) -> None:
        await self.client.aclose()

    async def run(
        self, operation: str, variables: dict[str, Any] | None = None, *, token: str | None, language: str
    ) -> Result:
        """Run one of the page's documents. Field errors come back in ``Result.errors`` next to the data (e.g.
        Gældsstyrelsen could not be asked); a request that was refused as a whole raises."""
        headers = {"Accept": "application/json", "Accept-Language": language}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = self.documents.request_body(operation, variables or {})
        try:
            response = await self.client.post("/graphql", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiError("UNAVAILABLE", type(exc).__name__) from exc
        try:
            payload = response.json()
        except ValueError as exc:
            raise ApiError("UNAVAILABLE", f"HTTP {response.status_code}") from exc
        errors = payload.get("errors") or []
        data = payload.get("data")
        codes = [str((e.get("extensions") or {}).get("code", "")) for e in errors]
        if "UNAUTHENTICATED" in codes:
            raise SignedOut("UNAUTHENTICATED")
        if data is None:
            raise ApiError(
                codes[0] if codes else f"HTTP {response.status_code}", errors[0]["message"] if errors else ""
            )
        return Result(data, errors)

    async def subscribe(
        self, operation: str, variables: dict[str, Any], *, token: str, language: str
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Each event's data of one of the page's subscription documents, over WebSocket (``web.live``), until the
        API completes it. A refused or expired token raises :class:`SignedOut`; anything else that ends it early
        raises :class:`ApiError`."""
        body = self.documents.request_body(operation, variables)
        try:
            async for data in live.subscribe(self.websockets, body, token=token, language=language):
                yield data
        except live.Closed as exc:
            if exc.code == live.FORBIDDEN:
                raise SignedOut("UNAUTHENTICATED") from exc
            raise ApiError("UNAVAILABLE", f"WebSocket closed {exc.code}") from exc
        except live.SubscriptionError as exc:
            raise ApiError(exc.code) from exc
        except (TimeoutError, ValueError, KeyError) as exc:  # no acknowledgement, or not the protocol
            raise ApiError("UNAVAILABLE", type(exc).__name__) from exc


def user_errors(payload: dict[str, Any]) -> list[UserError]:
    return [UserError(e["code"], e.get("field"), e["message"]) for e in payload.get("userErrors") or []]
