"""Pay now and automatic payment, end to end: the gateway served over HTTP, the provider simulator sending
signed webhooks to it, and a person's clicks done by posting the simulator's HTML forms (R3–R6, R9, R10)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from adapters.payments.webhooks import SIGNATURE_HEADER, sign
from tests.conftest import ANNA, BO, DAVID, LiveGateway

CLAIMS = """{ me { claims { nodes { id reference outstanding { amountOere }
  statement { lines { kind text amount { amountOere } } } automaticPayment { id status } } } } }"""

START = """mutation($input: StartPaymentInput!) { startPayment(input: $input) {
  payment { id status method amount { amountOere } redirectUrl } userErrors { code field } } }"""

PAYMENT = """query($id: ID!) { node(id: $id) { ... on Payment { status amount { amountOere } capturedAt
  claims { reference } allocations { component amount { amountOere } claim { reference } } } } }"""

ENROL = """mutation($input: EnrolAutomaticPaymentInput!) { enrolAutomaticPayment(input: $input) {
  paymentMethod { id kind status invoicesSentMeanwhile confirmationUrl mobilePayAccount { name } }
  userErrors { code field } } }"""

STOP = """mutation($input: StopAutomaticPaymentInput!) { stopAutomaticPayment(input: $input) {
  paymentMethod { id status } userErrors { code field } } }"""

CREATE_PLAN = """mutation($input: CreateInstallmentPlanInput!) { createInstallmentPlan(input: $input) {
  plan { id } userErrors { code } } }"""

PLAN = """query($id: ID!) { node(id: $id) { ... on InstallmentPlan { status paymentMethod { kind status }
  installments { channel } } } }"""


async def claims_of(live: LiveGateway, cpr: str) -> dict[str, dict[str, Any]]:
    body = await live.gql(CLAIMS, citizen=cpr)
    return {c["reference"]: c for c in body["data"]["me"]["claims"]["nodes"]}


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def webhooks_settled(live: LiveGateway) -> None:
    """Wait until the provider has no webhook on its way (each one delivered, failed, dropped or held)."""

    async def settled() -> bool:
        return all(d["status"] != "queued" for d in await live.provider("GET", "/admin/webhooks"))

    await eventually(settled)


async def click(client: httpx.AsyncClient, page_url: str, label: str) -> httpx.Response:
    """Open a simulator page and submit the form whose button says ``label``, as a browser would."""
    page = await client.get(page_url)
    assert page.status_code == 200
    forms = re.findall(r'<form method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
    action = next(a for a, inner in forms if label in inner)
    base = httpx.URL(page_url)
    return await client.post(str(base.join(action.replace("&amp;", "&"))), follow_redirects=False)


async def payment_status(live: LiveGateway, payment_id: str, cpr: str) -> dict[str, Any]:
    return dict((await live.gql(PAYMENT, {"id": payment_id}, citizen=cpr))["data"]["node"])


async def start(live: LiveGateway, cpr: str, claim_ids: list[str], key: str, **extra: Any) -> dict[str, Any]:
    variables = {
        "input": {
            "claimIds": claim_ids,
            "method": "MOBILEPAY",
            "returnUrl": "https://app.example/done",
            "idempotencyKey": key,
        }
        | extra
    }
    return dict((await live.gql(START, variables, citizen=cpr))["data"]["startPayment"])


async def test_anna_pays_two_claims_by_mobilepay(live: LiveGateway) -> None:
    claims = await claims_of(live, ANNA)
    daycare, tax = claims["RK-DAG-2025-0412"], claims["RK-EJD-2025-1187"]
    total = daycare["outstanding"]["amountOere"] + tax["outstanding"]["amountOere"]
    payload = await start(live, ANNA, [daycare["id"], tax["id"]], "pay-1")
    assert payload["userErrors"] == []
    payment = payload["payment"]
    assert payment["status"] == "CREATED" and payment["amount"]["amountOere"] == total
    assert payment["redirectUrl"].startswith(live.payments.url)

    approved = await click(live.client, payment["redirectUrl"], "Godkend")
    assert approved.status_code == 303 and approved.headers["location"].startswith("https://app.example/done")

    async def captured() -> bool:
        return (await payment_status(live, payment["id"], ANNA))["status"] == "CAPTURED"

    await eventually(captured)
    deliveries = await live.provider("GET", "/admin/webhooks")
    assert {d["type"] for d in deliveries} >= {"payment.authorized", "payment.captured"}
    after = await claims_of(live, ANNA)
    assert after["RK-DAG-2025-0412"]["outstanding"]["amountOere"] == 0
    assert after["RK-EJD-2025-1187"]["outstanding"]["amountOere"] == 0
    # Untouched: the claims she did not tick.
    assert after["RK-BIL-2024-0077"]["outstanding"] == claims["RK-BIL-2024-0077"]["outstanding"]
    paid_lines = [
        ln for ln in after["RK-DAG-2025-0412"]["statement"]["lines"] if ln["text"] == "Indbetaling med MobilePay"
    ]
    assert sum(ln["amount"]["amountOere"] for ln in paid_lines) == -daycare["outstanding"]["amountOere"]
    detail = await payment_status(live, payment["id"], ANNA)
    assert sum(a["amount"]["amountOere"] for a in detail["allocations"]) == total
    # Fees before principal on the daycare claim (its 100.00 reminder fee).
    daycare_alloc = [a for a in detail["allocations"] if a["claim"]["reference"] == "RK-DAG-2025-0412"]
    assert daycare_alloc[0]["component"] == "FEE" and daycare_alloc[0]["amount"]["amountOere"] == 10_000


async def test_partial_payment_goes_to_the_oldest_claim_first_and_fees_first(live: LiveGateway) -> None:
    claims = await claims_of(live, ANNA)
    daycare, tax = claims["RK-DAG-2025-0412"], claims["RK-EJD-2025-1187"]  # tax is due first
    payload = await start(live, ANNA, [daycare["id"], tax["id"]], "pay-part", amount="100.00", method="CARD")
    payment = payload["payment"]
    await click(live.client, payment["redirectUrl"], "Godkend")

    async def captured() -> bool:
        return (await payment_status(live, payment["id"], ANNA))["status"] == "CAPTURED"

    await eventually(captured)
    detail = await payment_status(live, payment["id"], ANNA)
    assert [(a["claim"]["reference"], a["component"], a["amount"]["amountOere"]) for a in detail["allocations"]] == [
        ("RK-EJD-2025-1187", "INTEREST", 6_175),
        ("RK-EJD-2025-1187", "PRINCIPAL", 3_825),
    ]


async def test_pay_now_bad_input(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    bo = await claims_of(live, BO)
    david = await claims_of(live, DAVID)
    cases = [
        ([bo["RK-EJD-2024-0555"]["id"]], {}, "CLAIM_NOT_FOUND"),  # Bo's claim, Anna's token
        ([anna["RK-DAG-2025-0412"]["id"]], {"amount": "99999.00"}, "AMOUNT_EXCEEDS_OUTSTANDING"),
        ([anna["RK-DAG-2025-0412"]["id"]], {"amount": "10.001"}, "INVALID_AMOUNT"),
        ([anna["RK-DAG-2025-0412"]["id"]], {"returnUrl": "javascript:alert(1)"}, "INVALID_RETURN_URL"),
        ([], {}, "NO_CLAIMS_SELECTED"),
        ([david["RK-DAG-2025-0888"]["id"]], {}, "CLAIM_NOT_FOUND"),
    ]
    for i, (ids, extra, code) in enumerate(cases):
        payload = await start(live, ANNA, ids, f"bad-{i}", **extra)
        assert payload["payment"] is None and code in [e["code"] for e in payload["userErrors"]], (code, payload)
    bo_paid = await start(live, BO, [bo["RK-EJD-2024-0555"]["id"]], "bo-1")
    assert [e["code"] for e in bo_paid["userErrors"]] == ["CLAIM_NOT_OPEN"]


async def test_claim_at_collection_can_still_be_paid(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    at_collection = anna["RK-REN-2023-0931"]
    payload = await start(live, ANNA, [at_collection["id"]], "coll")
    assert payload["userErrors"] == [] and payload["payment"]["status"] == "CREATED"


async def test_plan_in_betalingsservice_pending_then_active(live: LiveGateway) -> None:
    david = await claims_of(live, DAVID)
    plan = (
        await live.gql(
            CREATE_PLAN,
            {
                "input": {
                    "claimIds": [c["id"] for c in david.values()],
                    "monthlyAmount": "700.00",
                    "dayOfMonth": 1,
                    "acceptTerms": True,
                    "idempotencyKey": "p",
                }
            },
            citizen=DAVID,
        )
    )["data"]["createInstallmentPlan"]["plan"]
    enrolled = (
        await live.gql(
            ENROL, {"input": {"kind": "BETALINGSSERVICE", "planId": plan["id"], "idempotencyKey": "bs"}}, citizen=DAVID
        )
    )["data"]["enrolAutomaticPayment"]
    assert enrolled["userErrors"] == []
    method = enrolled["paymentMethod"]
    assert method["status"] == "PENDING" and method["invoicesSentMeanwhile"] is True
    view = (await live.gql(PLAN, {"id": plan["id"]}, citizen=DAVID))["data"]["node"]
    assert view["paymentMethod"]["status"] == "PENDING"
    assert {i["channel"] for i in view["installments"]} == {"INVOICE"}  # R10
    notices = (await live.gql("{ me { notices { code } } }", citizen=DAVID))["data"]["me"]["notices"]
    assert "ENROLMENT_PENDING" in [n["code"] for n in notices]

    again = (
        await live.gql(
            ENROL,
            {"input": {"kind": "BETALINGSSERVICE", "planId": plan["id"], "idempotencyKey": "bs-2"}},
            citizen=DAVID,
        )
    )["data"]["enrolAutomaticPayment"]
    assert [e["code"] for e in again["userErrors"]] == ["ENROLMENT_ALREADY_ACTIVE"]

    # The bank accepts the mandate days later (the simulator's admin endpoint stands in for it).
    agreements = await live.provider("GET", "/admin/webhooks")
    del agreements
    stats = await live.provider("GET", "/admin/stats")
    assert stats["agreements"] >= 1
    provider_id = await _provider_agreement_id(live, method["id"])
    await live.provider("POST", f"/admin/agreements/{provider_id}/activate")

    async def active() -> bool:
        node = (await live.gql(PLAN, {"id": plan["id"]}, citizen=DAVID))["data"]["node"]
        return bool(node["paymentMethod"]["status"] == "ACTIVE")

    await eventually(active)
    view = (await live.gql(PLAN, {"id": plan["id"]}, citizen=DAVID))["data"]["node"]
    assert {i["channel"] for i in view["installments"]} == {"AUTOMATIC"}
    notices = (await live.gql("{ me { notices { code } } }", citizen=DAVID))["data"]["me"]["notices"]
    codes = [n["code"] for n in notices]
    assert "CHECK_PAYMENTS" in codes and "ENROLMENT_PENDING" not in codes  # R6


async def _provider_agreement_id(live: LiveGateway, method_id: str) -> str:
    from sqlalchemy import select

    from adapters.ledger import models as m
    from resolvers.common import ids

    async with live.db.read() as conn:
        ref = (
            await conn.execute(
                select(m.Enrolment.provider_ref).where(m.Enrolment.id == ids.decode_as(method_id, "PaymentMethod"))
            )
        ).scalar_one()
    return str(ref)


async def test_bill_in_mobilepay_subscription_on_budget_account_then_stop(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    accounts = (await live.gql("{ me { mobilePayAccounts { id name } } }", citizen=ANNA))["data"]["me"][
        "mobilePayAccounts"
    ]
    budget = next(a for a in accounts if a["name"] == "Budgetkonto")
    david_accounts = (await live.gql("{ me { mobilePayAccounts { id } } }", citizen=DAVID))["data"]["me"][
        "mobilePayAccounts"
    ]
    bill = anna["RK-EJD-2025-1187"]

    foreign = (
        await live.gql(
            ENROL,
            {
                "input": {
                    "kind": "MOBILEPAY_SUBSCRIPTION",
                    "claimIds": [bill["id"]],
                    "mobilePayAccountId": david_accounts[0]["id"],
                    "idempotencyKey": "f",
                }
            },
            citizen=ANNA,
        )
    )["data"]["enrolAutomaticPayment"]
    assert [e["code"] for e in foreign["userErrors"]] == ["MOBILEPAY_ACCOUNT_NOT_FOUND"]

    enrolled = (
        await live.gql(
            ENROL,
            {
                "input": {
                    "kind": "MOBILEPAY_SUBSCRIPTION",
                    "claimIds": [bill["id"]],
                    "mobilePayAccountId": budget["id"],
                    "returnUrl": "https://app.example/mp",
                    "idempotencyKey": "mp",
                }
            },
            citizen=ANNA,
        )
    )["data"]["enrolAutomaticPayment"]
    method = enrolled["paymentMethod"]
    assert enrolled["userErrors"] == [] and method["status"] == "PENDING"
    assert method["mobilePayAccount"]["name"] == "Budgetkonto" and method["confirmationUrl"]

    confirmed = await click(live.client, method["confirmationUrl"], "Godkend")
    assert confirmed.status_code == 303

    async def active() -> bool:
        claims = await claims_of(live, ANNA)
        ap = claims["RK-EJD-2025-1187"]["automaticPayment"]
        return ap is not None and ap["status"] == "ACTIVE"

    await eventually(active)
    stopped = (
        await live.gql(STOP, {"input": {"paymentMethodId": method["id"], "idempotencyKey": "stop"}}, citizen=ANNA)
    )["data"]["stopAutomaticPayment"]
    assert stopped["userErrors"] == [] and stopped["paymentMethod"]["status"] == "STOPPED"
    claims = await claims_of(live, ANNA)
    assert claims["RK-EJD-2025-1187"]["automaticPayment"] is None
    # A stopped agreement never comes back, even if the provider is told to activate it.
    provider_id = await _provider_agreement_id(live, method["id"])
    r = await live.client.post(f"{live.payments.url}/admin/agreements/{provider_id}/activate")
    assert r.status_code == 409


async def test_webhooks_redelivered_out_of_order_or_lost_never_double_post(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    daycare = anna["RK-DAG-2025-0412"]
    await live.provider("POST", "/admin/config", {"duplicateWebhooks": True})
    payment = (await start(live, ANNA, [daycare["id"]], "dup"))["payment"]
    await click(live.client, payment["redirectUrl"], "Godkend")

    async def captured() -> bool:
        return (await payment_status(live, payment["id"], ANNA))["status"] == "CAPTURED"

    await eventually(captured)
    # Redeliver every event once more, by hand, too.
    for delivery in await live.provider("GET", "/admin/webhooks"):
        await live.provider("POST", "/admin/webhooks/redeliver", {"eventId": delivery["eventId"]})
    await webhooks_settled(live)
    after = await claims_of(live, ANNA)
    assert after["RK-DAG-2025-0412"]["outstanding"]["amountOere"] == 0  # paid once, not twice (never negative)
    lines = [ln for ln in after["RK-DAG-2025-0412"]["statement"]["lines"] if ln["kind"] == "PAYMENT"]
    assert sum(ln["amount"]["amountOere"] for ln in lines) == -(600_000 + 295_000)  # seed payment + this one


async def test_lost_webhooks_are_caught_by_the_poll(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    live.restart(payments_poll_interval_seconds=0.3)
    await live.provider("POST", "/admin/config", {"dropWebhooks": True})
    payment = (await start(live, ANNA, [anna["RK-EJD-2025-1187"]["id"]], "lost"))["payment"]
    await click(live.client, payment["redirectUrl"], "Godkend")

    async def captured() -> bool:
        return (await payment_status(live, payment["id"], ANNA))["status"] == "CAPTURED"

    await eventually(captured)
    deliveries = await live.provider("GET", "/admin/webhooks")
    assert deliveries and {d["status"] for d in deliveries} == {"dropped"}  # no webhook arrived: the poll did it


async def test_restart_between_start_and_webhook_loses_nothing(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    payment = (await start(live, ANNA, [anna["RK-EJD-2025-1187"]["id"]], "restart"))["payment"]
    live.restart()  # a fresh gateway process against the same database
    await click(live.client, payment["redirectUrl"], "Godkend")

    async def captured() -> bool:
        return (await payment_status(live, payment["id"], ANNA))["status"] == "CAPTURED"

    await eventually(captured)


async def test_webhook_signature_and_shape_are_checked(live: LiveGateway) -> None:
    body = b'{"id":"evt_x","type":"payment.captured"}'
    url = f"{live.url}/webhooks/payments"
    unsigned = await live.client.post(url, content=body)
    assert unsigned.status_code == 401
    forged = await live.client.post(
        url, content=body, headers={SIGNATURE_HEADER: sign(b"wrong", body, int(time.time()))}
    )
    assert forged.status_code == 401
    signed_garbage = await live.client.post(
        url, content=body, headers={SIGNATURE_HEADER: sign(b"test-webhook-secret", body, int(time.time()))}
    )
    assert signed_garbage.status_code == 400


async def test_out_of_order_webhooks_end_in_the_latest_state(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    accounts = (await live.gql("{ me { mobilePayAccounts { id name } } }", citizen=ANNA))["data"]["me"][
        "mobilePayAccounts"
    ]
    await live.provider("POST", "/admin/config", {"reverseOrder": True})
    enrolled = (
        await live.gql(
            ENROL,
            {
                "input": {
                    "kind": "MOBILEPAY_SUBSCRIPTION",
                    "claimIds": [anna["RK-DAG-2025-0412"]["id"]],
                    "mobilePayAccountId": accounts[0]["id"],
                    "idempotencyKey": "ooo",
                }
            },
            citizen=ANNA,
        )
    )["data"]["enrolAutomaticPayment"]
    method = enrolled["paymentMethod"]
    await click(live.client, method["confirmationUrl"], "Godkend")  # -> ACTIVE (held)
    provider_id = await _provider_agreement_id(live, method["id"])
    await live.provider("POST", f"/admin/agreements/{provider_id}/expire")  # -> EXPIRED (held)
    await live.provider("POST", "/admin/webhooks/flush")  # newest first: expired, then activated

    async def settled() -> bool:
        deliveries = await live.provider("GET", "/admin/webhooks")
        return all(d["status"] == "delivered" for d in deliveries if d["objectId"] == provider_id)

    await eventually(settled)
    node = await live.gql(
        "query($id: ID!) { node(id: $id) { ... on PaymentMethod { status } } }", {"id": method["id"]}, citizen=ANNA
    )
    assert node["data"]["node"]["status"] == "EXPIRED"


async def test_a_payment_on_a_plans_claim_fills_its_installments_in_order(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    daycare = anna["RK-DAG-2025-0412"]
    plan = (
        await live.gql(
            CREATE_PLAN,
            {
                "input": {
                    "claimIds": [daycare["id"]],
                    "monthlyAmount": "1000.00",
                    "dayOfMonth": 1,
                    "acceptTerms": True,
                    "idempotencyKey": f"fill-{time.time_ns()}",
                }
            },
            citizen=ANNA,
        )
    )["data"]["createInstallmentPlan"]["plan"]
    payment = (await start(live, ANNA, [daycare["id"]], f"fill-pay-{time.time_ns()}", amount="1500.00"))["payment"]
    await click(live.client, payment["redirectUrl"], "Godkend")

    async def captured() -> bool:
        return (await payment_status(live, payment["id"], ANNA))["status"] == "CAPTURED"

    await eventually(captured)
    view = await live.gql(
        "query($id: ID!) { node(id: $id) { ... on InstallmentPlan { installments { paid { amountOere } status } } } }",
        {"id": plan["id"]},
        citizen=ANNA,
    )
    installments = view["data"]["node"]["installments"]
    assert [i["paid"]["amountOere"] for i in installments[:3]] == [100_000, 50_000, 0]
    assert installments[0]["status"] == "PAID" and installments[1]["status"] != "PAID"
