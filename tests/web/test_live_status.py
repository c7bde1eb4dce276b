"""The payment page's live status (docs/web.md): the page's server subscribes to the API's ``paymentUpdated`` for
the signed-in citizen and relays each event to the browser as Server-Sent Events, which ``static/live.js`` shows
without a reload.

Through the ASGI app (both databases): what a stream says for a payment that is not the citizen's, an id that is
no payment's, a token the API refuses, and a signed-out visitor. Over real HTTP (the web tests' gateway with the
payment simulator): a payment followed from CREATED to CAPTURED as it happens, in-process and through a page served
apart from the API (``GATEWAY_WEB_API_URL``, a WebSocket over the network). The browser's side is in
``test_browser.py`` (``test_payment_page_shows_the_capture_live``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from adapters.simserver import ThreadedServer
from gateway.auth import issue_token
from gateway.settings import Settings
from resolvers.common import ids
from tests.api.test_payments_flow import START, click
from tests.conftest import ANNA, DAVID, Api, live_app
from tests.web.conftest import CSRF_RE, Browser, Site, free_port
from tests.web.test_web_routes import _cookie_value
from web import session

WAIT_SECONDS = 20.0  # a hang guard for a busy machine, never a measure of speed


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The (event, data) pairs of a Server-Sent Events response, comments (keep-alives) skipped."""
    name, data = "message", ""
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()


async def stream_of(client: httpx.AsyncClient, path: str) -> list[tuple[str, dict[str, Any]]]:
    """A whole stream that ends by itself (a payment that is final, or none at all)."""
    async with asyncio.timeout(WAIT_SECONDS), client.stream("GET", path) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        return [event async for event in events(response)]


# --- through the ASGI app ----------------------------------------------------------------------------------------


async def test_a_payment_that_is_not_the_citizens_ends_the_stream_as_not_found(browser: Browser) -> None:
    await browser.sign_in(ANNA)
    nobodys = ids.encode("Payment", 987_654)
    assert await stream_of(browser.client, f"/betalinger/{nobodys}/status") == [("end", {"reason": "not-found"})]
    # An id that is no payment's at all, as the API says BAD_USER_INPUT to it.
    assert await stream_of(browser.client, "/betalinger/ikke-et-id/status") == [("end", {"reason": "not-found"})]


async def test_a_token_the_api_refuses_ends_the_stream_as_signed_out(browser: Browser, api: Api) -> None:
    alien = issue_token(Settings(auth_secret="another-key-" + "x" * 40), citizen_cpr=DAVID)
    forged = session.Session(token=alien, expires_at=int(time.time()) + 600, name="David")
    browser.client.cookies.set(session.COOKIE_NAME, _cookie_value(api, forged))
    payment = ids.encode("Payment", 1)
    assert await stream_of(browser.client, f"/betalinger/{payment}/status") == [("end", {"reason": "signed-out"})]


async def test_a_signed_out_visitor_gets_no_stream(browser: Browser) -> None:
    response = await browser.get(f"/betalinger/{ids.encode('Payment', 1)}/status")
    assert response.status_code == 303
    assert response.headers["location"] == "/log-ind"


# --- over real HTTP ----------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def signed_in(url: str, cpr: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the page at ``url``, signed in as ``cpr`` through the development sign-in."""
    async with httpx.AsyncClient(base_url=url, timeout=WAIT_SECONDS) as client:
        page = await client.get("/log-ind")
        match = CSRF_RE.search(page.text)
        assert match, page.text
        response = await client.post("/log-ind/udvikling", data={"csrf_token": match.group(1), "cpr": cpr})
        assert response.status_code == 303, response.text
        yield client


async def annas_claims(site: Site) -> dict[str, str]:
    """Anna's claims' IDs by reference, from the API."""
    body = await site.gql("{ me { claims(first: 20) { nodes { id reference } } } }", citizen=ANNA)
    return {c["reference"]: c["id"] for c in body["data"]["me"]["claims"]["nodes"]}


async def pay_and_follow(site: Site, page_url: str) -> list[tuple[str, dict[str, Any]]]:
    """Anna starts a card payment; her payment page's stream (on ``page_url``) is open while she approves it at the
    provider's checkout; returns every event of the stream."""
    tax = (await annas_claims(site))["RK-EJD-2025-1187"]
    variables = {
        "input": {
            "claimIds": [tax],
            "method": "CARD",
            "returnUrl": f"{site.url}/betaling/retur",
            "idempotencyKey": f"live-{time.monotonic_ns()}",
        }
    }
    payment = (await site.gql(START, variables, citizen=ANNA))["data"]["startPayment"]["payment"]
    assert payment["status"] == "CREATED"
    seen: list[tuple[str, dict[str, Any]]] = []
    path = f"/betalinger/{payment['id']}/status"
    async with signed_in(page_url, ANNA) as client, asyncio.timeout(WAIT_SECONDS), client.stream("GET", path) as r:
        assert r.status_code == 200
        stream = events(r)
        seen.append(await anext(stream))  # the payment as it is now: the subscription is open
        assert seen[0][0] == "status"
        assert seen[0][1]["status"] == "CREATED"
        approved = await click(site.client, payment["redirectUrl"], "Godkend")
        assert approved.status_code in (302, 303), approved.text
        seen.extend([event async for event in stream])
    return seen


async def test_the_stream_follows_a_payment_to_captured(site: Site) -> None:
    seen = await pay_and_follow(site, site.url)
    statuses = [data["status"] for name, data in seen if name == "status"]
    assert statuses[0] == "CREATED"
    assert statuses[-1] == "CAPTURED"
    assert set(statuses) <= {"CREATED", "AUTHORIZED", "CAPTURED"}
    assert seen[-1] == ("end", {"reason": "complete"})
    captured = seen[-2][1]
    assert captured["label"] == "Gennemført"
    assert "Betalingen er gennemført" in captured["html"]
    assert "Se hvordan pengene er fordelt" in captured["html"]


async def test_a_page_served_apart_from_the_api_follows_it_over_a_websocket(site: Site) -> None:
    """``GATEWAY_WEB_API_URL``: the page's server reaches the API over the network, the WebSocket included."""
    port = free_port()
    settings = site.settings.model_copy(update={"web_api_url": site.url, "public_url": f"http://127.0.0.1:{port}"})
    apart = ThreadedServer(live_app(settings), port=port).start()
    try:
        seen = await pay_and_follow(site, apart.url)
    finally:
        apart.stop()
    assert [data.get("status") for _, data in seen][-2:] == ["CAPTURED", None]
    assert seen[-1] == ("end", {"reason": "complete"})


async def _start_by_form(client: httpx.AsyncClient, claim_id: str, key: str) -> str:
    """Anna starts a card payment on "Betal nu" (the form, with its idempotency key); the checkout's URL."""
    page = await client.get("/betal", params={"krav": claim_id})
    match = CSRF_RE.search(page.text)
    assert match
    data = {"csrf_token": match.group(1), "krav": claim_id, "metode": "CARD", "noegle": key}
    started = await client.post("/betal", data=data)
    assert started.status_code == 303, started.text
    return started.headers["location"]


async def test_coming_back_from_the_checkout_leads_to_the_payment_paid_there(site: Site) -> None:
    """Two payments started in one session (two tabs): the provider's return leads to the one approved."""
    by_ref = await annas_claims(site)
    async with signed_in(site.url, ANNA) as client:
        tax_checkout = await _start_by_form(client, by_ref["RK-EJD-2025-1187"], "fane-en")
        await _start_by_form(client, by_ref["RK-DAG-2025-0412"], "fane-to")
        approved = await click(site.client, tax_checkout, "Godkend")
        back = httpx.URL(approved.headers["location"])
        assert back.path == "/betaling/retur" and back.params["noegle"] == "fane-en"
        payment = await client.get(back.raw_path.decode())
        assert payment.status_code == 303
        page = await client.get(payment.headers["location"])
        assert "4.474,25" in page.text  # the property tax's payment, not the daycare's started after it
        # Until it is captured (the provider's webhook): nothing of this test is still writing when it ends.
        followed = await stream_of(client, payment.headers["location"] + "/status")
        assert followed[-2][1]["status"] == "CAPTURED" and followed[-1] == ("end", {"reason": "complete"})


async def test_a_session_has_at_most_five_live_streams_in_a_process(site: Site) -> None:
    tax = (await annas_claims(site))["RK-EJD-2025-1187"]
    async with signed_in(site.url, ANNA) as client, contextlib.AsyncExitStack() as streams:
        checkout = await _start_by_form(client, tax, "fem-strømme")
        assert "/checkout/" in checkout
        payments = await site.gql("{ me { payments(first: 10) { nodes { id status } } } }", citizen=ANNA)
        [payment] = payments["data"]["me"]["payments"]["nodes"]
        assert payment["status"] == "CREATED"
        path = f"/betalinger/{payment['id']}/status"
        open_streams = []  # kept: a stream's reader that is dropped closes its connection
        async with asyncio.timeout(WAIT_SECONDS):
            for _ in range(5):
                response = await streams.enter_async_context(client.stream("GET", path))
                open_streams.append(events(response))
                name, data = await anext(open_streams[-1])
                assert (name, data["status"]) == ("status", "CREATED")
            assert await stream_of(client, path) == [("end", {"reason": "too-many"})]
        # The other session's streams are its own.
        async with signed_in(site.url, ANNA) as other, asyncio.timeout(WAIT_SECONDS), other.stream("GET", path) as r:
            name, data = await anext(events(r))
            assert (name, data["status"]) == ("status", "CREATED")
