"""The web page's OpenID Connect sign-in against a small issuer started inside the tests (``oidc_issuer``): the
authorization code flow with PKCE, state and nonce checked, the broker's errors shown as a page, the session
ending with the token, and the page's GraphQL calls made with the broker's access token, which the gateway
verifies with the issuer's JWKS. In production the development sign-in does not exist."""

from __future__ import annotations

import html
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

import web.session
from adapters.simserver import ThreadedServer
from tests.conftest import ANNA, GENEROUS_TIMEOUT_SECONDS, Api, build_api, http_client
from tests.web.oidc_issuer import CLIENT_ID, CLIENT_SECRET, Behaviour, OidcIssuer

PAGE = "http://127.0.0.1:8000"
CALLBACK = f"{PAGE}/log-ind/mitid/callback"


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    state = OidcIssuer()
    server = ThreadedServer(state.app()).start()
    state.issuer = server.url
    try:
        yield state
    finally:
        server.stop()


def oidc_settings(issuer: OidcIssuer) -> dict[str, object]:
    """The gateway verifies tokens with the issuer's JWKS (so there is no local HS256 key, and no development
    sign-in), and the page signs citizens in there."""
    return {
        "auth_jwks_url": f"{issuer.issuer}/jwks",
        "auth_issuer": issuer.issuer,
        "identity_pseudonym_key": "test-pseudonym-key",
        "web_session_secret": "test-web-session-secret",
        "web_oidc_issuer": issuer.issuer,
        "web_oidc_client_id": CLIENT_ID,
        "web_oidc_client_secret": CLIENT_SECRET,
        "web_oidc_redirect_url": CALLBACK,
    }


@dataclass
class Flow:
    page: httpx.AsyncClient  # the browser at the gateway (cookies kept, redirects not followed)
    broker: httpx.AsyncClient  # the browser at the issuer

    async def to_broker(self) -> httpx.Response:
        """Press "Log ind med MitID": the page sends the browser to the broker."""
        start = await self.page.get("/log-ind/mitid")
        assert start.status_code == 303, start.text
        return start

    async def sign_in(self) -> httpx.Response:
        """The whole round trip: the broker signs the citizen in at once and sends the browser back."""
        start = await self.to_broker()
        back = await self.broker.get(start.headers["location"])
        assert back.status_code == 302, back.text
        return await self.page.get(back.headers["location"])


@pytest.fixture
async def flow(
    issuer: OidcIssuer, migrated: str, gaeldst_sim: ThreadedServer, api: Api
) -> AsyncIterator[tuple[Flow, Api]]:
    issuer.behaviour = Behaviour()
    async with (
        build_api(migrated, gaeldst_sim, **oidc_settings(issuer)) as own,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=own.app, client=("127.0.0.1", 50000)), base_url=PAGE
        ) as page,
        http_client(timeout=GENEROUS_TIMEOUT_SECONDS) as broker,
    ):
        yield Flow(page, broker), own


async def test_a_citizen_signs_in_with_the_broker_and_sees_her_overview(
    flow: tuple[Flow, Api], issuer: OidcIssuer
) -> None:
    f, _ = flow
    sign_in_page = await f.page.get("/log-ind")
    assert 'href="/log-ind/mitid"' in sign_in_page.text
    assert "/log-ind/udvikling" not in sign_in_page.text  # no local key: no development sign-in

    start = await f.to_broker()
    location = urlsplit(start.headers["location"])
    asked = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{issuer.issuer}/authorize"
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == CALLBACK and set(asked["scope"].split()) == {"openid", "profile"}
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert len(asked["state"]) >= 20 and len(asked["nonce"]) >= 20
    flow_cookie = start.headers["set-cookie"]
    assert "mbo_oidc=" in flow_cookie and "HttpOnly" in flow_cookie and "Path=/log-ind/mitid" in flow_cookie
    assert asked["state"] not in flow_cookie and asked["nonce"] not in flow_cookie  # encrypted

    back = await f.broker.get(start.headers["location"])
    callback = await f.page.get(back.headers["location"])
    assert callback.status_code == 303 and callback.headers["location"] == "/", callback.text
    # The token request carried the verifier of the challenge (the issuer checked it) and the client's secret.
    assert (
        issuer.token_requests[-1]["code_verifier"] and issuer.token_requests[-1]["grant_type"] == "authorization_code"
    )

    overview = await f.page.get("/")
    assert overview.status_code == 200, overview.text
    # Her name and CPR come from the API, called with the broker's access token (verified by the issuer's JWKS).
    assert "Anna Jensen" in overview.text and "150780-4321" in overview.text
    assert "RK-DAG-2025-0412" in overview.text


async def test_the_session_ends_when_the_brokers_token_does(
    flow: tuple[Flow, Api], issuer: OidcIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    f, _ = flow
    issuer.behaviour = Behaviour(token_lifetime_seconds=60)
    assert (await f.sign_in()).status_code == 303
    assert (await f.page.get("/")).status_code == 200
    # The token's minute passes on the sessions' clock (moved, not waited for: a token of a second or two ran out
    # before a busy machine had shown the first page).
    later = time.time() + 61
    monkeypatch.setattr(web.session, "time", SimpleNamespace(time=lambda: later))
    page = await f.page.get("/")
    assert page.status_code == 303 and page.headers["location"].startswith("/log-ind")


async def test_the_brokers_error_is_shown_as_a_page(flow: tuple[Flow, Api], issuer: OidcIssuer) -> None:
    f, _ = flow
    issuer.behaviour = Behaviour(error="access_denied")
    failed = await f.sign_in()
    assert failed.status_code == 400
    assert "Login blev afbrudt hos MitID" in failed.text and "Brugeren afbrød login" in failed.text
    assert 'href="/log-ind"' in failed.text
    assert "mbo_oidc=" in failed.headers["set-cookie"] and "Max-Age=0" in failed.headers["set-cookie"]
    assert (await f.page.get("/")).status_code == 303  # not signed in


async def test_state_nonce_and_the_code_are_checked(flow: tuple[Flow, Api], issuer: OidcIssuer) -> None:
    f, _ = flow
    # A callback with a state the page never sent (someone else's code pushed into this browser): refused.
    start = await f.to_broker()
    back = await f.broker.get(start.headers["location"])
    forged = back.headers["location"].replace("state=", "state=forged")
    refused = await f.page.get(forged)
    assert refused.status_code == 400 and "Login kunne ikke gennemføres" in refused.text

    # The flow's cookie is gone after any callback: the genuine redirect cannot be used afterwards either.
    replay = await f.page.get(back.headers["location"])
    assert replay.status_code == 400

    # An ID token whose nonce is not the one asked for: refused.
    issuer.behaviour = Behaviour(wrong_nonce=True)
    wrong_nonce = await f.sign_in()
    assert wrong_nonce.status_code == 400 and "Login kunne ikke gennemføres" in wrong_nonce.text

    # A code used twice (the page's flow started afresh, the broker's code replayed): the broker refuses it.
    issuer.behaviour = Behaviour()
    start = await f.to_broker()
    back = await f.broker.get(start.headers["location"])
    assert (await f.page.get(back.headers["location"])).status_code == 303
    again = await f.to_broker()
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    state = parse_qs(urlsplit(again.headers["location"]).query)["state"][0]
    reused = await f.page.get(f"/log-ind/mitid/callback?code={code}&state={state}")
    assert reused.status_code == 400
    assert issuer.token_requests[-1]["code"] == code


async def test_an_unreachable_broker_is_a_clear_page(migrated: str, gaeldst_sim: ThreadedServer, api: Api) -> None:
    dead = "http://127.0.0.1:9"
    settings = {**oidc_settings(OidcIssuer(issuer=dead)), "auth_jwks_url": f"{dead}/jwks"}
    async with (
        build_api(migrated, gaeldst_sim, **settings) as own,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=own.app), base_url=PAGE) as page,
    ):
        failed = await page.get("/log-ind/mitid")
        assert failed.status_code == 502 and "Login-tjenesten kan ikke kontaktes" in failed.text


async def test_in_production_there_is_no_development_sign_in(
    issuer: OidcIssuer, migrated: str, gaeldst_sim: ThreadedServer, api: Api
) -> None:
    production = {
        **oidc_settings(issuer),
        "environment": "production",
        "payments_webhook_secret": "a-production-webhook-secret",
    }
    async with (
        build_api(migrated, gaeldst_sim, **production) as own,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=own.app), base_url="https://mit.randers.dk") as page,
    ):
        sign_in = await page.get("/log-ind")
        assert 'href="/log-ind/mitid"' in sign_in.text and "demoborger" not in sign_in.text.lower()
        assert (await page.post("/log-ind/udvikling", data={"cpr": ANNA})).status_code in (403, 404)
        start = await page.get("/log-ind/mitid")
        assert start.status_code == 303 and start.headers["location"].startswith(f"{issuer.issuer}/authorize?")
        assert "Secure" in start.headers["set-cookie"]


async def test_after_signing_in_with_the_broker_the_citizen_comes_back_to_the_page_she_asked_for(
    flow: tuple[Flow, Api],
) -> None:
    f, _ = flow
    link = "/betal?krav=abc,def"
    asked = await f.page.get(link)
    assert asked.headers["location"] == "/log-ind?naeste=%2Fbetal%3Fkrav%3Dabc%2Cdef"
    sign_in_page = await f.page.get(asked.headers["location"])
    button = re.search(r'href="/log-ind/mitid\?naeste=([^"]+)"', sign_in_page.text)
    assert button and unquote(html.unescape(button.group(1))) == link
    start = await f.page.get("/log-ind/mitid?naeste=%2Fbetal%3Fkrav%3Dabc%2Cdef")
    assert link not in start.headers["set-cookie"]  # the flow cookie is encrypted
    back = await f.broker.get(start.headers["location"])
    callback = await f.page.get(back.headers["location"])
    assert callback.status_code == 303 and callback.headers["location"] == link, callback.text
