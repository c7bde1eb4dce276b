"""Sessions of the web page: everything in one cookie, encrypted and signed, so any gateway process can serve any
request (nothing is kept in one process's memory; several ``gateway serve`` processes run in production).

The cookie holds the citizen's API token (a JWT that carries their CPR), so it is encrypted as well as signed:
Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``), keyed by HKDF from ``GATEWAY_WEB_SESSION_SECRET``.
Starlette's own ``SessionMiddleware`` only signs (the token would be readable in the cookie) and sets ``Secure``
once for all requests, while this one must leave it off for a loopback address in development only.

Cookie: ``HttpOnly``, ``SameSite=Lax``, ``Path=/``, ``Secure`` except for a loopback host in development. Every
visitor has a session (a signed-out one holds only the CSRF secret), so every form, the sign-in form too, carries
a CSRF token. ``begin`` starts a signed-in session (a new CSRF secret, against session fixation); ``end`` forgets
it. A session ends when its token does: once ``expires_at`` has passed, ``current`` treats it as signed out and
says so (``expired``).

Usage (routes, and the OIDC flow in ``web.oidc``)::

    session.begin(request, token, expires_at, name)   # after a successful sign-in
    session.end(request)                               # sign-out
    s = session.current(request)                       # s.signed_in, s.token, s.name, s.csrf_token
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import unquote_plus

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME: Final = "mbo_session"
CSRF_FIELD: Final = "csrf_token"
# A signed-out session (only a CSRF secret) is renewed after this long; a signed-in one lives as long as its token.
ANONYMOUS_TTL_SECONDS: Final = 12 * 3600
_VERSION: Final = 1


def fernet_for(secret: str) -> Fernet:
    """The cookie's key, derived from the configured secret (so the secret may be any length or alphabet)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mit-betalingsoverblik web session").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Session:
    """One visitor's session, as the cookie holds it."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token: str | None = None
    expires_at: int | None = None  # the token's expiry, seconds since the epoch
    name: str | None = None
    # The last few payments sent to the provider, oldest first, by the idempotency key of the form that started
    # each: the provider's return URL names the key, so coming back leads to that payment even when another one
    # was started in the meantime (a second tab).
    payments: dict[str, str] = field(default_factory=dict)
    expired: bool = False  # this request found a signed-in session whose token had run out
    dirty: bool = False  # the cookie must be written

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    @property
    def csrf_token(self) -> str:
        """The value every form carries in its hidden ``csrf_token`` field."""
        return self.csrf

    def to_cookie(self) -> dict[str, Any]:
        return {
            "v": _VERSION,
            "csrf": self.csrf,
            "token": self.token,
            "exp": self.expires_at,
            "name": self.name,
            "pays": list(self.payments.items()),
        }

    @classmethod
    def from_cookie(cls, data: Any) -> Session | None:
        if not isinstance(data, dict) or data.get("v") != _VERSION or not isinstance(data.get("csrf"), str):
            return None
        token, exp = data.get("token"), data.get("exp")
        if token is not None and not (isinstance(token, str) and isinstance(exp, int)):
            return None
        name, pay, pays = data.get("name"), data.get("pay"), data.get("pays")
        payments = {
            key: pid
            for key, pid in (p for p in (pays if isinstance(pays, list) else []) if isinstance(p, list) and len(p) == 2)
            if isinstance(key, str) and isinstance(pid, str)
        }
        if not payments and isinstance(pay, str):  # a cookie written before "pays": its one last payment
            payments[""] = pay
        return cls(
            csrf=data["csrf"],
            token=token,
            expires_at=exp,
            name=name if isinstance(name, str) else None,
            payments=payments,
        )


class SessionCookies:
    """Reads and writes the session cookie (one per web app, from its settings)."""

    def __init__(self, secret: str, *, development: bool) -> None:
        self._fernet = fernet_for(secret)
        self._development = development

    def load(self, conn: HTTPConnection) -> Session:
        raw = conn.cookies.get(COOKIE_NAME)
        session = None
        if raw:
            try:
                # The Fernet timestamp bounds how long any cookie is accepted, whatever it holds.
                plain = self._fernet.decrypt(raw.encode(), ttl=ANONYMOUS_TTL_SECONDS + 24 * 3600)
                session = Session.from_cookie(json.loads(plain))
            except (InvalidToken, ValueError):
                session = None
        if session is None:
            return Session(dirty=True)
        if session.token is not None and (session.expires_at or 0) <= time.time():
            # The token has run out: so has the session (a new CSRF secret, nothing of the old one kept).
            return Session(expired=True, dirty=True)
        return session

    def secure(self, conn: HTTPConnection) -> bool:
        """``Secure`` always, except for a loopback host in development (``make run`` is plain HTTP)."""
        return not (self._development and is_loopback_host(conn.url.hostname))

    def header(self, conn: HTTPConnection, session: Session) -> str:
        value = self._fernet.encrypt(json.dumps(session.to_cookie(), separators=(",", ":")).encode()).decode()
        if session.signed_in and session.expires_at is not None:
            max_age = max(0, session.expires_at - int(time.time()))
        else:
            max_age = ANONYMOUS_TTL_SECONDS
        parts = [f"{COOKIE_NAME}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
        if self.secure(conn):
            parts.append("Secure")
        return "; ".join(parts)


class SessionMiddleware:
    """Loads the session lazily (``current``) and writes the cookie with the response when it changed."""

    def __init__(self, app: ASGIApp, cookies: SessionCookies) -> None:
        self.app = app
        self.cookies = cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["session_cookies"] = self.cookies
        conn = HTTPConnection(scope)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                session: Session | None = scope["state"].get("session")
                if session is not None and session.dirty:
                    MutableHeaders(scope=message).append("Set-Cookie", self.cookies.header(conn, session))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def current(request: HTTPConnection) -> Session:
    """This request's session (loaded from the cookie once per request)."""
    state = request.scope.setdefault("state", {})
    session: Session | None = state.get("session")
    if session is None:
        session = state["session"] = state["session_cookies"].load(request)
    return session


def begin(request: HTTPConnection, token: str, expires_at: datetime | int, name: str | None) -> Session:
    """Start a signed-in session with the citizen's API token, until ``expires_at`` (the token's expiry)."""
    exp = int(expires_at.timestamp()) if isinstance(expires_at, datetime) else int(expires_at)
    session = Session(token=token, expires_at=exp, name=name, dirty=True)
    request.scope.setdefault("state", {})["session"] = session
    return session


def end(request: HTTPConnection) -> Session:
    """Sign out: a new signed-out session (a new CSRF secret) replaces the old one."""
    session = Session(dirty=True)
    request.scope.setdefault("state", {})["session"] = session
    return session


# How many payments the session remembers for the provider's return (a few tabs' worth; the cookie stays small).
REMEMBERED_PAYMENTS: Final = 5


def remember_payment(request: HTTPConnection, key: str, payment_id: str) -> None:
    """The payment the citizen is sent to the provider for, by its form's idempotency key: where
    ``/betaling/retur?noegle=<key>`` leads back to."""
    s = current(request)
    s.payments.pop(key, None)
    s.payments[key] = payment_id
    while len(s.payments) > REMEMBERED_PAYMENTS:
        del s.payments[next(iter(s.payments))]
    s.dirty = True


def returned_payment(request: HTTPConnection, key: str | None) -> str | None:
    """The payment the provider sends the citizen back from: the one started with ``key``, else the last one."""
    payments = current(request).payments
    last = next(reversed(payments.values()), None)
    return (payments.get(key) if key else None) or last


def cookie_secure(request: HTTPConnection) -> bool:
    """Whether this request's cookies get ``Secure`` (the language cookie follows the session cookie)."""
    cookies: SessionCookies = request.scope["state"]["session_cookies"]
    return cookies.secure(request)


def csrf_ok(request: Request, submitted: object) -> bool:
    """Whether a form's ``csrf_token`` matches the session's (compared in constant time)."""
    return isinstance(submitted, str) and hmac.compare_digest(submitted.encode(), current(request).csrf.encode())


# The form field and query parameter that carry where to go after signing in (or switching language).
NEXT_FIELD: Final = "naeste"


# Ten digits, perhaps with a hyphen or space after the sixth, and percent-encoded or not: CPR-shaped. The page's own
# paths never hold one (its ids are opaque), so a path that does is nowhere to go back to: the sign-in page's URL
# (``/log-ind?naeste=…``) would carry it into browser histories and proxies' logs. Its own check, not the gateway's
# ``gateway.domain.cpr``: the page is a client of the public API and imports nothing behind it (import-linter),
# and a path needs no date check (any ten digits are refused).
_CPR_SHAPED: Final = re.compile(r"(?<!\d)\d{6}[- ]?\d{4}(?!\d)")


def safe_next(value: object) -> str:
    """A local path to go back to (never another site: an open redirect; never one with a CPR number in it)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if len(value) > 2000 or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        return "/"
    decoded = value
    for _ in range(4):
        decoded = unquote_plus(decoded)
    if _CPR_SHAPED.search(decoded):
        return "/"
    return value
