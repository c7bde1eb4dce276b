"""Recurring draws at the payment provider: charges on agreements, processed by the simulator's movable clock.

Everything over real HTTP, as in test_payments.py: the simulator and a webhook receiver each run as a uvicorn
server in a thread (ThreadedServer), the client is the real PaymentsClient, and every webhook is verified and
parsed. Each test starts from a reset simulator whose clock is set to a fixed day (START).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog

from adapters.payments import (
    ChargeRequest,
    InvalidWebhookEvent,
    MalformedResponse,
    PaymentsClient,
    PaymentsRejected,
    PaymentsUnavailable,
    ProviderAgreement,
    ProviderCharge,
    agreement_from_json,
    charge_from_json,
    parse_event,
)
from adapters.payments.simulator import SimulatorState, create_simulator_app
from adapters.simserver import ThreadedServer
from gateway.domain.clock import today as real_today
from tests.adapters.test_payments import FORM_ACTION_RE, SECRET, Receiver, wait_for_events, webhooks_settled

START = date(2040, 3, 1)  # a Thursday, well ahead of the real date (the clock only moves forward)
DAY = timedelta(days=1)
CPR_LIKE = "010190-1234"


# --- servers ---------------------------------------------------------------------------------------------


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
    async with httpx.AsyncClient(base_url=sim_server.url, timeout=5) as http:
        yield http


@pytest.fixture(scope="module")
async def client(sim_server: ThreadedServer) -> AsyncIterator[PaymentsClient]:
    async with PaymentsClient(sim_server.url, timeout=5) as c:
        yield c


@pytest.fixture(autouse=True)
async def fresh_simulator(admin: httpx.AsyncClient, receiver: tuple[Receiver, ThreadedServer]) -> None:
    (await admin.post("/admin/reset")).raise_for_status()
    (await admin.post("/admin/config", json={"webhookRetryBackoffMs": 10})).raise_for_status()
    (await admin.post("/admin/clock", json={"today": START.isoformat()})).raise_for_status()
    receiver[0].received.clear()
    receiver[0].fail_next = 0


@pytest.fixture
def recv(receiver: tuple[Receiver, ThreadedServer]) -> Receiver:
    return receiver[0]


@pytest.fixture
def return_url(receiver: tuple[Receiver, ThreadedServer]) -> str:
    return f"{receiver[1].url}/return?from=sim"


@pytest.fixture
def sim(sim_server: ThreadedServer) -> SimulatorState:
    state: SimulatorState = sim_server.app.state.sim
    return state


# --- helpers ---------------------------------------------------------------------------------------------


async def active_agreement(
    client: PaymentsClient, admin: httpx.AsyncClient, key: str, kind: Any = "MOBILEPAY_SUBSCRIPTION"
) -> ProviderAgreement:
    agreement = await client.create_agreement(
        idempotency_key=f"agr-{key}",
        kind=kind,
        customer_ref=f"cit_{key}",
        mobilepay_account_ref=None,
        description="Afdragsordning",
        return_url="https://gateway.test/return" if kind == "MOBILEPAY_SUBSCRIPTION" else None,
    )
    (await admin.post(f"/admin/agreements/{agreement.id}/activate")).raise_for_status()
    return agreement


async def new_charge(
    client: PaymentsClient,
    agreement_id: str,
    key: str,
    *,
    due: date = START + DAY,
    amount: int = 50_000,
    retry_days: int = 0,
    reference: str | None = None,
) -> ProviderCharge:
    return await client.create_charge(
        agreement_id,
        idempotency_key=key,
        amount_oere=amount,
        due=due,
        retry_days=retry_days,
        description="Afdrag 1 af 12",
        reference=reference or f"ref-{key}",
    )


async def advance(admin: httpx.AsyncClient, days: int = 1) -> date:
    answer = await admin.post("/admin/clock/advance", json={"days": days})
    assert answer.status_code == 200, answer.text
    return date.fromisoformat(answer.json()["today"])


async def charge_events(recv: Receiver, charge_id: str, count: int) -> list[tuple[str, str, int]]:
    events = await wait_for_events(recv, charge_id, count)
    return [(e.type, e.state, e.sequence) for e in sorted(events, key=lambda e: e.sequence)]


# --- the draw: created, due, charged ---------------------------------------------------------------------


async def test_charge_is_drawn_on_its_due_date_and_reported(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver
) -> None:
    agreement = await active_agreement(client, admin, "draw")
    charge = await new_charge(client, agreement.id, "draw-1", due=START + 2 * DAY, amount=123_450, retry_days=3)
    assert (charge.state, charge.version, charge.agreement_id) == ("PENDING", 1, agreement.id)
    assert (charge.amount_oere, charge.captured_oere, charge.due, charge.retry_days) == (123_450, 0, START + 2 * DAY, 3)
    assert charge.failure_reason is None and charge.charged_on is None
    assert charge.reference == "ref-draw-1" and charge.created_at.utcoffset() is not None

    assert await advance(admin) == START + DAY  # the day before: nothing happens
    assert (await client.get_charge(charge.id)).state == "PENDING"
    assert await advance(admin) == START + 2 * DAY
    charged = await client.get_charge(charge.id)
    assert (charged.state, charged.version, charged.captured_oere) == ("CHARGED", 3, 123_450)
    assert charged.charged_on == START + 2 * DAY and charged.failure_reason is None

    assert await charge_events(recv, charge.id, 3) == [
        ("charge.pending", "PENDING", 1),
        ("charge.due", "DUE", 2),
        ("charge.charged", "CHARGED", 3),
    ]
    (last,) = [e for e in recv.events(charge.id) if e.type == "charge.charged"]
    assert last.object_kind == "charge" and charge_from_json(last.data) == charged
    assert await client.list_charges(agreement.id) == [charged]

    await advance(admin, 30)  # nothing is drawn twice
    await webhooks_settled(admin)
    assert len(recv.events(charge.id)) == 3
    assert (await client.get_charge(charge.id)).version == 3


async def test_betalingsservice_payment_instruction_is_the_same_call(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver
) -> None:
    agreement = await active_agreement(client, admin, "bs", kind="BETALINGSSERVICE")
    charge = await new_charge(client, agreement.id, "bs-1", amount=99_900)
    await advance(admin)
    assert (await client.get_charge(charge.id)).state == "CHARGED"
    assert [t for t, _, _ in await charge_events(recv, charge.id, 3)][-1] == "charge.charged"


async def test_same_day_charges_are_processed_in_order(client: PaymentsClient, admin: httpx.AsyncClient) -> None:
    agreement = await active_agreement(client, admin, "order")
    later = await new_charge(client, agreement.id, "order-2", due=START + 2 * DAY)
    first = await new_charge(client, agreement.id, "order-1", due=START + DAY)
    second = await new_charge(client, agreement.id, "order-1b", due=START + DAY)
    await admin.post(f"/admin/agreements/{agreement.id}/fail-charges", json={"times": 1})
    await advance(admin, 2)
    # the rule takes the first charge to come due: earliest due date, then creation order
    states = {c.id: c.state for c in await client.list_charges(agreement.id)}
    assert states == {first.id: "FAILED", second.id: "CHARGED", later.id: "CHARGED"}
    assert [c.id for c in await client.list_charges(agreement.id)] == [later.id, first.id, second.id]


# --- failures and retries --------------------------------------------------------------------------------


async def test_failing_charge_is_retried_for_retry_days_then_failed(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver
) -> None:
    agreement = await active_agreement(client, admin, "fail")
    rule = await admin.post(
        f"/admin/agreements/{agreement.id}/fail-charges", json={"reason": "INSUFFICIENT_FUNDS", "times": 1}
    )
    assert rule.json() == {"agreementId": agreement.id, "reason": "INSUFFICIENT_FUNDS", "times": 1, "attempts": None}
    charge = await new_charge(client, agreement.id, "fail-1", retry_days=2)

    await advance(admin)  # due date: first attempt fails
    due = await client.get_charge(charge.id)
    assert (due.state, due.version, due.failure_reason, due.captured_oere) == ("DUE", 2, None, 0)
    await advance(admin)  # retry day 1 fails; no state change, no new version
    assert (await client.get_charge(charge.id)).version == 2
    await advance(admin)  # retry day 2 (due + retryDays): the last attempt fails
    failed = await client.get_charge(charge.id)
    assert (failed.state, failed.version, failed.failure_reason) == ("FAILED", 3, "INSUFFICIENT_FUNDS")
    assert failed.captured_oere == 0 and failed.charged_on is None
    assert await charge_events(recv, charge.id, 3) == [
        ("charge.pending", "PENDING", 1),
        ("charge.due", "DUE", 2),
        ("charge.failed", "FAILED", 3),
    ]
    (event,) = [e for e in recv.events(charge.id) if e.type == "charge.failed"]
    assert event.data["failureReason"] == "INSUFFICIENT_FUNDS"

    # the rule was for one charge: the next one is drawn
    nxt = await new_charge(client, agreement.id, "fail-2", due=START + 4 * DAY)
    await advance(admin)
    assert (await client.get_charge(nxt.id)).state == "CHARGED"
    with pytest.raises(PaymentsRejected) as err:
        await client.cancel_charge(charge.id, idempotency_key="cancel-failed")
    assert (err.value.status_code, err.value.code) == (409, "INVALID_STATE")


async def test_zero_retry_days_fails_on_the_due_date(client: PaymentsClient, admin: httpx.AsyncClient) -> None:
    agreement = await active_agreement(client, admin, "zero")
    await admin.post(f"/admin/agreements/{agreement.id}/fail-charges", json={"reason": "INVALID_CARD"})
    charge = await new_charge(client, agreement.id, "zero-1", retry_days=0)
    await advance(admin)
    failed = await client.get_charge(charge.id)
    assert (failed.state, failed.failure_reason, failed.version) == ("FAILED", "INVALID_CARD", 3)


async def test_charge_that_fails_once_is_drawn_on_a_retry_day(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver
) -> None:
    agreement = await active_agreement(client, admin, "retry")
    await admin.post(f"/admin/agreements/{agreement.id}/fail-charges", json={"times": 1, "attempts": 1})
    charge = await new_charge(client, agreement.id, "retry-1", retry_days=3)
    await advance(admin)
    assert (await client.get_charge(charge.id)).state == "DUE"
    await advance(admin)
    charged = await client.get_charge(charge.id)
    assert (charged.state, charged.charged_on, charged.captured_oere) == ("CHARGED", START + 2 * DAY, 50_000)
    assert [t for t, _, _ in await charge_events(recv, charge.id, 3)] == [
        "charge.pending",
        "charge.due",
        "charge.charged",
    ]


async def test_clearing_the_failure_lets_the_next_retry_succeed(
    client: PaymentsClient, admin: httpx.AsyncClient
) -> None:
    agreement = await active_agreement(client, admin, "clear")
    await admin.post(f"/admin/agreements/{agreement.id}/fail-charges", json={})  # every charge, until cleared
    one = await new_charge(client, agreement.id, "clear-1", retry_days=5)
    two = await new_charge(client, agreement.id, "clear-2", due=START + 2 * DAY, retry_days=5)
    await advance(admin, 3)
    assert [(await client.get_charge(c.id)).state for c in (one, two)] == ["DUE", "DUE"]
    cleared = await admin.delete(f"/admin/agreements/{agreement.id}/fail-charges")
    assert cleared.json() == {"agreementId": agreement.id, "cleared": True}
    await advance(admin)
    assert [(await client.get_charge(c.id)).charged_on for c in (one, two)] == [START + 4 * DAY] * 2


async def test_failure_injection_is_validated(client: PaymentsClient, admin: httpx.AsyncClient) -> None:
    agreement = await active_agreement(client, admin, "inject")
    for body in (
        {"reason": "insufficient funds"},
        {"reason": CPR_LIKE},
        {"times": 0},
        {"times": 1.5},
        {"times": True},
        {"attempts": "2"},
        {"verbose": True},
    ):
        answer = await admin.post(f"/admin/agreements/{agreement.id}/fail-charges", json=body)
        assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_FAILED"), body
        assert CPR_LIKE not in answer.text
    assert (await admin.post("/admin/agreements/agr_nope/fail-charges", json={})).status_code == 404
    assert (await admin.delete("/admin/agreements/agr_nope/fail-charges")).status_code == 404


# --- creating charges: refusals and idempotency ----------------------------------------------------------


async def test_same_key_returns_the_same_charge_and_another_body_is_refused(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver
) -> None:
    agreement = await active_agreement(client, admin, "idem")
    first = await new_charge(client, agreement.id, "idem-1")
    again = await new_charge(client, agreement.id, "idem-1")
    concurrent = await asyncio.gather(*(new_charge(client, agreement.id, "idem-1") for _ in range(5)))
    assert {c.id for c in [first, again, *concurrent]} == {first.id}
    assert all(c == first for c in [again, *concurrent])

    for changes in ({"amount": 50_001}, {"due": START + 2 * DAY}, {"retry_days": 1}, {"reference": "other"}):
        with pytest.raises(PaymentsRejected) as err:
            await new_charge(client, agreement.id, "idem-1", **changes)
        assert (err.value.status_code, err.value.code) == (409, "IDEMPOTENCY_KEY_REUSED"), changes
    other = await active_agreement(client, admin, "idem-other")
    with pytest.raises(PaymentsRejected) as err:  # the same body on another agreement is another request
        await new_charge(client, other.id, "idem-1")
    assert err.value.code == "IDEMPOTENCY_KEY_REUSED"
    with pytest.raises(PaymentsRejected) as err:  # keys are global: not for a payment either
        await client.create_payment(
            idempotency_key="idem-1",
            reference="r",
            amount_oere=100,
            method="CARD",
            return_url="https://gateway.test/r",
            description="x",
        )
    assert err.value.code == "IDEMPOTENCY_KEY_REUSED"

    stats = (await admin.get("/admin/stats")).json()
    assert stats["charges"] == 1 and stats["calls"]["POST /v1/agreements/{id}/charges"] == 12
    await advance(admin)  # a replay after the state changed answers the current state
    replay = await new_charge(client, agreement.id, "idem-1")
    assert (replay.id, replay.state, replay.version) == (first.id, "CHARGED", 3)
    assert [t for t, _, _ in await charge_events(recv, first.id, 3)].count("charge.pending") == 1


async def test_a_reference_names_one_charge(client: PaymentsClient, admin: httpx.AsyncClient) -> None:
    agreement = await active_agreement(client, admin, "ref")
    await new_charge(client, agreement.id, "ref-1", reference="RK-PLAN-7-RATE-1")
    with pytest.raises(PaymentsRejected) as err:  # the same draw under another key is not drawn twice
        await new_charge(client, agreement.id, "ref-2", reference="RK-PLAN-7-RATE-1")
    assert (err.value.status_code, err.value.code) == (409, "DUPLICATE_REFERENCE")
    assert (await admin.get("/admin/stats")).json()["charges"] == 1


async def test_due_date_must_be_after_the_providers_today(client: PaymentsClient, admin: httpx.AsyncClient) -> None:
    agreement = await active_agreement(client, admin, "soon")
    for due in (START, START - DAY, START - 400 * DAY):
        with pytest.raises(PaymentsRejected) as err:
            await new_charge(client, agreement.id, f"soon-{due}", due=due)
        assert (err.value.status_code, err.value.code) == (400, "DUE_TOO_SOON")
    assert (await new_charge(client, agreement.id, "soon-ok", due=START + DAY)).state == "PENDING"
    await advance(admin, 10)  # "today" is the provider's clock
    with pytest.raises(PaymentsRejected) as err:
        await new_charge(client, agreement.id, "soon-late", due=START + 10 * DAY)
    assert err.value.code == "DUE_TOO_SOON"
    # a refused write may be retried with the same key once it is right
    assert (await new_charge(client, agreement.id, "soon-late", due=START + 11 * DAY)).due == START + 11 * DAY


async def test_charges_need_an_active_agreement(
    client: PaymentsClient, admin: httpx.AsyncClient, return_url: str
) -> None:
    pending = await client.create_agreement(
        idempotency_key="agr-pending",
        kind="MOBILEPAY_SUBSCRIPTION",
        customer_ref="cit_p",
        mobilepay_account_ref=None,
        description="Afdragsordning",
        return_url=return_url,
    )
    with pytest.raises(PaymentsRejected) as err:
        await new_charge(client, pending.id, "na-pending")
    assert (err.value.status_code, err.value.code) == (409, "AGREEMENT_NOT_ACTIVE")
    stopped = await active_agreement(client, admin, "na-stopped")
    await client.stop_agreement(stopped.id, idempotency_key="stop-na")
    with pytest.raises(PaymentsRejected) as err:
        await new_charge(client, stopped.id, "na-stopped")
    assert err.value.code == "AGREEMENT_NOT_ACTIVE"
    with pytest.raises(PaymentsRejected) as err:
        await new_charge(client, "agr_nope", "na-unknown")
    assert (err.value.status_code, err.value.code) == (404, "NOT_FOUND")
    with pytest.raises(PaymentsRejected) as err:
        await client.get_charge("chg_nope")
    assert err.value.code == "NOT_FOUND"
    with pytest.raises(PaymentsRejected) as err:
        await client.list_charges("agr_nope")
    assert err.value.code == "NOT_FOUND"
    assert (await admin.get("/admin/stats")).json()["charges"] == 0


async def test_client_refuses_bad_charges_before_sending(client: PaymentsClient, admin: httpx.AsyncClient) -> None:
    agreement = await active_agreement(client, admin, "local")
    with pytest.raises(TypeError):
        await new_charge(client, agreement.id, "l-1", amount=500.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await new_charge(client, agreement.id, "l-2", amount=True)
    with pytest.raises(ValueError):
        await new_charge(client, agreement.id, "l-3", amount=0)
    with pytest.raises(TypeError):
        await new_charge(client, agreement.id, "l-4", due=datetime(2040, 3, 5, 12))
    for days in (-1, 15):
        with pytest.raises(ValueError, match="retry_days"):
            await new_charge(client, agreement.id, "l-5", retry_days=days)
    with pytest.raises(ValueError, match="CPR"):
        await new_charge(client, agreement.id, "l-6", reference=f"x {CPR_LIKE}")
    with pytest.raises(ValueError):
        await new_charge(client, "../admin/reset", "l-7")
    with pytest.raises(ValueError):
        await new_charge(client, agreement.id, "bad key")
    assert (await admin.get("/admin/stats")).json()["calls"].get("POST /v1/agreements/{id}/charges") is None


async def test_the_provider_refuses_what_the_client_would(client: PaymentsClient, admin: httpx.AsyncClient) -> None:
    agreement = await active_agreement(client, admin, "raw")
    good = {
        "amount": {"currency": "DKK", "value": 100},
        "due": (START + DAY).isoformat(),
        "retryDays": 0,
        "description": "x",
        "reference": "raw",
    }
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("r1", {"amount": {"currency": "DKK", "value": 100.0}}, "INVALID_AMOUNT"),
        ("r2", {"amount": {"currency": "DKK", "value": -5}}, "INVALID_AMOUNT"),
        ("r3", {"due": "20400302"}, "VALIDATION_FAILED"),
        ("r4", {"due": "2040-02-30"}, "VALIDATION_FAILED"),
        ("r5", {"due": "2040-03-02T00:00:00"}, "VALIDATION_FAILED"),
        ("r6", {"retryDays": 15}, "VALIDATION_FAILED"),
        ("r7", {"retryDays": "2"}, "VALIDATION_FAILED"),
        ("r8", {"description": f"Afdrag {CPR_LIKE}"}, "CPR_NOT_ALLOWED"),
    ]
    for key, changes, code in cases:
        answer = await admin.post(
            f"/v1/agreements/{agreement.id}/charges", json={**good, **changes}, headers={"Idempotency-Key": key}
        )
        assert (answer.status_code, answer.json()["code"]) == (400, code), changes
    missing = await admin.post(f"/v1/agreements/{agreement.id}/charges", json=good)
    assert missing.json()["code"] == "IDEMPOTENCY_KEY_MISSING"
    assert (await admin.get("/admin/stats")).json()["charges"] == 0


# --- cancelling ------------------------------------------------------------------------------------------


async def test_cancel_before_due(client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver) -> None:
    agreement = await active_agreement(client, admin, "cancel")
    charge = await new_charge(client, agreement.id, "cancel-1")
    cancelled = await client.cancel_charge(charge.id, idempotency_key="cancel-c1")
    assert (cancelled.state, cancelled.version) == ("CANCELLED", 2)
    assert await client.cancel_charge(charge.id, idempotency_key="cancel-c2") == cancelled  # no-op
    await advance(admin, 5)
    assert await client.get_charge(charge.id) == cancelled
    await webhooks_settled(admin)
    assert await charge_events(recv, charge.id, 2) == [
        ("charge.pending", "PENDING", 1),
        ("charge.cancelled", "CANCELLED", 2),
    ]

    drawn = await new_charge(client, agreement.id, "cancel-2", due=START + 6 * DAY)
    await advance(admin)
    with pytest.raises(PaymentsRejected) as err:
        await client.cancel_charge(drawn.id, idempotency_key="cancel-c3")
    assert (err.value.status_code, err.value.code) == (409, "INVALID_STATE")
    assert (await client.get_charge(drawn.id)).state == "CHARGED"


async def test_a_due_charge_being_retried_can_be_cancelled(client: PaymentsClient, admin: httpx.AsyncClient) -> None:
    agreement = await active_agreement(client, admin, "cancel-due")
    await admin.post(f"/admin/agreements/{agreement.id}/fail-charges", json={})
    charge = await new_charge(client, agreement.id, "cancel-due-1", retry_days=5)
    await advance(admin)
    assert (await client.cancel_charge(charge.id, idempotency_key="cd-1")).state == "CANCELLED"
    await advance(admin, 10)
    assert (await client.get_charge(charge.id)).state == "CANCELLED"


@pytest.mark.parametrize("how", ["stop", "expire"])
async def test_stopping_the_agreement_cancels_charges_not_yet_charged(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, how: str
) -> None:
    agreement = await active_agreement(client, admin, f"stop-{how}")
    charged = await new_charge(client, agreement.id, f"{how}-charged", due=START + DAY)
    retrying = await new_charge(client, agreement.id, f"{how}-retrying", due=START + 2 * DAY, retry_days=5)
    pending = await new_charge(client, agreement.id, f"{how}-pending", due=START + 40 * DAY)
    await advance(admin)
    await admin.post(f"/admin/agreements/{agreement.id}/fail-charges", json={})
    await advance(admin)
    assert [(await client.get_charge(c.id)).state for c in (charged, retrying, pending)] == [
        "CHARGED",
        "DUE",
        "PENDING",
    ]

    if how == "stop":
        stopped = await client.stop_agreement(agreement.id, idempotency_key="stop-it")
        assert stopped.state == "STOPPED"
    else:
        assert (await admin.post(f"/admin/agreements/{agreement.id}/expire")).json()["state"] == "EXPIRED"
    states = {c.id: (c.state, c.version) for c in await client.list_charges(agreement.id)}
    assert states == {charged.id: ("CHARGED", 3), retrying.id: ("CANCELLED", 3), pending.id: ("CANCELLED", 2)}
    assert (await charge_events(recv, pending.id, 2))[-1] == ("charge.cancelled", "CANCELLED", 2)
    assert (await charge_events(recv, retrying.id, 3))[-1] == ("charge.cancelled", "CANCELLED", 3)
    await advance(admin, 60)
    assert {c.state for c in await client.list_charges(agreement.id)} == {"CHARGED", "CANCELLED"}


# --- bulk ------------------------------------------------------------------------------------------------


def _request(agreement_id: str, key: str, **changes: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "agreement_id": agreement_id,
        "idempotency_key": key,
        "amount_oere": 25_000,
        "due": START + DAY,
        "retry_days": 2,
        "description": "Afdrag",
        "reference": f"ref-{key}",
    }
    values.update(changes)
    return ChargeRequest(**values)


async def test_bulk_creates_all_or_nothing(client: PaymentsClient, admin: httpx.AsyncClient) -> None:
    one = await active_agreement(client, admin, "bulk-1")
    two = await active_agreement(client, admin, "bulk-2", kind="BETALINGSSERVICE")
    single = await new_charge(client, one.id, "b-0", amount=25_000, retry_days=2)

    refused = [
        _request(one.id, "b-1"),
        _request(two.id, "b-2", due=START),
        _request(two.id, "b-3"),
    ]
    with pytest.raises(PaymentsRejected) as err:
        await client.create_charges(refused)
    assert (err.value.status_code, err.value.code, err.value.index) == (400, "DUE_TOO_SOON", 1)
    assert "charges[1]" in err.value.message
    assert (await admin.get("/admin/stats")).json()["charges"] == 1  # nothing of it was created

    for bad, code, index in [
        ([_request(one.id, "b-1"), _request(two.id, "b-2", reference="ref-b-1")], "DUPLICATE_REFERENCE", 1),
        ([_request(one.id, "b-1"), _request(two.id, "b-0")], "IDEMPOTENCY_KEY_REUSED", 1),
        ([_request("agr_nope", "b-1")], "NOT_FOUND", 0),
    ]:
        with pytest.raises(PaymentsRejected) as err:
            await client.create_charges(bad)
        assert (err.value.code, err.value.index) == (code, index)

    batch = [
        _request(one.id, "b-1"),
        _request(one.id, "b-0", description="Afdrag 1 af 12"),  # the one created singly: replayed
        _request(two.id, "b-2", due=START + 2 * DAY),
        _request(one.id, "b-1"),  # the same key twice in one batch: the same charge
    ]
    created = await client.create_charges(batch)
    assert [c.reference for c in created] == ["ref-b-1", "ref-b-0", "ref-b-2", "ref-b-1"]
    assert created[1] == single and created[0] == created[3]
    assert {c.state for c in created} == {"PENDING"}
    assert (await admin.get("/admin/stats")).json()["charges"] == 3
    assert await client.create_charges(batch) == created  # the whole batch replayed
    assert await client.create_charges(batch[2:3]) == [created[2]]  # a part of it, item by item
    assert (await admin.get("/admin/stats")).json()["charges"] == 3

    await advance(admin, 2)
    assert {c.state for c in await client.list_charges(one.id)} == {"CHARGED"}
    assert [c.state for c in await client.list_charges(two.id)] == ["CHARGED"]

    with pytest.raises(ValueError):
        await client.create_charges([])
    with pytest.raises(ValueError):
        await client.create_charges([_request(one.id, f"many-{i}") for i in range(2001)])


async def test_bulk_limits_at_the_provider(admin: httpx.AsyncClient) -> None:
    answer = await admin.post("/v1/charges", json={"charges": []}, headers={"Idempotency-Key": "bulk-empty"})
    assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_FAILED")
    item = {"idempotencyKey": "same", "agreementId": "agr_x"}
    answer = await admin.post("/v1/charges", json={"charges": [item]}, headers={"Idempotency-Key": "same"})
    assert (answer.status_code, answer.json()["index"]) == (400, 0)


# --- the clock -------------------------------------------------------------------------------------------


async def test_clock_moves_forward_only(admin: httpx.AsyncClient) -> None:
    assert (await admin.get("/admin/clock")).json() == {"today": START.isoformat()}
    answer = await admin.post("/admin/clock", json={"today": "2040-03-10"})
    assert answer.json() == {"today": "2040-03-10"}
    assert (await admin.post("/admin/clock", json={"today": "2040-03-10"})).status_code == 200  # same day: no-op
    back = await admin.post("/admin/clock", json={"today": "2040-03-09"})
    assert (back.status_code, back.json()["code"]) == (409, "CLOCK_BACKWARDS")
    bodies: list[dict[str, Any]] = [{"today": "10-03-2040"}, {"today": 20400311}, {}, {"today": "2040-03-11", "x": 1}]
    for body in bodies:
        assert (await admin.post("/admin/clock", json=body)).status_code == 400, body
    bodies = [{"days": -1}, {"days": 1.0}, {"days": True}, {"days": "1"}, {"days": 3661}, {}]
    for body in bodies:
        answer = await admin.post("/admin/clock/advance", json=body)
        assert (answer.status_code, answer.json()["code"]) == (400, "VALIDATION_FAILED"), body
    assert await advance(admin, 0) == date(2040, 3, 10)
    assert await advance(admin, 22) == date(2040, 4, 1)

    await admin.post("/admin/reset")
    assert (await admin.get("/admin/clock")).json() == {"today": real_today().isoformat()}


async def test_the_clock_can_be_moved_from_other_threads(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, sim: SimulatorState
) -> None:
    agreement = await active_agreement(client, admin, "threads")
    charges = [await new_charge(client, agreement.id, f"t-{i}", due=START + (i + 1) * DAY) for i in range(8)]

    def move() -> None:
        for _ in range(2):
            sim.advance_days(1)  # called straight on the state, from a thread that is not the server's

    def move_in_four_threads() -> None:
        threads = [threading.Thread(target=move) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    await asyncio.to_thread(move_in_four_threads)
    assert (await admin.get("/admin/clock")).json()["today"] == (START + 8 * DAY).isoformat()
    drawn = await client.list_charges(agreement.id)
    assert [(c.state, c.version, c.charged_on) for c in drawn] == [
        ("CHARGED", 3, START + (i + 1) * DAY) for i in range(8)
    ]
    for charge in charges:  # each drawn once, and its webhooks delivered from the server's loop
        assert [t for t, _, _ in await charge_events(recv, charge.id, 3)] == [
            "charge.pending",
            "charge.due",
            "charge.charged",
        ]


# --- webhooks --------------------------------------------------------------------------------------------


async def test_lost_charge_webhooks_are_caught_up_by_polling(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver
) -> None:
    agreement = await active_agreement(client, admin, "lost")
    await admin.post("/admin/config", json={"dropWebhooks": True})
    charge = await new_charge(client, agreement.id, "lost-1")
    await advance(admin)
    await webhooks_settled(admin)
    assert recv.events(charge.id) == []
    assert (await client.get_charge(charge.id)).state == "CHARGED"
    log = [r for r in (await admin.get("/admin/webhooks")).json() if r["objectId"] == charge.id]
    assert [(r["type"], r["status"]) for r in log] == [
        ("charge.pending", "dropped"),
        ("charge.due", "dropped"),
        ("charge.charged", "dropped"),
    ]


async def test_charge_webhooks_out_of_order(client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver) -> None:
    agreement = await active_agreement(client, admin, "rev")
    await admin.post("/admin/config", json={"reverseOrder": True, "duplicateWebhooks": True})
    charge = await new_charge(client, agreement.id, "rev-1")
    await advance(admin)
    assert (await admin.post("/admin/webhooks/flush")).json() == {"flushed": 3}
    events = await wait_for_events(recv, charge.id, 6)
    assert [e.sequence for e in events] == [3, 3, 2, 2, 1, 1]


def _charge_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "evt_c1",
        "type": "charge.charged",
        "objectId": "chg_1",
        "state": "CHARGED",
        "sequence": 3,
        "occurredAt": "2040-03-02T06:00:00+00:00",
        "data": {"id": "chg_1", "state": "CHARGED", "version": 3},
    }
    event.update(changes)
    return event


def test_parse_event_accepts_charge_events_strictly() -> None:
    for event_type, state in [
        ("charge.pending", "PENDING"),
        ("charge.due", "DUE"),
        ("charge.reserved", "RESERVED"),
        ("charge.charged", "CHARGED"),
        ("charge.failed", "FAILED"),
        ("charge.cancelled", "CANCELLED"),
    ]:
        body = _charge_event(type=event_type, state=state, data={"id": "chg_1", "state": state, "version": 3})
        event = parse_event(json.dumps(body).encode())
        assert (event.type, event.state, event.object_kind, event.object_id) == (event_type, state, "charge", "chg_1")
    for bad in (
        _charge_event(objectId="pay_1", data={"id": "pay_1", "state": "CHARGED", "version": 3}),
        _charge_event(state="FAILED"),
        _charge_event(type="charge.refunded"),
        _charge_event(data={"id": "chg_1", "state": "DUE", "version": 3}),
    ):
        with pytest.raises(InvalidWebhookEvent):
            parse_event(json.dumps(bad).encode())


# --- the agreement reports the account the citizen chose -------------------------------------------------


async def test_the_account_chosen_at_approval_is_reported(
    client: PaymentsClient, admin: httpx.AsyncClient, recv: Receiver, sim_server: ThreadedServer, return_url: str
) -> None:
    suggested = "mpacc_loenkonto"

    async def mobilepay(key: str) -> ProviderAgreement:
        return await client.create_agreement(
            idempotency_key=key,
            kind="MOBILEPAY_SUBSCRIPTION",
            customer_ref=f"cit_{key}",
            mobilepay_account_ref=suggested,
            description="Afdragsordning",
            return_url=return_url,
        )

    # in the browser: the citizen picks another account on the approval page
    agreement = await mobilepay("acc-page")
    async with httpx.AsyncClient(timeout=5) as browser:
        page = await browser.get(agreement.confirmation_url or "")
        assert 'value="mpacc_budgetkonto"' in page.text
        approve = FORM_ACTION_RE.findall(page.text)[0]
        answer = await browser.post(f"{sim_server.url}{approve}", data={"mobilePayAccountRef": "mpacc_budgetkonto"})
        assert answer.status_code == 303
        same = await browser.post(f"{sim_server.url}{approve}", data={"account": "mpacc_budgetkonto"})
        assert same.status_code == 303  # the same choice again
        other = await browser.post(f"{sim_server.url}{approve}", data={"account": "mpacc_third"})
        assert other.status_code == 409  # a conflicting one
        bad = await browser.post(f"{sim_server.url}{approve}", data={"account": CPR_LIKE})
        assert bad.status_code == 400 and CPR_LIKE not in bad.text
    active = await client.get_agreement(agreement.id)
    assert (active.state, active.mobilepay_account_ref, active.version) == ("ACTIVE", "mpacc_budgetkonto", 2)
    (event,) = await wait_for_events(recv, agreement.id, 1)
    assert event.type == "agreement.activated" and agreement_from_json(event.data) == active

    # by the admin API (the citizen approved in the app)
    other_agreement = await mobilepay("acc-admin")
    answer = await admin.post(
        f"/admin/agreements/{other_agreement.id}/activate", json={"mobilePayAccountRef": "mpacc_opsparing"}
    )
    assert (answer.json()["state"], answer.json()["mobilePayAccountRef"]) == ("ACTIVE", "mpacc_opsparing")
    assert (await client.get_agreement(other_agreement.id)).mobilepay_account_ref == "mpacc_opsparing"
    again = await admin.post(f"/admin/agreements/{other_agreement.id}/activate", json={"mobilePayAccountRef": "x_y"})
    assert (again.status_code, again.json()["code"]) == (409, "INVALID_STATE")
    for body in ({"mobilePayAccountRef": CPR_LIKE}, {"mobilePayAccountRef": 5}, {"mobilePayAccountRef": "a b"}):
        fresh = await mobilepay(f"acc-bad-{len(str(body))}-{type(body['mobilePayAccountRef']).__name__}")
        refused = await admin.post(f"/admin/agreements/{fresh.id}/activate", json=body)
        assert (refused.status_code, refused.json()["code"]) == (400, "VALIDATION_FAILED")
        assert (await client.get_agreement(fresh.id)).state == "PENDING"

    # the account suggested by the merchant stays when the citizen keeps it
    kept = await mobilepay("acc-kept")
    await admin.post(f"/admin/agreements/{kept.id}/activate")
    assert (await client.get_agreement(kept.id)).mobilepay_account_ref == suggested

    bs = await client.create_agreement(
        idempotency_key="acc-bs",
        kind="BETALINGSSERVICE",
        customer_ref="cit_bs",
        mobilepay_account_ref=None,
        description="Ejendomsskat",
        return_url=None,
    )
    refused = await admin.post(f"/admin/agreements/{bs.id}/activate", json={"mobilePayAccountRef": "mpacc_x"})
    assert (refused.status_code, refused.json()["code"]) == (400, "VALIDATION_FAILED")


# --- parsing the provider's charges ----------------------------------------------------------------------


def _charge_json(**changes: Any) -> dict[str, Any]:
    charge: dict[str, Any] = {
        "id": "chg_1",
        "agreementId": "agr_1",
        "reference": "RK-PLAN-7-RATE-1",
        "description": "Afdrag 1 af 12",
        "amount": {"currency": "DKK", "value": 50_000},
        "capturedAmount": {"currency": "DKK", "value": 50_000},
        "due": "2040-03-02",
        "retryDays": 3,
        "state": "CHARGED",
        "failureReason": None,
        "chargedOn": "2040-03-02",
        "createdAt": "2040-03-01T09:00:00+00:00",
        "version": 3,
    }
    charge.update(changes)
    return charge


def test_well_formed_charge_parses() -> None:
    charge = charge_from_json(_charge_json(newField=[1]))
    assert charge == ProviderCharge(
        id="chg_1",
        agreement_id="agr_1",
        reference="RK-PLAN-7-RATE-1",
        amount_oere=50_000,
        captured_oere=50_000,
        due=date(2040, 3, 2),
        retry_days=3,
        state="CHARGED",
        failure_reason=None,
        version=3,
        created_at=datetime.fromisoformat("2040-03-01T09:00:00+00:00"),
        charged_on=date(2040, 3, 2),
    )
    bare = {k: v for k, v in _charge_json(state="PENDING").items() if k not in ("failureReason", "chargedOn")}
    assert charge_from_json(bare).charged_on is None


@pytest.mark.parametrize(
    "changes,path",
    [
        ({"amount": {"currency": "DKK", "value": 500.0}}, "amount.value"),
        ({"amount": {"currency": "DKK", "value": "50000"}}, "amount.value"),
        ({"capturedAmount": {"currency": "DKK", "value": True}}, "capturedAmount.value"),
        ({"capturedAmount": {"currency": "DKK", "value": CPR_LIKE}}, "capturedAmount.value"),
        ({"due": "2040-03-02T00:00:00"}, "due"),
        ({"due": "20400302"}, "due"),
        ({"due": CPR_LIKE}, "due"),
        ({"due": 20400302}, "due"),
        ({"chargedOn": "2040-02-30"}, "chargedOn"),
        ({"retryDays": "3"}, "retryDays"),
        ({"retryDays": -1}, "retryDays"),
        ({"state": "REFUNDED"}, "state"),
        ({"state": "charged"}, "state"),
        ({"failureReason": 5}, "failureReason"),
        ({"version": 0}, "version"),
        ({"agreementId": f"agr {CPR_LIKE}"}, "agreementId"),
        ({"createdAt": CPR_LIKE}, "createdAt"),
    ],
)
def test_malformed_charge_names_the_field_but_never_the_value(changes: dict[str, Any], path: str) -> None:
    with structlog.testing.capture_logs() as logs, pytest.raises(MalformedResponse) as err:
        charge_from_json(_charge_json(**changes))
    assert isinstance(err.value, PaymentsUnavailable)
    assert f"{path}: " in str(err.value)
    (entry,) = [e for e in logs if e["event"] == "payments.malformed_response"]
    assert entry["object"] == "charge"
    assert CPR_LIKE not in str(err.value) and CPR_LIKE not in repr(logs)
    assert "20400302" not in str(err.value)


async def test_malformed_charges_over_http() -> None:
    def answer(content: Any) -> httpx.MockTransport:
        body = json.dumps(content).encode()
        return httpx.MockTransport(lambda request: httpx.Response(200, content=body))

    async with PaymentsClient("http://provider", transport=answer(_charge_json(due="2040-3-2"))) as c:
        with pytest.raises(MalformedResponse, match="due: date_format"):
            await c.get_charge("chg_1")
    bad_list = {"charges": [_charge_json(), _charge_json(amount={"currency": "DKK", "value": 1.5})]}
    async with PaymentsClient("http://provider", transport=answer(bad_list)) as c:
        with pytest.raises(MalformedResponse, match=r"charges\.1\.amount\.value: int_type"):
            await c.list_charges("agr_1")
    async with PaymentsClient("http://provider", transport=answer([_charge_json()])) as c:
        with pytest.raises(MalformedResponse, match="<root>"):
            await c.create_charges([_request("agr_1", "k1")])
