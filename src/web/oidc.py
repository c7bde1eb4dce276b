"""OpenID Connect sign-in for production: the authorization code flow with PKCE (S256) against the municipality's
identity broker (MitID through it), with Authlib's Starlette client (discovery, the authorization request, the
token request with the code verifier, and the ID token's signature, issuer, audience, expiry and nonce).

Settings (``GATEWAY_WEB_OIDC_*``, docs/web.md "OpenID Connect"): the broker's issuer URL (its discovery document
at ``/.well-known/openid-configuration``) or the discovery URL itself, the client id and secret, the redirect
URL (default ``<public URL>/log-ind/mitid/callback``) and the scopes. Without an issuer and a client id the
routes do not exist.

The flow's secrets (state, nonce, code verifier) live between the redirect and the callback in a cookie of their
own, ``mbo_oidc``: encrypted like the session cookie (Fernet, its own key), ``HttpOnly``, ``SameSite=Lax`` (the
broker's redirect back is a top-level GET, which Lax lets through), ``Path=/log-ind/mitid``, ten minutes, and
gone after the callback whatever its outcome. Authlib reads and writes them in ``request.session``, which the
routes point at that cookie's content (the page's own session is not Starlette's).

The API token of the session is the broker's **access token** (issued for the API's audience, with the citizen's
CPR; the gateway verifies it against the broker's JWKS like any client's token). The session ends when it
expires (its ``exp``, or ``expires_in``). Whatever goes wrong — the broker's own error (the citizen cancelled),
a state that does not match, an ID token that does not verify, a broker that cannot be reached — the citizen gets
a page that says so in words and offers to try again; the details go to the log, never a token or a CPR.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx
import jwt
import structlog
from authlib.deprecate import AuthlibDeprecationWarning
from cryptography.fernet import InvalidToken
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.settings import Settings
from web import session

with warnings.catch_warnings():
    # Authlib asks for the httpx2 fork and warns at import when it finds httpx instead, which the whole gateway
    # uses and Authlib still supports (its own fallback): one HTTP client library, and no warning at every start.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, OAuthError

log = structlog.get_logger(__name__)

START_PATH: Final = "/log-ind/mitid"
CALLBACK_PATH: Final = "/log-ind/mitid/callback"
FLOW_COOKIE: Final = "mbo_oidc"
FLOW_TTL_SECONDS: Final = 600

# What the citizen reads when a sign-in fails (translated by the page's i18n), by what went wrong.
CANCELLED = "Login blev afbrudt hos MitID. Du er ikke logget ind."
REFUSED = "Login kunne ikke gennemføres. Du er ikke logget ind."
UNAVAILABLE = "Login-tjenesten kan ikke kontaktes lige nu. Prøv igen om lidt."

ErrorPage = Callable[[Request, str, str | None, int], Response]


@dataclass(frozen=True)
class OidcConfig:
    metadata_url: str
    client_id: str
    client_secret: str | None
    redirect_url: str
    scopes: str

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        issuer = settings.web_oidc_issuer
        metadata_url = settings.web_oidc_discovery_url or (
            f"{issuer.rstrip('/')}/.well-known/openid-configuration" if issuer else None
        )
        if metadata_url is None or not settings.web_oidc_client_id:
            return None
        secret = settings.web_oidc_client_secret
        return cls(
            metadata_url=metadata_url,
            client_id=settings.web_oidc_client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            redirect_url=settings.web_oidc_redirect_url or f"{settings.public_url.rstrip('/')}{CALLBACK_PATH}",
            scopes=settings.web_oidc_scopes,
        )


class OidcSignIn:
    """The two routes: ``start`` sends the citizen to the broker, ``callback`` signs them in when they return."""

    def __init__(self, config: OidcConfig, secret: str, error_page: ErrorPage) -> None:
        self.config = config
        self.error_page = error_page
        self._fernet = session.fernet_for("oidc-flow:" + secret)  # a key of its own, not the session's
        oauth = OAuth()
        oauth.register(
            "broker",
            client_id=config.client_id,
            client_secret=config.client_secret,
            server_metadata_url=config.metadata_url,
            client_kwargs={"scope": config.scopes, "code_challenge_method": "S256", "timeout": 10.0},
        )
        self.client: Any = oauth.create_client("broker")

    async def start(self, request: Request) -> Response:
        # Where Authlib keeps state, nonce and code verifier; and where to go after signing in.
        flow: dict[str, Any] = {session.NEXT_FIELD: session.safe_next(request.query_params.get(session.NEXT_FIELD))}
        request.scope["session"] = flow
        try:
            response = await self.client.authorize_redirect(request, self.config.redirect_url)
        except (httpx.HTTPError, OAuthError, ValueError) as exc:  # no discovery document
            log.warning("oidc.discovery_failed", error=type(exc).__name__)
            return self.error_page(request, UNAVAILABLE, None, 502)
        redirect = RedirectResponse(response.headers["location"], status_code=303)
        redirect.set_cookie(
            FLOW_COOKIE,
            self._fernet.encrypt(json.dumps(flow).encode()).decode(),
            max_age=FLOW_TTL_SECONDS,
            path=START_PATH,
            httponly=True,
            samesite="lax",
            secure=session.cookie_secure(request),
        )
        return redirect

    def _flow(self, request: Request) -> dict[str, Any]:
        raw = request.cookies.get(FLOW_COOKIE)
        if not raw:
            return {}
        try:
            data = json.loads(self._fernet.decrypt(raw.encode(), ttl=FLOW_TTL_SECONDS))
        except (InvalidToken, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    async def callback(self, request: Request) -> Response:
        flow = request.scope["session"] = self._flow(request)
        response = await self._sign_in(request, session.safe_next(flow.get(session.NEXT_FIELD)))
        response.delete_cookie(FLOW_COOKIE, path=START_PATH, secure=session.cookie_secure(request), httponly=True)
        return response

    async def _sign_in(self, request: Request, target: str) -> Response:
        broker_error = request.query_params.get("error")
        try:
            token = await self.client.authorize_access_token(request)
        except OAuthError as exc:  # the broker's error, a state that is not ours, a refused token request
            log.info("oidc.refused", error=exc.error, broker_error=broker_error)
            if broker_error:
                return self.error_page(request, CANCELLED, request.query_params.get("error_description"), 400)
            return self.error_page(request, REFUSED, None, 400)
        except JoseError as exc:  # the ID token: signature, issuer, audience, expiry, nonce
            log.warning("oidc.id_token_refused", error=type(exc).__name__)
            return self.error_page(request, REFUSED, None, 400)
        except httpx.HTTPError as exc:
            log.warning("oidc.broker_unavailable", error=type(exc).__name__)
            return self.error_page(request, UNAVAILABLE, None, 502)
        access_token = token.get("access_token")
        userinfo = token.get("userinfo")
        if not isinstance(access_token, str) or userinfo is None:
            log.warning("oidc.incomplete_token_response", id_token="id_token" in token)
            return self.error_page(request, REFUSED, None, 400)
        expires_at = _expiry(access_token, token.get("expires_at"))
        if expires_at is None or expires_at <= time.time():
            log.warning("oidc.token_without_future_expiry")
            return self.error_page(request, REFUSED, None, 400)
        name = userinfo.get("name")
        session.begin(request, access_token, expires_at, name if isinstance(name, str) else None)
        log.info("oidc.signed_in")
        return RedirectResponse(target, status_code=303)


def _expiry(access_token: str, expires_at: object) -> int | None:
    """When the session must end: the access token's own ``exp`` when it is a JWT (the API verifies that one),
    else the token response's ``expires_in`` (as Authlib's ``expires_at``)."""
    try:
        exp = jwt.decode(access_token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        exp = None
    if isinstance(exp, int | float):
        return int(exp)
    return int(expires_at) if isinstance(expires_at, int | float) else None
