"""Bearer-token authentication: JWTs verified with PyJWT against the configured issuer and audience.

Keys: a JWKS URL (production; keys fetched and cached by PyJWT's ``PyJWKClient``), a PEM public key, or
an HS256 secret (development). Symmetric and asymmetric algorithms are never mixed for one key, so an
attacker cannot sign with a public key as an HMAC secret; ``alg: none`` is never accepted.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
from starlette.concurrency import run_in_threadpool

from gateway.domain.cpr import Cpr, InvalidCpr
from gateway.domain.viewers import Anonymous, CaseworkerViewer, CitizenViewer, Viewer
from gateway.settings import Settings

ASYMMETRIC = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")


class AuthError(Exception):
    """The token is missing, malformed, expired, for another audience, or badly signed."""


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True) if settings.auth_jwks_url else None

    async def _key_and_algorithms(self, token: str) -> tuple[Any, list[str]]:
        s = self.settings
        if self._jwks is not None:
            jwks = self._jwks
            try:
                signing_key = await run_in_threadpool(jwks.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientError as exc:
                raise AuthError("no matching signing key") from exc
            return signing_key.key, [a for a in s.auth_algorithms if a in ASYMMETRIC]
        if s.auth_public_key:
            return s.auth_public_key, [a for a in s.auth_algorithms if a in ASYMMETRIC]
        secret = s.signing_secret
        if secret is None:
            raise AuthError("no verification key configured")
        return secret, ["HS256"]

    async def verify(self, authorization: str | None) -> Viewer:
        if not authorization:
            return Anonymous()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("not a bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        if str(header.get("alg", "")).lower() == "none":
            raise AuthError("unsigned token")
        key, algorithms = await self._key_and_algorithms(token)
        s = self.settings
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=s.auth_audience,
                issuer=s.auth_issuer,
                leeway=s.auth_leeway_seconds,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(type(exc).__name__) from exc
        return self.viewer_from_claims(claims)

    def viewer_from_claims(self, claims: dict[str, Any]) -> Viewer:
        s = self.settings
        raw_roles = claims.get("roles", claims.get("role", []))
        roles = [raw_roles] if isinstance(raw_roles, str) else raw_roles if isinstance(raw_roles, list) else []
        if any(role == s.auth_caseworker_role for role in roles):  # exact match, never a substring
            return CaseworkerViewer(caseworker_id=str(claims["sub"]), name=claims.get("name"))
        cpr = claims.get(s.auth_cpr_claim)
        if not isinstance(cpr, str):
            raise AuthError("token has neither a CPR nor a caseworker role")
        try:
            return CitizenViewer(cpr=Cpr(cpr), subject=str(claims["sub"]))
        except InvalidCpr as exc:
            raise AuthError("token carries an invalid CPR") from exc


def issue_token(
    settings: Settings,
    *,
    citizen_cpr: str | None = None,
    caseworker_id: str | None = None,
    name: str | None = None,
    ttl_seconds: int | None = None,
) -> str:
    """Sign a development token with the local HS256 key (``gateway token``; tests)."""
    secret = settings.signing_secret
    if secret is None:
        raise RuntimeError("tokens can only be issued with a local signing key (GATEWAY_AUTH_SECRET)")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "iat": now,
        "exp": now + (ttl_seconds or settings.auth_token_ttl_seconds),
    }
    if caseworker_id is not None:
        claims |= {"sub": caseworker_id, "role": settings.auth_caseworker_role}
        if name:
            claims["name"] = name
    elif citizen_cpr is not None:
        cpr = Cpr(citizen_cpr)
        # The subject is an opaque pseudonym, as an identity broker would issue: never the CPR itself.

        claims |= {
            "sub": "mitid-" + hashlib.sha256(("sub:" + cpr.value).encode()).hexdigest()[:24],
            settings.auth_cpr_claim: cpr.value,
        }
    else:
        raise ValueError("a citizen CPR or a caseworker id is required")
    return jwt.encode(claims, secret, algorithm="HS256")
