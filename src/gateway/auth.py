"""Bearer-token authentication: JWTs verified with PyJWT against the configured issuer and audience.

Keys: a JWKS URL (production; keys fetched and cached by PyJWT's ``PyJWKClient``), a PEM public key, or
an HS256 secret (development). Symmetric and asymmetric algorithms are never mixed for one key, so an
attacker cannot sign with a public key as an HMAC secret; ``alg: none`` is never accepted.

Policy (issue 11): a token is one person — a citizen (a CPR) or a caseworker (the role), never both; with
``GATEWAY_AUTH_STAFF_ISSUER``/``_AUDIENCE`` set, caseworkers come only from the staff issuer and audience and
citizens only from the citizens' ones; no token lives longer than ``GATEWAY_AUTH_MAX_TOKEN_LIFETIME_SECONDS``.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
from starlette.concurrency import run_in_threadpool

from gateway.domain.cpr import Cpr, InvalidCpr
from gateway.domain.viewers import (
    Anonymous,
    CaseworkerPermission,
    CaseworkerViewer,
    CitizenViewer,
    Viewer,
    citizen_pseudonym,
)
from gateway.settings import Settings

ASYMMETRIC = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")


class AuthError(Exception):
    """The token is missing, malformed, expired, for another audience, or badly signed."""


MAX_NAME_LENGTH = 200


def staff_issuer_and_audience(settings: Settings) -> tuple[str, str] | None:
    """The issuer and audience of caseworkers' tokens, if they differ from the citizens' (else None)."""
    staff = (settings.auth_staff_issuer or settings.auth_issuer, settings.auth_staff_audience or settings.auth_audience)
    return staff if staff != (settings.auth_issuer, settings.auth_audience) else None


def pseudonym_key(settings: Settings) -> bytes:
    if settings.identity_pseudonym_key is not None:
        return settings.identity_pseudonym_key.get_secret_value().encode()
    if settings.signing_secret is not None:
        return settings.signing_secret.encode()
    raise RuntimeError("GATEWAY_IDENTITY_PSEUDONYM_KEY is required when tokens are not verified with an HS256 key")


def caseworker_permissions(settings: Settings, roles: list[Any]) -> frozenset[CaseworkerPermission]:
    """What a token's roles allow a caseworker (exact matches, never a substring; other roles add nothing). The
    acting role includes reading: acting on a citizen's behalf means looking at what one acts on. The plain
    caseworker role is the acting one (tokens from before the split). No known role: not a caseworker."""
    granted: set[CaseworkerPermission] = set()
    for role in roles:
        if role in (settings.auth_caseworker_role, settings.auth_caseworker_act_role):
            granted |= {CaseworkerPermission.READ, CaseworkerPermission.ACT}
        elif role == settings.auth_caseworker_read_role:
            granted.add(CaseworkerPermission.READ)
    return frozenset(granted)


def _has_audience(claims: dict[str, Any], audience: str) -> bool:
    aud = claims.get("aud")
    return aud == audience or (isinstance(aud, list) and audience in aud)


def token_expiry(authorization: str) -> float | None:
    """The ``exp`` of a bearer token that ``TokenVerifier.verify`` has accepted (read without verifying again):
    what a long-lived connection or a web session must not outlive."""
    _, _, token = authorization.partition(" ")
    try:
        exp = jwt.decode(token.strip(), options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) if isinstance(exp, int | float) else None


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True) if settings.auth_jwks_url else None
        self._pseudonym_key = pseudonym_key(settings)  # at start-up: a missing key is a configuration error
        self._staff = staff_issuer_and_audience(settings)

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
        staff = self._is_staff_token(token)
        issuer, audience = self._staff if staff and self._staff else (s.auth_issuer, s.auth_audience)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=audience,
                issuer=issuer,
                leeway=s.auth_leeway_seconds,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(type(exc).__name__) from exc
        self._check_lifetime(claims)
        return self.viewer_from_claims(claims, staff=staff if self._staff else None)

    def _is_staff_token(self, token: str) -> bool:
        """Whether the token says it is for the staff issuer and audience (checked for real by ``jwt.decode``)."""
        if self._staff is None:
            return False
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        issuer, audience = self._staff
        return unverified.get("iss") == issuer and _has_audience(unverified, audience)

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """No token lives longer than the cap: counted from ``iat`` (else ``nbf``), and from now."""
        s = self.settings
        cap = s.auth_max_token_lifetime_seconds + s.auth_leeway_seconds
        now = time.time()
        start = next((claims[c] for c in ("iat", "nbf") if isinstance(claims.get(c), int | float)), now)
        if claims["exp"] - start > cap or claims["exp"] - now > cap:
            raise AuthError("token lives longer than allowed")

    def viewer_from_claims(self, claims: dict[str, Any], *, staff: bool | None = None) -> Viewer:
        """The person a verified token stands for. ``staff``: whether it came from the staff issuer and audience
        (None when they are not configured apart: then either kind of token is accepted from the one issuer)."""
        s = self.settings
        raw_roles = claims.get("roles", claims.get("role", []))
        roles = [raw_roles] if isinstance(raw_roles, str) else raw_roles if isinstance(raw_roles, list) else []
        permissions = caseworker_permissions(s, roles)
        is_caseworker = bool(permissions)
        cpr = claims.get(s.auth_cpr_claim)
        if is_caseworker and cpr is not None:
            raise AuthError("token carries both a CPR and a caseworker role")
        if staff is not None and staff != is_caseworker:
            raise AuthError("a caseworker token from the citizens' issuer, or a citizen token from the staff issuer")
        name = claims.get("name")
        name = name.strip()[:MAX_NAME_LENGTH] if isinstance(name, str) and name.strip() else None
        if is_caseworker:
            unit = claims.get(s.auth_unit_claim)
            unit = unit.strip()[:MAX_NAME_LENGTH] if isinstance(unit, str) and unit.strip() else None
            return CaseworkerViewer(caseworker_id=str(claims["sub"]), name=name, permissions=permissions, unit=unit)
        if not isinstance(cpr, str):
            raise AuthError("token has neither a CPR nor a caseworker role")
        try:
            parsed = Cpr(cpr)
        except InvalidCpr as exc:
            raise AuthError("token carries an invalid CPR") from exc
        pseudonym = citizen_pseudonym(parsed, self._pseudonym_key)
        return CitizenViewer(cpr=parsed, subject=str(claims["sub"]), pseudonym=pseudonym, name=name)


def issue_token(
    settings: Settings,
    *,
    citizen_cpr: str | None = None,
    caseworker_id: str | None = None,
    name: str | None = None,
    ttl_seconds: int | None = None,
    read_only: bool = False,
    unit: str | None = None,
) -> str:
    """Sign a development token with the local HS256 key (``gateway token``; tests). Caseworkers' tokens are for
    the staff issuer and audience when those are configured; ``read_only`` gives the read-only role instead of the
    acting one (dashboards)."""
    secret = settings.signing_secret
    if secret is None:
        raise RuntimeError("tokens can only be issued with a local signing key (GATEWAY_AUTH_SECRET)")
    ttl = ttl_seconds or settings.auth_token_ttl_seconds
    if ttl > settings.auth_max_token_lifetime_seconds:
        raise ValueError(f"a token may live at most {settings.auth_max_token_lifetime_seconds} seconds")
    now = int(time.time())
    issuer, audience = settings.auth_issuer, settings.auth_audience
    if caseworker_id is not None and (staff := staff_issuer_and_audience(settings)) is not None:
        issuer, audience = staff
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "iat": now, "exp": now + ttl}
    if caseworker_id is not None:
        role = settings.auth_caseworker_read_role if read_only else settings.auth_caseworker_role
        claims |= {"sub": caseworker_id, "role": role}
        if name:
            claims["name"] = name
        if unit:
            claims[settings.auth_unit_claim] = unit
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
