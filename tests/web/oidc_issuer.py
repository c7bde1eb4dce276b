"""A small OpenID Connect issuer for the tests, standing in for the municipality's identity broker: discovery,
JWKS, an authorization endpoint that signs in a configured citizen at once (no MitID screens), and a token
endpoint that checks the client's secret, the redirect URI and the PKCE verifier (S256), each code once.

It signs with an RSA key of its own; the gateway under test verifies the access tokens with this issuer's JWKS
(``GATEWAY_AUTH_JWKS_URL``), so the page's GraphQL calls with them work end to end. ``behaviour`` makes it
misbehave the ways a test needs: the broker's own error, an ID token with another nonce, a short-lived token.
Served over real HTTP by ``adapters.simserver.ThreadedServer``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "mit-betalingsoverblik-web"
CLIENT_SECRET = "test-client-secret"
KEY_ID = "test-issuer-key-1"


@dataclass
class Behaviour:
    cpr: str = "1507804321"
    name: str = "Anna Jensen"
    api_audience: str = "mit-betalingsoverblik"
    token_lifetime_seconds: int = 600
    error: str | None = None  # the authorization endpoint answers with this error (e.g. access_denied)
    wrong_nonce: bool = False  # the ID token carries another nonce than the one asked for


@dataclass
class _Code:
    nonce: str | None
    challenge: str
    redirect_uri: str
    behaviour: Behaviour


@dataclass
class OidcIssuer:
    """The issuer's state; ``app(base_url)`` serves it. ``issuer`` is set once the server knows its port."""

    issuer: str = ""
    behaviour: Behaviour = field(default_factory=Behaviour)
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    codes: dict[str, _Code] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KEY_ID})

    def app(self) -> Starlette:
        async def discovery(_: Request) -> Response:
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                    "scopes_supported": ["openid", "profile"],
                }
            )

        async def jwks(_: Request) -> Response:
            return JSONResponse(self.jwks())

        async def authorize(request: Request) -> Response:
            q = request.query_params
            if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
                return JSONResponse({"error": "invalid_request", "error_description": "PKCE required"}, status_code=400)
            if "openid" not in (q.get("scope") or "").split():
                return JSONResponse({"error": "invalid_scope"}, status_code=400)
            redirect_uri = q["redirect_uri"]
            behaviour = self.behaviour
            if behaviour.error is not None:
                params = {"error": behaviour.error, "error_description": "Brugeren afbrød login", "state": q["state"]}
                return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", status_code=302)
            code = secrets.token_urlsafe(24)
            self.codes[code] = _Code(q.get("nonce"), q["code_challenge"], redirect_uri, behaviour)
            return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': q['state']})}", status_code=302)

        async def token(request: Request) -> Response:
            form = {k: str(v) for k, v in (await request.form()).items()}
            self.token_requests.append(form)
            client_id, client_secret = _client_credentials(request, form)
            if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            issued = self.codes.pop(form.get("code", ""), None)  # each code once
            if form.get("grant_type") != "authorization_code" or issued is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            if form.get("redirect_uri") != issued.redirect_uri:
                return JSONResponse({"error": "invalid_grant", "error_description": "redirect_uri"}, status_code=400)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if not verifier or challenge != issued.challenge:
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, status_code=400)
            b = issued.behaviour
            now = int(time.time())
            exp = now + b.token_lifetime_seconds
            subject = "mitid-" + hashlib.sha256(b.cpr.encode()).hexdigest()[:20]
            access = self.sign(
                {"iss": self.issuer, "aud": b.api_audience, "sub": subject, "cpr": b.cpr, "name": b.name}
                | {"iat": now, "exp": exp}
            )
            nonce = "another-nonce" if b.wrong_nonce else issued.nonce
            id_token = self.sign(
                {"iss": self.issuer, "aud": CLIENT_ID, "sub": subject, "name": b.name, "nonce": nonce}
                | {"iat": now, "exp": exp, "auth_time": now}
            )
            body = {"access_token": access, "id_token": id_token, "token_type": "Bearer"}
            return JSONResponse(body | {"expires_in": b.token_lifetime_seconds})

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
            ]
        )


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """client_secret_basic (Authlib's default) or client_secret_post."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        raw = base64.b64decode(header[6:]).decode()
        client_id, _, secret = raw.partition(":")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")
