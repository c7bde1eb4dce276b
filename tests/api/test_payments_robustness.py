"""Payments that always end, a poll that reaches them all, provider keys that never collide, and a minimum amount
(issue 11: defects 13, 14 and 6, and "a payment of 0.01 DKK is accepted"). Each test failed before its fix.

The gateway runs in-process (its services called as the worker calls them); the payment provider is the
simulator over real HTTP, with its webhooks dropped: what the gateway learns, it learns by the status poll, and
poll rounds are counted, never timed.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from adapters.ledger import models as m
from adapters.payments.client import PaymentsClient
from adapters.payments.webhooks import SIGNATURE_HEADER, encode_event, sign
from adapters.simserver import ThreadedServer
from gateway.usecases.draws import draw_reference
from gateway.usecases.payments import MIN_PAYMENT_OERE, Payments, payment_reference
from tests.conftest import ANNA, DAVID, Api, BreakerClock, build_api

SECRET = "test-webhook-secret"
RETURN_URL = "https://app.example/done"

START = """mutation($input: StartPaymentInput!) { startPayment(input: $input) {
  payment { id status amount { amountOere } } userErrors { code field message } } }"""

NOTICES = "{ me { notices { code severity message createdAt } } }"

ITEMS = """query($kinds: [CaseworkerItemKind!]) { caseworkerItems(kinds: $kinds, first: 100) {
  nodes { kind citizen { name } } } }"""


@pytest.fixture
async def gw(migrated: str, gaeldst_sim: ThreadedServer, payments_sim: ThreadedServer) -> AsyncIterator[Api]:
    """The gateway against the provider simulator, every webhook lost (only the poll brings news)."""
    async with build_api(migrated, gaeldst_sim, payments_url=payments_sim.url, payments_webhook_secret=SECRET) as api:
        async with httpx.AsyncClient(base_url=payments_sim.url, timeout=10) as admin:
            (await admin.post("/admin/reset")).raise_for_status()
            (await admin.post("/admin/config", json={"webhookUrl": None, "dropWebhooks": True})).raise_for_status()
        yield api


async def sim(payments_sim: ThreadedServer, method: str, path: str, json: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=payments_sim.url, timeout=10) as admin:
        answer = await admin.request(method, path, json=json)
        assert answer.status_code < 400, answer.text
        return answer.json()


async def one(api: Api, stmt: Any) -> Any:
    async with api.services.db.read() as conn:
        return (await conn.execute(stmt)).one()


async def citizen_and_claim(api: Api, cpr: str, reference: str) -> tuple[int, int]:
    row = await one(
        api,
        select(m.Citizen.id, m.Claim.id)
        .join(m.Claim, m.Claim.citizen_id == m.Citizen.id)
        .where(m.Citizen.cpr == cpr, m.Claim.reference == reference),
    )
    return int(row[0]), int(row[1])


async def outstanding(api: Api, claim_id: int) -> int:
    stmt = select(func.coalesce(func.sum(m.LedgerEntry.amount_oere), 0)).where(m.LedgerEntry.claim_id == claim_id)
    return int((await one(api, stmt))[0])


async def pay(api: Api, citizen_id: int, claim_id: int, amount: str = "1.00") -> int:
    """Start a card payment the way startPayment does (the provider is asked at once)."""
    key = uuid.uuid4().hex
    outcome = await api.services.payments.start(
        actor=f"robustness-{citizen_id}",
        citizen_id=citizen_id,
        claim_ids=[claim_id],
        problems=[],
        method="CARD",
        return_url=RETURN_URL,
        amount=amount,
        idempotency_key=key,
        payload={"claim": claim_id, "amount": amount, "key": key},
    )
    assert outcome.ok, outcome.errors
    return int(outcome.result["payment"])


async def payment(api: Api, payment_id: int) -> Any:
    return await one(api, select(m.Payment).where(m.Payment.id == payment_id))


async def statuses(api: Api, ids: list[int]) -> dict[str, int]:
    """How many of these payments are in each status (other tests' payments may share the database)."""
    async with api.services.db.read() as conn:
        rows = await conn.execute(
            select(m.Payment.status, func.count()).where(m.Payment.id.in_(ids)).group_by(m.Payment.status)
        )
        return {str(status): int(n) for status, n in rows}


def set_policy(api: Api, **changes: Any) -> None:
    payments: Payments = api.services.payments
    payments.policy = dataclasses.replace(payments.policy, **changes)


async def poll_round(api: Api) -> None:
    await api.services.provider_events.poll_once(min_age_seconds=0)


async def webhook(api: Api, event_type: str, obj: dict[str, Any]) -> httpx.Response:
    """Deliver a signed provider event to the gateway, as the provider would."""
    now = datetime.now(UTC)
    body = encode_event(event_id=f"evt_{uuid.uuid4().hex[:20]}", event_type=event_type, obj=obj, occurred_at=now)
    headers = {SIGNATURE_HEADER: sign(SECRET.encode(), body, int(now.timestamp()))}
    return await api.client.post("/webhooks/payments", content=body, headers=headers)


# --- defect 13: the poll starves, abandoned checkouts stay open forever ---------------------------------------


async def test_a_lost_webhook_is_recovered_with_1000_payments_open_and_abandoned_checkouts_expire(
    gw: Api, payments_sim: ThreadedServer
) -> None:
    citizen_id, claim_id = await citizen_and_claim(gw, ANNA, "RK-EJD-2025-1187")
    before = await outstanding(gw, claim_id)
    ids = [await pay(gw, citizen_id, claim_id) for _ in range(1000)]
    newest = await payment(gw, ids[-1])
    # The citizen approves the newest one; its webhook is lost (all 999 others are abandoned checkouts).
    await sim(payments_sim, "POST", f"/admin/payments/{newest.provider_ref}/approve")

    batch = gw.services.payments.policy.poll_batch
    bound = math.ceil(len(ids) / batch)  # every open payment is reached within this many rounds
    rounds = 0
    while (await payment(gw, ids[-1])).status != "CAPTURED":
        assert rounds < bound, f"not captured after {rounds} poll rounds of {batch}"
        await poll_round(gw)
        rounds += 1
    assert await outstanding(gw, claim_id) == before - 100  # posted once
    assert await statuses(gw, ids) == {"CREATED": 999, "CAPTURED": 1}

    # The provider expires checkouts nobody approved (its clock moves a day: far past its 10 minutes); the poll
    # reaches each of them within the same bound, and they end EXPIRED here too.
    await sim(payments_sim, "POST", "/admin/clock/advance", {"days": 1})
    for _ in range(bound):
        await poll_round(gw)
    assert await statuses(gw, ids) == {"EXPIRED": 999, "CAPTURED": 1}
    # Nothing is open any more: a round asks the provider about nothing.
    asked = (await sim(payments_sim, "GET", "/admin/stats"))["calls"].get("GET /v1/payments/{id}", 0)
    await poll_round(gw)
    assert (await sim(payments_sim, "GET", "/admin/stats"))["calls"].get("GET /v1/payments/{id}", 0) == asked
    assert await outstanding(gw, claim_id) == before - 100


async def test_the_poll_takes_the_least_recently_asked_first(gw: Api) -> None:
    citizen_id, claim_id = await citizen_and_claim(gw, ANNA, "RK-EJD-2025-1187")
    ids = [await pay(gw, citizen_id, claim_id) for _ in range(5)]
    set_policy(gw, poll_batch=2)
    asked: list[list[int]] = []
    for _ in range(4):
        before = {i: (await payment(gw, i)).polled_at for i in ids}
        await poll_round(gw)
        asked.append([i for i in ids if (await payment(gw, i)).polled_at != before[i]])
    # Round robin over the five open payments, two a round: nobody waits more than ⌈5 / 2⌉ rounds.
    assert [set(a) for a in asked] == [set(ids[0:2]), set(ids[2:4]), {ids[4], ids[0]}, set(ids[1:3])]


async def test_the_gateway_ends_a_checkout_the_provider_never_expires(gw: Api, payments_sim: ThreadedServer) -> None:
    await sim(payments_sim, "POST", "/admin/config", {"paymentExpirySeconds": 0})  # this provider never expires
    citizen_id, claim_id = await citizen_and_claim(gw, ANNA, "RK-EJD-2025-1187")
    abandoned = await pay(gw, citizen_id, claim_id)
    approved = await pay(gw, citizen_id, claim_id)
    await sim(payments_sim, "POST", f"/admin/payments/{(await payment(gw, approved)).provider_ref}/approve")

    await poll_round(gw)  # young: left alone
    assert (await payment(gw, abandoned)).status == "CREATED"
    set_policy(gw, expire_created_after=timedelta(0))  # as if the policy's 30 minutes had passed
    await poll_round(gw)
    ended = await payment(gw, abandoned)
    assert ended.status == "EXPIRED"
    at_provider = await sim(payments_sim, "GET", f"/v1/payments/{ended.provider_ref}")
    assert at_provider["state"] == "TERMINATED"  # it can no longer be paid
    assert (await payment(gw, approved)).status == "CAPTURED"  # approved in time: captured, not ended

    # The provider's late payment.terminated webhook changes nothing.
    assert (await webhook(gw, "payment.terminated", at_provider)).status_code == 200
    assert (await payment(gw, abandoned)).status == "EXPIRED"


# --- defect 14: a payment stays AUTHORIZED forever -------------------------------------------------------------


class ProviderFaults(httpx.AsyncBaseTransport):
    """Fault injection in front of the real simulator: answer a capture with 503 (the provider stumbled) or with a
    refusal, while asked to."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.capture_answer: tuple[int, dict[str, Any]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.capture_answer is not None and request.url.path.endswith("/capture"):
            status, problem = self.capture_answer
            return httpx.Response(status, json=problem, headers={"Content-Type": "application/problem+json"})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def faults(gw: Api, payments_sim: ThreadedServer) -> AsyncIterator[ProviderFaults]:
    transport = ProviderFaults()
    real = gw.services.payments.provider
    async with PaymentsClient(payments_sim.url, timeout=5, transport=transport) as client:
        gw.services.payments.provider = client
        try:
            yield transport
        finally:
            gw.services.payments.provider = real


async def authorized_payment(gw: Api, payments_sim: ThreadedServer, faults: ProviderFaults) -> tuple[int, int]:
    """A payment the citizen approved, held AUTHORIZED here because its capture failed (the provider was down)."""
    citizen_id, claim_id = await citizen_and_claim(gw, ANNA, "RK-DAG-2025-0412")
    payment_id = await pay(gw, citizen_id, claim_id, "250.00")
    await sim(payments_sim, "POST", f"/admin/payments/{(await payment(gw, payment_id)).provider_ref}/approve")
    faults.capture_answer = (503, {"code": "UNAVAILABLE"})
    await poll_round(gw)
    assert (await payment(gw, payment_id)).status == "AUTHORIZED"
    return payment_id, claim_id


async def test_an_authorized_payment_the_provider_no_longer_knows_ends_failed_and_both_are_told(
    gw: Api, payments_sim: ThreadedServer, faults: ProviderFaults
) -> None:
    set_policy(gw, max_refusals=3)
    payment_id, claim_id = await authorized_payment(gw, payments_sim, faults)
    before = await outstanding(gw, claim_id)
    await sim(payments_sim, "POST", "/admin/reset")  # the provider forgets it: 404 from now on
    await sim(payments_sim, "POST", "/admin/config", {"webhookUrl": None, "dropWebhooks": True})
    for round_ in range(1, 4):
        await poll_round(gw)
        row = await payment(gw, payment_id)
        assert row.status == ("FAILED" if round_ == 3 else "AUTHORIZED"), round_
    assert (row.failure_reason, row.provider_refusals) == ("PROVIDER_NOT_FOUND", 3)
    await poll_round(gw)  # final: not asked about again, nothing changes
    assert (await payment(gw, payment_id)).provider_refusals == 3
    assert await outstanding(gw, claim_id) == before  # no money was posted

    notices = (await gw.gql(NOTICES, citizen=ANNA))["data"]["me"]["notices"]
    failed = [n for n in notices if n["code"] == "PAYMENT_FAILED"]
    assert len(failed) == 1 and failed[0]["severity"] == "WARNING" and "betaling" in failed[0]["message"]
    items = (await gw.gql(ITEMS, {"kinds": ["PAYMENT_FAILED"]}, caseworker="cw-1"))["data"]["caseworkerItems"]
    assert items["nodes"] == [{"kind": "PAYMENT_FAILED", "citizen": {"name": "Anna Jensen"}}]


async def test_a_capture_refused_again_and_again_ends_failed_and_a_late_capture_posts_nothing(
    gw: Api, payments_sim: ThreadedServer, faults: ProviderFaults
) -> None:
    set_policy(gw, max_refusals=2)
    payment_id, claim_id = await authorized_payment(gw, payments_sim, faults)
    before = await outstanding(gw, claim_id)
    faults.capture_answer = (409, {"code": "INVALID_STATE", "detail": "refused"})
    await poll_round(gw)
    assert (await payment(gw, payment_id)).status == "AUTHORIZED"
    await poll_round(gw)
    row = await payment(gw, payment_id)
    assert (row.status, row.failure_reason) == ("FAILED", "PROVIDER_INVALID_STATE")
    # The reservation was released at the provider.
    assert (await sim(payments_sim, "GET", f"/v1/payments/{row.provider_ref}"))["state"] == "TERMINATED"

    # A report that it was captured after all (a forged or confused webhook) posts nothing: FAILED is final.
    at_provider = await sim(payments_sim, "GET", f"/v1/payments/{row.provider_ref}")
    captured = at_provider | {
        "state": "CAPTURED",
        "capturedAmount": at_provider["amount"],
        "version": at_provider["version"] + 5,
    }
    assert (await webhook(gw, "payment.captured", captured)).status_code == 200
    assert (await payment(gw, payment_id)).status == "FAILED"
    assert await outstanding(gw, claim_id) == before
    notices = (await gw.gql(NOTICES, citizen=ANNA))["data"]["me"]["notices"]
    assert [n["code"] for n in notices].count("PAYMENT_FAILED") == 1


async def test_a_payment_the_provider_refuses_to_create_ends_failed(gw: Api, payments_sim: ThreadedServer) -> None:
    set_policy(gw, max_refusals=2)
    citizen_id, claim_id = await citizen_and_claim(gw, ANNA, "RK-EJD-2025-1187")
    payment_id = await pay(gw, citizen_id, claim_id)
    row = await payment(gw, payment_id)
    # As if the provider's answer had never been stored, and the provider had since given this payment's key to
    # another request: every create is refused (409 IDEMPOTENCY_KEY_REUSED).
    async with gw.services.db.transaction() as conn:
        await conn.execute(update(m.Payment).where(m.Payment.id == payment_id).values(provider_ref=None))
    await sim(payments_sim, "POST", "/admin/reset")
    await sim(payments_sim, "POST", "/admin/config", {"webhookUrl": None, "dropWebhooks": True})
    async with httpx.AsyncClient(timeout=5) as http:
        squatted = await http.post(
            f"{payments_sim.url}/v1/payments",
            json={
                "reference": "someone-else",
                "amount": {"currency": "DKK", "value": 1},
                "method": "CARD",
                "returnUrl": RETURN_URL,
                "description": "x",
            },
            headers={"Idempotency-Key": f"startPayment-{row.provider_key}"},
        )
        assert squatted.status_code == 201
    await poll_round(gw)
    assert (await payment(gw, payment_id)).status == "CREATED"
    await poll_round(gw)
    ended = await payment(gw, payment_id)
    assert (ended.status, ended.failure_reason) == ("FAILED", "PROVIDER_IDEMPOTENCY_KEY_REUSED")
    notices = (await gw.gql(NOTICES, citizen=ANNA))["data"]["me"]["notices"]
    assert [n["code"] for n in notices].count("PAYMENT_FAILED") == 1


# --- defect 6: provider keys and references are not namespaced ------------------------------------------------


async def test_two_ledgers_on_one_provider_account_never_collide(gw: Api, payments_sim: ThreadedServer) -> None:
    _, claim_id = await citizen_and_claim(gw, ANNA, "RK-EJD-2025-1187")
    # Another ledger (staging, a restored copy) on the same provider account already used the keys and references
    # that our next payments' ids would give.
    top = int((await one(gw, select(func.coalesce(func.max(m.Payment.id), 0))))[0])
    async with httpx.AsyncClient(base_url=payments_sim.url, timeout=5) as http:
        for n in range(top + 1, top + 21):
            theirs = await http.post(
                "/v1/payments",
                json={
                    "reference": f"RK-PAY-{n:08d}",
                    "amount": {"currency": "DKK", "value": 777},
                    "method": "CARD",
                    "returnUrl": "https://staging.example/done",
                    "description": "Betaling til Randers Kommune",
                },
                headers={"Idempotency-Key": f"startPayment-{n}"},
            )
            assert theirs.status_code == 201
    payload = (
        await gw.gql(
            START,
            {
                "input": {
                    "claimIds": [await claim_gid(gw, claim_id)],
                    "method": "CARD",
                    "returnUrl": RETURN_URL,
                    "amount": "12.34",
                    "idempotencyKey": uuid.uuid4().hex,
                }
            },
            citizen=ANNA,
        )
    )["data"]["startPayment"]
    assert payload["userErrors"] == [] and payload["payment"]["status"] == "CREATED", payload
    row = await one(gw, select(m.Payment).order_by(m.Payment.id.desc()).limit(1))
    ours = await sim(payments_sim, "GET", f"/v1/payments/{row.provider_ref}")
    assert ours["amount"]["value"] == 1234 and ours["reference"] == payment_reference(row.provider_key)
    assert len(row.provider_key) == 32 and ours["reference"] != f"RK-PAY-{row.id:08d}"

    # The other ledger's payment with "our" id in its reference is captured: its webhook is not about ours.
    stranger = ours | {
        "id": f"pay_{uuid.uuid4().hex[:20]}",
        "reference": f"RK-PAY-{row.id:08d}",
        "state": "CAPTURED",
        "capturedAmount": {"currency": "DKK", "value": 777},
        "version": 3,
    }
    answer = await webhook(gw, "payment.captured", stranger)
    assert (answer.status_code, answer.json()) == (200, {"status": "ignored"})
    assert (await payment(gw, row.id)).status == "CREATED"


async def claim_gid(api: Api, claim_id: int) -> str:
    from resolvers.common import ids

    return ids.encode("Claim", claim_id)


async def test_enrolments_and_draws_use_their_own_provider_keys(gw: Api, payments_sim: ThreadedServer) -> None:
    david_claims = (await gw.gql("{ me { claims { nodes { id outstanding { amountOere } } } } }", citizen=DAVID))[
        "data"
    ]["me"]["claims"]["nodes"]
    enrolled = (
        await gw.gql(
            """mutation($input: EnrolAutomaticPaymentInput!) { enrolAutomaticPayment(input: $input) {
              paymentMethod { id status } userErrors { code } } }""",
            {
                "input": {
                    "kind": "BETALINGSSERVICE",
                    "claimIds": [c["id"] for c in david_claims if c["outstanding"]["amountOere"] > 0][:1],
                    "idempotencyKey": uuid.uuid4().hex,
                }
            },
            citizen=DAVID,
        )
    )["data"]["enrolAutomaticPayment"]
    assert enrolled["userErrors"] == [], enrolled
    enrolment = await one(gw, select(m.Enrolment).order_by(m.Enrolment.id.desc()).limit(1))
    assert len(enrolment.provider_key) == 32
    keys = set(payments_sim.app.state.sim.idempotency)
    assert f"enrol-{enrolment.provider_key}" in keys and f"enrol-{enrolment.id}" not in keys

    # A draw gets its own key on insert; a charge webhook finds it by the reference made from that key, and a
    # reference made from an id (another ledger's, or the old form) finds nothing.
    now = datetime.now(UTC)
    async with gw.services.ledger.transaction() as tx:
        draw_id = await tx.insert_draw(
            draw_key=f"test:{uuid.uuid4().hex}",
            citizen_id=enrolment.citizen_id,
            plan_id=None,
            installment_id=None,
            enrolment_id=enrolment.id,
            claim_id=None,
            channel="BETALINGSSERVICE",
            status="SCHEDULED",
            amount_oere=10_000,
            due_on=(now + timedelta(days=30)).date(),
            now=now,
        )
    assert draw_id is not None
    draw = await one(gw, select(m.Draw).where(m.Draw.id == draw_id))
    assert len(draw.provider_key) == 32
    charge = _Charge(id=f"chg_{uuid.uuid4().hex[:20]}", reference=draw_reference(draw.provider_key))
    assert await gw.services.draws.find_draw(charge) == draw_id
    assert await gw.services.draws.find_draw(dataclasses.replace(charge, reference=f"RK-DRW-{draw_id:08d}")) is None


@dataclasses.dataclass(frozen=True)
class _Charge:
    id: str
    reference: str
    state: str = "PENDING"
    version: int = 1
    amount_oere: int = 10_000
    captured_oere: int = 0
    failure_reason: str | None = None


# --- "a payment of 0.01 DKK is accepted": the minimum -----------------------------------------------------------


async def start_with(api: Api, claim_id: int, amount: str | None) -> dict[str, Any]:
    variables = {
        "input": {
            "claimIds": [await claim_gid(api, claim_id)],
            "method": "MOBILEPAY",
            "returnUrl": RETURN_URL,
            "idempotencyKey": uuid.uuid4().hex,
        }
        | ({"amount": amount} if amount is not None else {})
    }
    return dict((await api.gql(START, variables, citizen=ANNA))["data"]["startPayment"])


async def test_a_payment_below_the_minimum_is_refused_unless_it_pays_everything(
    gw: Api, payments_sim: ThreadedServer
) -> None:
    assert MIN_PAYMENT_OERE == 100
    citizen_id, claim_id = await citizen_and_claim(gw, ANNA, "RK-EJD-2025-1187")
    for amount in ("0.01", "0.99", "0,5"):
        payload = await start_with(gw, claim_id, amount)
        assert payload["payment"] is None, amount
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("AMOUNT_BELOW_MINIMUM", ["input", "amount"])
        ], amount
        assert "1,00 kr." in payload["userErrors"][0]["message"]
    assert (await start_with(gw, claim_id, "1.00"))["payment"]["amount"]["amountOere"] == 100

    # Pay the claim down to 0.50 DKK: the rest can still be paid, in full, though it is below the minimum.
    owed = await outstanding(gw, claim_id)
    first = await pay(gw, citizen_id, claim_id, f"{(owed - 50) // 100}.{(owed - 50) % 100:02d}")
    await sim(payments_sim, "POST", f"/admin/payments/{(await payment(gw, first)).provider_ref}/approve")
    await poll_round(gw)
    assert await outstanding(gw, claim_id) == 50
    assert [e["code"] for e in (await start_with(gw, claim_id, "0.30"))["userErrors"]] == ["AMOUNT_BELOW_MINIMUM"]
    assert (await start_with(gw, claim_id, "0.50"))["payment"]["amount"]["amountOere"] == 50
    assert (await start_with(gw, claim_id, None))["payment"]["amount"]["amountOere"] == 50


# --- the provider's circuit breaker (issue 13's gaps): what a citizen and the metrics see ----------------------


@pytest.fixture
def own_payments_sim() -> Iterator[ThreadedServer]:
    """A payment simulator of this test's own: it goes down and comes back, which the session's shared one (and
    every test after this one) must not see."""
    from adapters.payments.simulator import create_simulator_app

    with ThreadedServer(create_simulator_app(webhook_secret=SECRET.encode())) as server:
        yield server


async def test_a_provider_that_is_down_opens_the_breaker_and_payments_fail_fast_until_it_is_back(
    migrated: str, gaeldst_sim: ThreadedServer, own_payments_sim: ThreadedServer, breaker_clock: BreakerClock
) -> None:
    payments_sim = own_payments_sim
    async with build_api(
        migrated,
        gaeldst_sim,
        payments_url=payments_sim.url,
        payments_webhook_secret=SECRET,
        payments_breaker_threshold=2,
        payments_breaker_ttl_seconds=60,
    ) as api:
        await sim(payments_sim, "POST", "/admin/reset")
        await sim(payments_sim, "POST", "/admin/config", {"webhookUrl": None, "dropWebhooks": True})
        _, claim_id = await citizen_and_claim(api, ANNA, "RK-EJD-2025-1187")
        claim = await claim_gid(api, claim_id)

        def start(key: str) -> dict[str, Any]:
            return {"input": {"claimIds": [claim], "method": "CARD", "returnUrl": RETURN_URL, "idempotencyKey": key}}

        def metric(name: str, **labels: str) -> float:
            return api.services.metrics.registry.get_sample_value(name, {"upstream": "payments", **labels}) or 0.0

        async def breaker_in_readyz() -> str:
            return str((await api.client.get("/readyz")).json()["upstreams"]["payments"]["breaker"])

        assert (metric("gateway_upstream_breaker_state"), await breaker_in_readyz()) == (0, "closed")
        payments_sim.stop_listening()
        try:
            # Two calls fail (the threshold), then the breaker answers for the provider: no call is made. The
            # citizen sees the same error either way: the payment provider could not be reached, try again.
            for key in ("breaker-1", "breaker-2", "breaker-3"):
                body = await api.gql(START, start(key), citizen=ANNA)
                assert body["data"] is None
                assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_UNAVAILABLE"]
                assert body["errors"][0]["message"] == "Betalingsudbyderen kunne ikke kontaktes. Prøv igen senere."
            assert metric("gateway_upstream_requests_total", outcome="TRANSPORT") == 2
            assert metric("gateway_upstream_requests_total", outcome="CIRCUIT_OPEN") == 1
            assert (metric("gateway_upstream_breaker_state"), await breaker_in_readyz()) == (2, "opened")
        finally:
            payments_sim.resume_listening()

        # The provider is back; the breaker lets a probe through once its ttl has passed, and closes on its answer.
        breaker_clock.advance(61)
        retried = await api.gql(START, start("breaker-3"), citizen=ANNA)  # the same key, as the error invites
        assert "errors" not in retried and retried["data"]["startPayment"]["payment"]["status"] == "CREATED"
        assert (await sim(payments_sim, "GET", "/admin/stats"))["calls"].get("POST /v1/payments") == 1
        assert metric("gateway_upstream_requests_total", outcome="ok") == 1
        assert metric("gateway_upstream_requests_total", outcome="TRANSPORT") == 2
        assert (metric("gateway_upstream_breaker_state"), await breaker_in_readyz()) == (0, "closed")
