"""PaymentsClient, webhooks and the payment provider simulator, over real HTTP.

The simulator and a small webhook receiver each run as a real uvicorn server in a thread on 127.0.0.1
(ThreadedServer, port 0). Browser steps (checkout and MobilePay confirmation pages) are done the way a
browser would: GET the page, read the form's action, POST the form, follow the 303.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic.alias_generators import to_camel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapters.payments import (
    SIGNATURE_HEADER,
    InvalidWebhookEvent,
    MalformedResponse,
    PaymentsCircuitOpen,
    PaymentsClient,
    PaymentsRejected,
    PaymentsUnavailable,
    WebhookEvent,
    agreement_from_json,
    parse_event,
    payment_from_json,
    sign,
    verify,
)
from adapters.payments.simulator import create_simulator_app
from adapters.payments.simulator.admin import ConfigUpdate
from adapters.simserver import ThreadedServer
from gateway.metrics import GatewayMetrics
from tests.conftest import BreakerClock

SECRET = b"test-webhook-secret"
FORM_ACTION_RE = re.compile(r'<form method="post" action="([^"]+)">')


# --- servers ---------------------------------------------------------------------------------------------


class Receiver:
    """A tiny webhook endpoint (and the citizen's landing page for return URLs)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        self.app = Starlette(
            routes=[Route("/hook", self.hook, methods=["POST"]), Route("/return", self.landing, methods=["GET"])]
        )

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        if self.fail_next > 0:
            self.fail_next -= 1
            return PlainTextResponse("boom", status_code=500)
        self.received.append((dict(request.headers), body))
        return PlainTextResponse("ok")

    async def landing(self, request: Request) -> Response:
        return PlainTextResponse(f"landed {json.dumps(dict(request.query_params), sort_keys=True)}")

    def events(self, object_id: str | None = None) -> list[WebhookEvent]:
        """Every received webhook, signature verified, parsed; optionally for one object."""
        out = []
        for headers, body in list(self.received):
            assert verify(SECRET, body, headers[SIGNATURE_HEADER.lower()], now=int(time.time()))
            event = parse_event(body)
            if object_id is None or event.object_id == object_id:
                out.append(event)
        return out


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, ThreadedServer]]:
    recv = Receiver()
    with ThreadedServer(recv.app) as server:
        yield recv, server


@pytest.fixture(scope="module")
def sim_server(receiver: tuple[Receiver, ThreadedServer]) -> Iterator[ThreadedServer]:
    app = create_simulator_app(webhook_url=f"{receiver[1].url}/hook", webhook_secret=SECRET)
    with ThreadedServer(app) as server:
        yield server


@pytest.fixture(scope="module")
async def admin(sim_server: ThreadedServer) -> AsyncIterator[httpx.AsyncClient]:
    """Admin calls and raw provider calls. Module-scoped: building an httpx client costs ~0.1 s (TLS setup)."""
    async with httpx.AsyncClient(base_url=sim_server.url, timeout=5) as http:
        yield http


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """Plays the citizen's browser on the checkout and confirmation pages (does not follow redirects)."""
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


@pytest.fixture(scope="module")
async def client(sim_server: ThreadedServer) -> AsyncIterator[PaymentsClient]:
    async with PaymentsClient(sim_server.url, timeout=5) as c:
        yield c


@pytest.fixture(autouse=True)
async def fresh_simulator(admin: httpx.AsyncClient, receiver: tuple[Receiver, ThreadedServer]) -> None:
    (await admin.post("/admin/reset")).raise_for_status()
    (await admin.post("/admin/config", json={"webhookRetryBackoffMs": 10})).raise_for_status()
    receiver[0].received.clear()
    receiver[0].fail_next = 0


@pytest.fixture
def recv(receiver: tuple[Receiver, ThreadedServer]) -> Receiver:
    return receiver[0]


@pytest.fixture
def return_url(receiver: tuple[Receiver, ThreadedServer]) -> str:
    return f"{receiver[1].url}/return?from=sim"


async def wait_for_events(recv: Receiver, object_id: str, count: int, timeout: float = 15.0) -> list[WebhookEvent]:
    deadline = time.monotonic() + timeout
    while True:
        events = recv.events(object_id)
        if len(events) >= count or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.02)


async def webhooks_settled(admin: httpx.AsyncClient, timeout: float = 15.0) -> None:
    """Wait until no webhook is on its way (each one delivered, failed, dropped or held): then the receiver has
    all it will ever get for what happened so far."""
    deadline = time.monotonic() + timeout
    while any(r["status"] == "queued" for r in (await admin.get("/admin/webhooks")).json()):
        assert time.monotonic() < deadline, "webhooks still queued"
        await asyncio.sleep(0.01)


async def new_payment(
    client: PaymentsClient, return_url: str, key: str, amount: int = 123450, method: Any = "CARD"
) -> Any:
    return await client.create_payment(
        idempotency_key=key,
        reference="ref-1",
        amount_oere=amount,
        method=method,
        return_url=return_url,
        description="Ejendomsskat <1. rate>",
    )


# --- payments --------------------------------------------------------------------------------------------


async def test_card_payment_approved_in_browser_then_captured(
    browser: httpx.AsyncClient,
    client: PaymentsClient,
    admin: httpx.AsyncClient,
    recv: Receiver,
    sim_server: ThreadedServer,
    return_url: str,
) -> None:
    payment = await new_payment(client, return_url, "pay-approve-1")
    assert payment.state == "CREATED"
    assert payment.amount_oere == 123450 and payment.captured_oere == 0 and payment.version == 1
    assert payment.redirect_url == f"{sim_server.url}/checkout/{payment.id}"

    page = await browser.get(payment.redirect_url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "1.234,50 kr." in page.text and "Betalingskort" in page.text
    assert "Ejendomsskat &lt;1. rate&gt;" in page.text  # escaped, not raw HTML
    assert "<script" not in page.text and "http" not in page.text.split("<body>")[1]
    actions = FORM_ACTION_RE.findall(page.text)
    assert actions == [f"/checkout/{payment.id}/approve", f"/checkout/{payment.id}/decline"]

    answer = await browser.post(f"{sim_server.url}{actions[0]}", data={})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{return_url}&paymentId={payment.id}"
    landing = await browser.get(answer.headers["location"])
    assert landing.text == f'landed {{"from": "sim", "paymentId": "{payment.id}"}}'

    authorized = await client.get_payment(payment.id)
    assert authorized.state == "AUTHORIZED" and authorized.version == 2

    captured = await client.capture_payment(payment.id, amount_oere=123450, idempotency_key="cap-approve-1")
    assert captured.state == "CAPTURED" and captured.captured_oere == 123450 and captured.version == 3

    events = await wait_for_events(recv, payment.id, 2)
    assert [(e.type, e.state, e.sequence) for e in events] == [
        ("payment.authorized", "AUTHORIZED", 2),
        ("payment.captured", "CAPTURED", 3),
    ]
    assert payment_from_json(events[1].data) == captured
    assert len({e.id for e in events}) == 2


async def test_declined_payment_cannot_be_captured_or_approved(
    browser: httpx.AsyncClient, client: PaymentsClient, recv: Receiver, sim_server: ThreadedServer, return_url: str
) -> None:
    payment = await new_payment(client, return_url, "pay-decline-1", amount=35000, method="MOBILEPAY")
    page = await browser.get(payment.redirect_url)
    assert "350,00 kr." in page.text and "MobilePay" in page.text
    decline = FORM_ACTION_RE.findall(page.text)[1]
    landed = await browser.post(f"{sim_server.url}{decline}", follow_redirects=True)
    assert landed.history[0].status_code == 303
    assert str(landed.url) == f"{return_url}&paymentId={payment.id}"
    again = await browser.post(f"{sim_server.url}/checkout/{payment.id}/approve", follow_redirects=True)
    assert again.status_code == 409
    assert FORM_ACTION_RE.findall((await browser.get(payment.redirect_url)).text) == []

    assert (await client.get_payment(payment.id)).state == "ABORTED"
    with pytest.raises(PaymentsRejected) as err:
        await client.capture_payment(payment.id, amount_oere=35000, idempotency_key="cap-decline-1")
    assert (err.value.status_code, err.value.code) == (409, "INVALID_STATE")
    events = await wait_for_events(recv, payment.id, 1)
    assert [(e.type, e.sequence) for e in events] == [("payment.aborted", 2)]


async def test_partial_capture_overcapture_and_cancel(
    client: PaymentsClient, admin: httpx.AsyncClient, return_url: str
) -> None:
    payment = await new_payment(client, return_url, "pay-partial-1", amount=100000)
    assert (await admin.post(f"/admin/payments/{payment.id}/approve")).status_code == 200
    part = await client.capture_payment(payment.id, amount_oere=40000, idempotency_key="cap-p-1")
    assert (part.state, part.captured_oere) == ("CAPTURED", 40000)
    with pytest.raises(PaymentsRejected) as err:
        await client.capture_payment(payment.id, amount_oere=60001, idempotency_key="cap-p-2")
    assert err.value.code == "AMOUNT_EXCEEDS_AUTHORIZED"
    rest = await client.capture_payment(payment.id, amount_oere=60000, idempotency_key="cap-p-3")
    assert rest.captured_oere == 100000
    with pytest.raises(PaymentsRejected) as err:
        await client.cancel_payment(payment.id, idempotency_key="cancel-p-1")
    assert err.value.code == "INVALID_STATE"


async def test_cancel_created_payment_terminates_it(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, return_url: str
) -> None:
    payment = await new_payment(client, return_url, "pay-cancel-1")
    cancelled = await client.cancel_payment(payment.id, idempotency_key="cancel-1")
    assert cancelled.state == "TERMINATED"
    assert (await client.cancel_payment(payment.id, idempotency_key="cancel-2")).state == "TERMINATED"
    events = await wait_for_events(recv, payment.id, 1)
    await webhooks_settled(admin)
    assert [e.type for e in recv.events(payment.id)] == ["payment.terminated"] == [e.type for e in events]


@pytest.mark.parametrize("action,state", [("expire", "EXPIRED"), ("fail", "FAILED"), ("decline", "ABORTED")])
async def test_admin_payment_transitions(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, return_url: str, action: str, state: str
) -> None:
    payment = await new_payment(client, return_url, f"pay-admin-{action}")
    answer = await admin.post(f"/admin/payments/{payment.id}/{action}")
    assert answer.status_code == 200 and answer.json()["state"] == state
    assert (await admin.post(f"/admin/payments/{payment.id}/approve")).status_code == 409
    events = await wait_for_events(recv, payment.id, 1)
    assert [(e.state, e.sequence) for e in events] == [(state, 2)]


# --- idempotency -----------------------------------------------------------------------------------------


async def test_same_key_same_body_returns_the_same_payment(
    client: PaymentsClient, admin: httpx.AsyncClient, return_url: str
) -> None:
    first = await new_payment(client, return_url, "idem-1")
    second = await new_payment(client, return_url, "idem-1")
    concurrent = await asyncio.gather(*(new_payment(client, return_url, "idem-1") for _ in range(5)))
    assert {p.id for p in [first, second, *concurrent]} == {first.id}
    stats = (await admin.get("/admin/stats")).json()
    assert stats["payments"] == 1 and stats["calls"]["POST /v1/payments"] == 7

    replay = await admin.post(
        "/v1/payments",
        headers={"Idempotency-Key": "idem-1"},
        json={
            "reference": "ref-1",
            "amount": {"currency": "DKK", "value": 123450},
            "method": "CARD",
            "returnUrl": return_url,
            "description": "Ejendomsskat <1. rate>",
        },
    )
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.id


async def test_same_key_different_body_is_rejected(
    client: PaymentsClient, admin: httpx.AsyncClient, return_url: str
) -> None:
    await new_payment(client, return_url, "idem-2", amount=10000)
    with pytest.raises(PaymentsRejected) as err:
        await new_payment(client, return_url, "idem-2", amount=10001)
    assert (err.value.status_code, err.value.code) == (409, "IDEMPOTENCY_KEY_REUSED")
    with pytest.raises(PaymentsRejected) as err:  # same key on another endpoint
        await client.create_agreement(
            idempotency_key="idem-2",
            kind="BETALINGSSERVICE",
            customer_ref="cit_1",
            mobilepay_account_ref=None,
            description="Husleje",
            return_url=None,
        )
    assert err.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert (await admin.get("/admin/stats")).json()["payments"] == 1


async def test_capture_replay_captures_once(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, return_url: str
) -> None:
    payment = await new_payment(client, return_url, "idem-cap", amount=50000)
    await admin.post(f"/admin/payments/{payment.id}/approve")
    one = await client.capture_payment(payment.id, amount_oere=20000, idempotency_key="cap-once")
    two = await client.capture_payment(payment.id, amount_oere=20000, idempotency_key="cap-once")
    assert one == two and two.captured_oere == 20000
    await wait_for_events(recv, payment.id, 2)
    await webhooks_settled(admin)
    assert [e.type for e in recv.events(payment.id)] == ["payment.authorized", "payment.captured"]


async def test_writes_need_an_idempotency_key(admin: httpx.AsyncClient, return_url: str) -> None:
    body = {
        "reference": "r",
        "amount": {"currency": "DKK", "value": 100},
        "method": "CARD",
        "returnUrl": return_url,
        "description": "x",
    }
    answer = await admin.post("/v1/payments", json=body)
    assert answer.status_code == 400 and answer.json()["code"] == "IDEMPOTENCY_KEY_MISSING"
    assert (await admin.post("/v1/agreements", json={})).status_code == 400
    assert (await admin.get("/admin/stats")).json()["payments"] == 0


async def test_money_is_integer_oere_and_cpr_never_reaches_the_provider(
    client: PaymentsClient, admin: httpx.AsyncClient, return_url: str
) -> None:
    with pytest.raises(TypeError):
        await new_payment(client, return_url, "float-1", amount=1234.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await new_payment(client, return_url, "bool-1", amount=True)
    with pytest.raises(ValueError):
        await new_payment(client, return_url, "zero-1", amount=0)
    for ref in ("0101901234", "010190-1234"):
        with pytest.raises(ValueError, match="CPR"):
            await client.create_agreement(
                idempotency_key=f"cpr-{ref}",
                kind="BETALINGSSERVICE",
                customer_ref=ref,
                mobilepay_account_ref=None,
                description="x",
                return_url=None,
            )
    # the simulator refuses them too, should another client send them
    body = {
        "reference": "r",
        "amount": {"currency": "DKK", "value": 1234.5},
        "method": "CARD",
        "returnUrl": return_url,
        "description": "x",
    }
    answer = await admin.post("/v1/payments", json=body, headers={"Idempotency-Key": "raw-float"})
    assert (answer.status_code, answer.json()["code"]) == (400, "INVALID_AMOUNT")
    answer = await admin.post(
        "/v1/agreements",
        headers={"Idempotency-Key": "raw-cpr"},
        json={"kind": "BETALINGSSERVICE", "customerRef": "0101901234", "description": "x"},
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "CPR_NOT_ALLOWED")
    assert (await admin.get("/admin/stats")).json()["agreements"] == 0


# --- agreements ------------------------------------------------------------------------------------------


async def test_mobilepay_agreement_confirmed_then_stopped_forever(
    browser: httpx.AsyncClient,
    client: PaymentsClient,
    admin: httpx.AsyncClient,
    recv: Receiver,
    sim_server: ThreadedServer,
    return_url: str,
) -> None:
    agreement = await client.create_agreement(
        idempotency_key="agr-mp-1",
        kind="MOBILEPAY_SUBSCRIPTION",
        customer_ref="cit_42",
        mobilepay_account_ref=None,
        description="Afdragsordning",
        return_url=return_url,
    )
    assert agreement.state == "PENDING" and agreement.bs_reference is None
    assert agreement.confirmation_url == f"{sim_server.url}/agreements/{agreement.id}/confirm"

    page = await browser.get(agreement.confirmation_url)
    assert "Afdragsordning" in page.text and 'name="account"' in page.text
    approve = FORM_ACTION_RE.findall(page.text)[0]
    answer = await browser.post(f"{sim_server.url}{approve}", data={"account": "mpacc_budgetkonto"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{return_url}&agreementId={agreement.id}"

    active = await client.get_agreement(agreement.id)
    assert (active.state, active.mobilepay_account_ref, active.version) == ("ACTIVE", "mpacc_budgetkonto", 2)

    stopped = await client.stop_agreement(agreement.id, idempotency_key="stop-mp-1")
    assert stopped.state == "STOPPED"
    assert (await client.stop_agreement(agreement.id, idempotency_key="stop-mp-2")).state == "STOPPED"

    answer = await admin.post(f"/admin/agreements/{agreement.id}/activate")
    assert (answer.status_code, answer.json()["code"]) == (409, "AGREEMENT_STOPPED")
    assert (await browser.post(f"{sim_server.url}{approve}")).status_code == 409
    assert (await client.get_agreement(agreement.id)).state == "STOPPED"

    events = await wait_for_events(recv, agreement.id, 2)
    await webhooks_settled(admin)
    assert [(e.type, e.sequence) for e in recv.events(agreement.id)] == [
        ("agreement.activated", 2),
        ("agreement.stopped", 3),
    ]
    assert agreement_from_json(events[1].data) == stopped


async def test_mobilepay_agreement_declined(
    browser: httpx.AsyncClient, client: PaymentsClient, recv: Receiver, sim_server: ThreadedServer, return_url: str
) -> None:
    agreement = await client.create_agreement(
        idempotency_key="agr-mp-2",
        kind="MOBILEPAY_SUBSCRIPTION",
        customer_ref="cit_43",
        mobilepay_account_ref="mpacc_loenkonto",
        description="Husleje",
        return_url=return_url,
    )
    assert agreement.mobilepay_account_ref == "mpacc_loenkonto"
    page = await browser.get(f"{agreement.confirmation_url}")
    landed = await browser.post(f"{sim_server.url}{FORM_ACTION_RE.findall(page.text)[1]}", follow_redirects=True)
    assert agreement.id in landed.text
    assert (await client.get_agreement(agreement.id)).state == "REJECTED"
    assert [e.type for e in await wait_for_events(recv, agreement.id, 1)] == ["agreement.rejected"]


async def test_betalingsservice_stays_pending_until_the_bank_accepts(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver
) -> None:
    agreement = await client.create_agreement(
        idempotency_key="agr-bs-1",
        kind="BETALINGSSERVICE",
        customer_ref="cit_7",
        mobilepay_account_ref=None,
        description="Ejendomsskat",
        return_url=None,
    )
    assert agreement.state == "PENDING" and agreement.confirmation_url is None
    bs = agreement.bs_reference
    assert bs is not None
    assert re.fullmatch(r"\d{8}", bs.pbs_number) and re.fullmatch(r"\d{5}", bs.debtor_group)
    assert re.fullmatch(r"\d{15}", bs.customer_number)
    await asyncio.sleep(0.2)
    assert (await client.get_agreement(agreement.id)).state == "PENDING"
    assert recv.events(agreement.id) == []

    answer = await admin.post(f"/admin/agreements/{agreement.id}/activate")
    assert answer.status_code == 200 and answer.json()["state"] == "ACTIVE"
    assert (await client.get_agreement(agreement.id)).state == "ACTIVE"
    events = await wait_for_events(recv, agreement.id, 1)
    assert [(e.type, e.state) for e in events] == [("agreement.activated", "ACTIVE")]

    other = await client.create_agreement(
        idempotency_key="agr-bs-2",
        kind="BETALINGSSERVICE",
        customer_ref="cit_8",
        mobilepay_account_ref=None,
        description="Ejendomsskat",
        return_url=None,
    )
    assert other.bs_reference is not None and other.bs_reference.customer_number != bs.customer_number
    assert (await admin.post(f"/admin/agreements/{other.id}/reject")).json()["state"] == "REJECTED"
    with pytest.raises(PaymentsRejected):
        await client.stop_agreement(other.id, idempotency_key="stop-bs-2")


async def test_unknown_objects_are_not_found(client: PaymentsClient) -> None:
    with pytest.raises(PaymentsRejected) as err:
        await client.get_payment("pay_nope")
    assert (err.value.status_code, err.value.code) == (404, "NOT_FOUND")
    with pytest.raises(PaymentsRejected):
        await client.get_agreement("agr_nope")
    with pytest.raises(ValueError):
        await client.get_payment("../admin/stats")


# --- webhook delivery modes ------------------------------------------------------------------------------


async def test_dropped_webhooks_are_caught_up_by_polling_and_redelivery(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, return_url: str
) -> None:
    await admin.post("/admin/config", json={"dropWebhooks": True})
    payment = await new_payment(client, return_url, "drop-1")
    await admin.post(f"/admin/payments/{payment.id}/approve")
    await webhooks_settled(admin)
    assert recv.events(payment.id) == []
    assert (await client.get_payment(payment.id)).state == "AUTHORIZED"  # the poll catches up

    log = (await admin.get("/admin/webhooks")).json()
    assert [(r["status"], r["type"]) for r in log] == [("dropped", "payment.authorized")]
    assert (await admin.get("/admin/stats")).json()["webhooks"]["dropped"] == 1
    await admin.post("/admin/webhooks/redeliver", json={"eventId": log[0]["eventId"]})
    events = await wait_for_events(recv, payment.id, 1)
    assert [e.id for e in events] == [log[0]["eventId"]]
    assert (await admin.post("/admin/webhooks/redeliver", json={"eventId": "evt_nope"})).status_code == 404


async def test_duplicate_webhooks_carry_the_same_event_id(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, return_url: str
) -> None:
    await admin.post("/admin/config", json={"duplicateWebhooks": True})
    payment = await new_payment(client, return_url, "dup-1")
    await admin.post(f"/admin/payments/{payment.id}/approve")
    events = await wait_for_events(recv, payment.id, 2)
    assert len(events) == 2 and events[0] == events[1]
    await webhooks_settled(admin)  # the simulator records the answer just after the receiver has it
    assert (await admin.get("/admin/stats")).json()["webhooks"]["sent"] == 2


async def test_reverse_order_delivers_newest_first(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, return_url: str
) -> None:
    await admin.post("/admin/config", json={"reverseOrder": True})
    payment = await new_payment(client, return_url, "rev-1")
    await admin.post(f"/admin/payments/{payment.id}/approve")
    await client.capture_payment(payment.id, amount_oere=123450, idempotency_key="rev-cap-1")
    await webhooks_settled(admin)
    assert recv.events(payment.id) == []
    assert (await admin.post("/admin/webhooks/flush")).json() == {"flushed": 2}
    events = await wait_for_events(recv, payment.id, 2)
    assert [(e.type, e.sequence) for e in events] == [("payment.captured", 3), ("payment.authorized", 2)]


async def test_failed_deliveries_are_retried(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, return_url: str
) -> None:
    recv.fail_next = 2
    payment = await new_payment(client, return_url, "retry-1")
    await admin.post(f"/admin/payments/{payment.id}/approve")
    assert len(await wait_for_events(recv, payment.id, 1)) == 1
    await webhooks_settled(admin)
    (record,) = (await admin.get("/admin/webhooks")).json()
    assert record["status"] == "delivered"
    assert [a["responseStatus"] for a in record["attempts"]] == [500, 500, 200]


async def test_slow_webhooks_do_not_block_the_request(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, return_url: str
) -> None:
    # Had the approval waited for its webhook, the webhook would be here when it answered; the delay is long
    # enough that no busy machine takes as long to answer (no time is measured).
    await admin.post("/admin/config", json={"webhookDelayMs": 2000})
    payment = await new_payment(client, return_url, "slow-1")
    assert (await admin.post(f"/admin/payments/{payment.id}/approve")).status_code == 200
    assert recv.events(payment.id) == []
    assert len(await wait_for_events(recv, payment.id, 1)) == 1


async def test_admin_config_validation(admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/admin/config", json={"dropWebhooks": "yes"})).status_code == 400
    assert (await admin.post("/admin/config", json={"nope": 1})).status_code == 400
    config = (await admin.post("/admin/config", json={"webhookDelayMs": 5})).json()
    assert config["webhookDelayMs"] == 5 and config["dropWebhooks"] is False


# --- client error mapping -------------------------------------------------------------------------------


async def test_api_key_is_sent_and_required(receiver: tuple[Receiver, ThreadedServer], return_url: str) -> None:
    with ThreadedServer(create_simulator_app(api_key="s3cret")) as server:
        async with PaymentsClient(server.url) as anonymous:
            with pytest.raises(PaymentsRejected) as err:
                await new_payment(anonymous, return_url, "key-1")
            assert (err.value.status_code, err.value.code) == (401, "UNAUTHORIZED")
        async with PaymentsClient(server.url, api_key="s3cret") as keyed:
            assert (await new_payment(keyed, return_url, "key-1")).state == "CREATED"


async def test_transport_problems_are_unavailable(return_url: str) -> None:
    server = ThreadedServer(create_simulator_app()).start()
    url = server.url
    server.stop()
    async with PaymentsClient(url, timeout=1) as c:
        with pytest.raises(PaymentsUnavailable):
            await c.get_payment("pay_x")

    def answer(status: int, content: bytes) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: httpx.Response(status, content=content))

    async with PaymentsClient("http://provider", transport=answer(503, b"down")) as c:
        with pytest.raises(PaymentsUnavailable) as unavailable:
            await c.get_payment("pay_x")
        assert unavailable.value.status_code == 503
    async with PaymentsClient("http://provider", transport=answer(200, b"<html>")) as c:
        with pytest.raises(PaymentsUnavailable):
            await c.get_payment("pay_x")
    bad_money = {"id": "pay_x", "amount": {"currency": "DKK", "value": 12.5}}
    async with PaymentsClient("http://provider", transport=answer(200, json.dumps(bad_money).encode())) as c:
        with pytest.raises(MalformedResponse):
            await c.get_payment("pay_x")


# --- the circuit breaker -----------------------------------------------------------------------------------


class CountingTransport(httpx.AsyncHTTPTransport):
    """The real transport, counting the requests that leave the client (whether or not anyone answers)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return await super().handle_async_request(request)


def breaker_gauge(metrics: GatewayMetrics) -> float | None:
    return metrics.registry.get_sample_value("gateway_upstream_breaker_state", {"upstream": "payments"})


def outcomes(metrics: GatewayMetrics, outcome: str) -> float:
    found = metrics.registry.get_sample_value(
        "gateway_upstream_requests_total", {"upstream": "payments", "outcome": outcome}
    )
    return 0.0 if found is None else found


async def provider_gets(admin: httpx.AsyncClient) -> int:
    return int((await admin.get("/admin/stats")).json()["calls"].get("GET /v1/payments/{id}", 0))


async def test_breaker_opens_refuses_without_calling_and_closes_after_a_probe(
    sim_server: ThreadedServer, admin: httpx.AsyncClient, return_url: str, breaker_clock: BreakerClock
) -> None:
    metrics = GatewayMetrics()
    transport = CountingTransport()
    observer = metrics.upstream("payments")
    async with PaymentsClient(
        sim_server.url, timeout=5, transport=transport, observer=observer, breaker_threshold=3, breaker_ttl_seconds=60
    ) as c:
        created = await new_payment(c, return_url, "breaker-1")
        assert (transport.sent, c.breaker.state, breaker_gauge(metrics)) == (1, "closed", 0)

        sim_server.stop_listening()
        try:
            # Three failed calls (the threshold) are made and fail as the provider being down...
            for _ in range(3):
                with pytest.raises(PaymentsUnavailable) as down:
                    await c.get_payment(created.id)
                assert not isinstance(down.value, PaymentsCircuitOpen)
            assert (transport.sent, c.breaker.state, breaker_gauge(metrics)) == (4, "opened", 2)
            assert outcomes(metrics, "TRANSPORT") == 3

            # ...then nothing leaves the client, reads and writes alike: a specific PaymentsUnavailable at once.
            for _ in range(4):
                with pytest.raises(PaymentsCircuitOpen):
                    await c.get_payment(created.id)
            with pytest.raises(PaymentsCircuitOpen):
                await c.capture_payment(created.id, amount_oere=100, idempotency_key="breaker-capture")
            assert transport.sent == 4
            assert outcomes(metrics, "CIRCUIT_OPEN") == 5
            # Only calls that were made are timed.
            timed = metrics.registry.get_sample_value(
                "gateway_upstream_request_duration_seconds_count", {"upstream": "payments"}
            )
            assert timed == 4

            # After the ttl one probe is made; the provider is still down, so the breaker opens again at once.
            breaker_clock.advance(61)
            with pytest.raises(PaymentsUnavailable) as probe:
                await c.get_payment(created.id)
            assert not isinstance(probe.value, PaymentsCircuitOpen)
            assert (transport.sent, c.breaker.state, breaker_gauge(metrics)) == (5, "opened", 2)
            with pytest.raises(PaymentsCircuitOpen):
                await c.get_payment(created.id)
            assert transport.sent == 5
        finally:
            sim_server.resume_listening()

        # The provider is back, but the breaker stays open until its ttl has passed: still no call.
        with pytest.raises(PaymentsCircuitOpen):
            await c.get_payment(created.id)
        assert transport.sent == 5 and await provider_gets(admin) == 0

        # After the ttl the probe succeeds and closes the breaker; calls flow again.
        breaker_clock.advance(61)
        assert (await c.get_payment(created.id)).id == created.id
        assert (transport.sent, c.breaker.state, breaker_gauge(metrics)) == (6, "closed", 0)
        assert (await c.get_payment(created.id)).state == "CREATED"
        assert transport.sent == 7 and await provider_gets(admin) == 2
        assert outcomes(metrics, "ok") == 3 and outcomes(metrics, "CIRCUIT_OPEN") == 7


async def test_refusals_are_answers_and_never_open_the_breaker(sim_server: ThreadedServer) -> None:
    metrics = GatewayMetrics()
    async with PaymentsClient(
        sim_server.url, timeout=5, observer=metrics.upstream("payments"), breaker_threshold=1, breaker_ttl_seconds=60
    ) as c:
        for _ in range(3):
            with pytest.raises(PaymentsRejected):
                await c.get_payment("pay_nope")
        assert (c.breaker.state, breaker_gauge(metrics)) == ("closed", 0)
        assert outcomes(metrics, "rejected") == 3


# --- signatures and event parsing ------------------------------------------------------------------------

BODY = b'{"id":"evt_1"}'


def test_sign_and_verify() -> None:
    now = 1_700_000_000
    header = sign(SECRET, BODY, now)
    assert re.fullmatch(r"t=1700000000,v1=[0-9a-f]{64}", header)
    assert verify(SECRET, BODY, header, now=now)
    assert verify(SECRET, BODY, header, now=now + 300)
    assert not verify(SECRET, BODY + b" ", header, now=now)  # tampered body
    assert not verify(SECRET, BODY.replace(b"1", b"2"), header, now=now)
    assert not verify(b"other-secret", BODY, header, now=now)  # wrong secret
    assert not verify(SECRET, BODY, header, now=now + 301)  # stale
    assert not verify(SECRET, BODY, header, now=now - 301)  # from the future
    assert not verify(SECRET, BODY, sign(SECRET, BODY, now - 1000).replace("t=1699999000", f"t={now}"), now=now)
    rotated = f"t={now},v1={'0' * 64},{header.split(',')[1]}"
    assert verify(SECRET, BODY, rotated, now=now)
    for bad in ("", "t=1", f"v1={'a' * 64}", f"t=abc,v1={'a' * 64}", "garbage", f"t={now},t={now},v1=x"):
        assert not verify(SECRET, BODY, bad, now=now)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_verify_never_raises_on_garbage_headers(header: str) -> None:
    assert verify(SECRET, BODY, header, now=1_700_000_000) is False


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "evt_abc",
        "type": "payment.captured",
        "objectId": "pay_1",
        "state": "CAPTURED",
        "sequence": 3,
        "occurredAt": "2025-01-31T12:00:00+00:00",
        "data": {"id": "pay_1", "state": "CAPTURED", "version": 3},
    }
    event.update(changes)
    return event


def test_parse_event_is_strict() -> None:
    event = parse_event(json.dumps(_event()).encode())
    assert (event.id, event.type, event.object_id, event.sequence, event.object_kind) == (
        "evt_abc",
        "payment.captured",
        "pay_1",
        3,
        "payment",
    )
    assert event.occurred_at.utcoffset() is not None
    bad = [
        b"not json",
        b"[]",
        {k: v for k, v in _event().items() if k != "sequence"},
        _event(extra=1),
        _event(type="payment.refunded"),
        _event(state="AUTHORIZED"),
        _event(sequence=True),
        _event(sequence=0),
        _event(sequence="3"),
        _event(occurredAt="2025-01-31T12:00:00"),
        _event(occurredAt="yesterday"),
        _event(id="abc"),
        _event(objectId="agr_1"),
        _event(data=[]),
        _event(data={"id": "pay_2", "state": "CAPTURED", "version": 3}),
        _event(data={"id": "pay_1", "state": "CAPTURED", "version": 2}),
    ]
    for body in bad:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        with pytest.raises(InvalidWebhookEvent):
            parse_event(raw)


# --- parsing the provider's answers (pydantic models) ---------------------------------------------------

CPR_LIKE = "010190-1234"


def _payment_json(**changes: Any) -> dict[str, Any]:
    payment: dict[str, Any] = {
        "id": "pay_1",
        "reference": "RK-PAY-00000001",
        "amount": {"currency": "DKK", "value": 123450},
        "method": "CARD",
        "state": "CAPTURED",
        "description": "Ejendomsskat",
        "returnUrl": "https://example.test/return",
        "redirectUrl": "https://provider.test/checkout/pay_1",
        "capturedAmount": {"currency": "DKK", "value": 123450},
        "createdAt": "2025-01-31T12:00:00+00:00",
        "version": 3,
    }
    payment.update(changes)
    return payment


def _agreement_json(**changes: Any) -> dict[str, Any]:
    agreement: dict[str, Any] = {
        "id": "agr_1",
        "kind": "BETALINGSSERVICE",
        "state": "ACTIVE",
        "customerRef": "rk-citizen-1",
        "mobilePayAccountRef": None,
        "description": "Ejendomsskat",
        "returnUrl": None,
        "confirmationUrl": None,
        "bsReference": {"pbsNumber": "08915118", "debtorGroup": "00001", "customerNumber": "000000000000001"},
        "createdAt": "2025-01-31T12:00:00+00:00",
        "version": 2,
    }
    agreement.update(changes)
    return agreement


def test_well_formed_representations_parse_and_unknown_keys_are_ignored() -> None:
    payment = payment_from_json(_payment_json(newField={"x": 1}))
    assert (payment.amount_oere, payment.captured_oere, payment.state, payment.version) == (
        123450,
        123450,
        "CAPTURED",
        3,
    )
    assert payment.created_at.utcoffset() is not None and payment.return_url == "https://example.test/return"
    agreement = agreement_from_json(_agreement_json())
    assert agreement.bs_reference is not None and agreement.bs_reference.customer_number == "000000000000001"
    assert agreement.mobilepay_account_ref is None and agreement.confirmation_url is None
    # optional keys may be left out entirely
    bare = {k: v for k, v in _agreement_json().items() if k not in ("mobilePayAccountRef", "bsReference")}
    assert agreement_from_json(bare).bs_reference is None


@pytest.mark.parametrize(
    "money",
    [
        {"currency": "DKK", "value": 1234.5},
        {"currency": "DKK", "value": 123450.0},
        {"currency": "DKK", "value": "123450"},
        {"currency": "DKK", "value": True},
        {"currency": "DKK", "value": -1},
        {"currency": "EUR", "value": 123450},
        {"value": 123450},
        123450,
    ],
)
def test_money_in_answers_must_be_integer_oere(money: Any) -> None:
    with pytest.raises(MalformedResponse) as err:
        payment_from_json(_payment_json(amount=money))
    assert "amount" in str(err.value)


@pytest.mark.parametrize(
    "changes,path",
    [
        ({"createdAt": CPR_LIKE}, "createdAt"),
        ({"createdAt": 1_700_000_000}, "createdAt"),
        ({"reference": 1234}, "reference"),
        ({"method": CPR_LIKE}, "method"),
        ({"state": "captured"}, "state"),
        ({"version": "3"}, "version"),
        ({"version": 0}, "version"),
        ({"id": f"pay_{CPR_LIKE} "}, "id"),
        ({"capturedAmount": {"currency": "DKK", "value": CPR_LIKE}}, "capturedAmount.value"),
    ],
)
def test_malformed_payment_names_the_field_but_never_the_value(changes: dict[str, Any], path: str) -> None:
    with structlog.testing.capture_logs() as logs, pytest.raises(MalformedResponse) as err:
        payment_from_json(_payment_json(**changes))
    assert isinstance(err.value, PaymentsUnavailable)  # callers treat it as "provider unavailable"
    assert f"{path}: " in str(err.value)
    (entry,) = [e for e in logs if e["event"] == "payments.malformed_response"]
    assert entry["object"] == "payment" and f"{path}: " in entry["errors"]
    assert CPR_LIKE not in str(err.value) and CPR_LIKE not in repr(logs)
    assert "1700000000" not in repr(logs)


def test_malformed_agreement_names_the_nested_field() -> None:
    bad_bs = {"pbsNumber": CPR_LIKE, "debtorGroup": "00001", "customerNumber": "000000000000001"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"bsReference": bad_bs}, "bsReference.pbsNumber"),
        ({"bsReference": "08915118"}, "bsReference"),
        ({"kind": "DIRECT_DEBIT"}, "kind"),
        ({"confirmationUrl": 1}, "confirmationUrl"),
        ({"customerRef": None}, "customerRef"),
    ]
    for changes, path in cases:
        with pytest.raises(MalformedResponse) as err:
            agreement_from_json(_agreement_json(**changes))
        assert f"{path}: " in str(err.value) and CPR_LIKE not in str(err.value)
    with pytest.raises(MalformedResponse, match="<root>"):
        agreement_from_json([])


async def test_malformed_answer_over_http_is_malformed_response() -> None:
    body = json.dumps(_payment_json(capturedAmount={"currency": "DKK", "value": 99.5})).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with PaymentsClient("http://provider", transport=transport) as c:
        with pytest.raises(MalformedResponse, match=r"capturedAmount\.value: int_type"):
            await c.get_payment("pay_1")


async def test_refusals_carry_the_problem_code_whatever_the_body() -> None:
    def answer(status: int, content: bytes) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: httpx.Response(status, content=content))

    cases = [
        (b'{"code": "NOT_FOUND", "title": "Not found", "detail": "no such payment"}', "NOT_FOUND", "no such payment"),
        (b'{"code": "INVALID_STATE", "title": "Conflict"}', "INVALID_STATE", "Conflict"),
        (b'{"code": 42}', "42", "Conflict"),
        (b'["not", "a", "problem"]', "HTTP_ERROR", "Conflict"),
        (b"<html>oops</html>", "HTTP_ERROR", "Conflict"),
    ]
    for content, code, message in cases:
        async with PaymentsClient("http://provider", transport=answer(409, content)) as c:
            with pytest.raises(PaymentsRejected) as err:
                await c.get_payment("pay_x")
        assert (err.value.status_code, err.value.code, err.value.message) == (409, code, message)


def test_invalid_event_names_the_field_but_never_the_value() -> None:
    bare_cpr = CPR_LIKE.replace("-", "")
    cases = [
        (_event(objectId=f"pay {CPR_LIKE}"), "objectId: object_id_mismatch"),
        (_event(objectId="agr_1"), "objectId: object_id_mismatch"),
        (_event(data={"id": "pay_1", "state": "CAPTURED", "version": 3, "x": CPR_LIKE}, sequence="3"), "sequence: "),
        (_event(occurredAt=CPR_LIKE), "occurredAt: datetime_format"),
        (_event(occurredAt="2025-01-31T12:00:00"), "occurredAt: datetime_offset_missing"),
        (_event(data={"id": "pay_2", "state": "CAPTURED", "version": 3}), "data: data_id_mismatch"),
        (_event(data={"id": "pay_1", "state": "CAPTURED", "version": 2}), "data: data_version_mismatch"),
        (_event(state="AUTHORIZED"), "state: state_mismatch"),
        (_event(**{bare_cpr: 1}), "<unexpected key>: extra_forbidden"),
    ]
    for body, expected in cases:
        with structlog.testing.capture_logs() as logs, pytest.raises(InvalidWebhookEvent) as err:
            parse_event(json.dumps(body).encode())
        assert expected in str(err.value)
        (entry,) = [e for e in logs if e["event"] == "payments.webhook.invalid_event"]
        assert entry["errors"] in str(err.value)
        for secret in (CPR_LIKE, bare_cpr):
            assert secret not in str(err.value) and secret not in repr(logs)


def test_event_with_several_problems_reports_each_field() -> None:
    with pytest.raises(InvalidWebhookEvent) as err:
        parse_event(json.dumps(_event(id="abc", sequence=0, type="payment.refunded")).encode())
    message = str(err.value)
    assert "id: string_pattern_mismatch" in message
    assert "type: event_type_unknown" in message
    assert "sequence: greater_than_equal" in message


# --- the simulator package -------------------------------------------------------------------------------


def test_simulator_readme_ships_with_the_package_and_documents_every_route() -> None:
    readme = (importlib.resources.files("adapters.payments.simulator") / "README.md").read_text(encoding="utf-8")
    for route in create_simulator_app().routes:
        assert isinstance(route, Route)
        path = route.path
        prefix, _, action = path.rpartition("/")
        # admin actions are documented as /admin/payments/{id}/approve|decline|expire|fail
        assert path in readme or re.search(re.escape(prefix) + r"/[a-z|]*\b" + re.escape(action) + r"\b", readme), path
    for key in ConfigUpdate.model_fields:
        assert f"`{to_camel(key)}`" in readme, key


def test_simulator_runs_as_a_module() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "adapters.payments.simulator", "--help"], capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 0 and "--webhook-url" in answer.stdout


async def test_admin_config_is_validated_field_by_field(admin: httpx.AsyncClient) -> None:
    for body, field in [
        ({"webhookDelayMs": 60_001}, "webhookDelayMs"),
        ({"webhookRetries": -1}, "webhookRetries"),
        ({"webhookRetryBackoffMs": 1.5}, "webhookRetryBackoffMs"),
        ({"duplicateWebhooks": 1}, "duplicateWebhooks"),
        ({"webhookUrl": 5}, "webhookUrl"),
        ({"reverseOrder": True, "verbose": True}, "<unexpected key>: extra_forbidden"),
    ]:
        answer = await admin.post("/admin/config", json=body)
        assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_FAILED"), body
        assert field in answer.json()["detail"]
    assert (await admin.post("/admin/config", json=[])).status_code == 400
    config = (await admin.get("/admin/stats")).json()  # nothing was applied by the refused updates
    assert config["webhooks"]["held"] == 0
    before = (await admin.post("/admin/config", json={})).json()
    assert before["reverseOrder"] is False and before["webhookDelayMs"] == 0
    after = (await admin.post("/admin/config", json={"webhookUrl": None, "webhookRetries": 0})).json()
    assert after == {**before, "webhookUrl": None, "webhookRetries": 0}
