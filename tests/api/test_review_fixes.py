"""Regressions for defects found in review: each test failed before its fix."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.payments.webhooks import SIGNATURE_HEADER, sign
from gateway.auth import CaseworkerViewer, CitizenViewer, TokenVerifier
from gateway.settings import Settings
from tests.api.test_payments_flow import (
    CREATE_PLAN,
    ENROL,
    STOP,
    _provider_agreement_id,
    claims_of,
    click,
    eventually,
    payment_status,
    start,
)
from tests.conftest import ANNA, DAVID, Api, LiveGateway


def key(name: str) -> str:
    """Idempotency keys outlive a re-seeded citizen (they belong to the token's subject): keep them unique."""
    return f"{name}-{uuid.uuid4().hex[:12]}"


def test_caseworker_role_must_match_exactly() -> None:
    verifier = TokenVerifier(Settings())
    for roles in ("not-a-caseworker", "caseworker-readonly", ["caseworker-readonly"]):
        viewer = verifier.viewer_from_claims({"sub": "x", "roles": roles, "cpr": ANNA})
        assert isinstance(viewer, CitizenViewer), roles
    assert isinstance(verifier.viewer_from_claims({"sub": "cw", "roles": "caseworker"}), CaseworkerViewer)
    assert isinstance(verifier.viewer_from_claims({"sub": "cw", "roles": ["x", "caseworker"]}), CaseworkerViewer)


def test_production_refuses_the_default_webhook_secret() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET"):
        Settings(environment="production", auth_secret="a-real-production-secret-of-some-length")
    Settings(
        environment="production",
        auth_secret="a-real-production-secret-of-some-length",
        payments_webhook_secret="another-real-secret",
    )


async def test_the_approval_queue_logs_each_citizen_shown(api: Api) -> None:
    david = (await api.gql("{ me { claims { nodes { id } } } }", citizen=DAVID))["data"]["me"]["claims"]["nodes"]
    await api.gql(
        CREATE_PLAN,
        {
            "input": {
                "claimIds": [c["id"] for c in david],
                "monthlyAmount": "350.00",
                "dayOfMonth": 1,
                "acceptTerms": True,
                "requestAssessment": True,
                "idempotencyKey": key("q"),
            }
        },
        citizen=DAVID,
    )
    await api.gql("{ installmentPlansAwaitingApproval { nodes { citizen { name } } } }", caseworker="cw-1001")
    log = await api.gql("{ me { accessLog { nodes { actorId operation } } } }", citizen=DAVID)
    assert {"actorId": "cw-1001", "operation": "installmentPlansAwaitingApproval"} in log["data"]["me"]["accessLog"][
        "nodes"
    ]


async def test_a_cpr_in_the_return_url_is_refused(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    payload = await start(
        live,
        ANNA,
        [anna["RK-DAG-2025-0412"]["id"]],
        key("cpr-url"),
        returnUrl="https://app.example/done?who=1507804321",
    )
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_RETURN_URL"] and payload["payment"] is None


async def test_a_signed_event_with_malformed_data_is_400(live: LiveGateway) -> None:
    body = (
        b'{"id":"evt_1","type":"payment.captured","objectId":"pay_1","state":"CAPTURED","sequence":2,'
        b'"occurredAt":"2026-01-01T00:00:00+00:00","data":{"id":"pay_1","state":"CAPTURED","version":2}}'
    )
    r = await live.client.post(
        f"{live.url}/webhooks/payments",
        content=body,
        headers={SIGNATURE_HEADER: sign(b"test-webhook-secret", body, int(time.time()))},
    )
    assert r.status_code == 400


async def davids_plan(live: LiveGateway, david: dict[str, Any]) -> dict[str, Any]:
    """An ACTIVE plan of all of David's claims (700.00 DKK a month, 18 months)."""
    variables = {
        "input": {
            "claimIds": [c["id"] for c in david.values()],
            "monthlyAmount": "700.00",
            "dayOfMonth": 1,
            "acceptTerms": True,
            "idempotencyKey": key("p"),
        }
    }
    return dict((await live.gql(CREATE_PLAN, variables, citizen=DAVID))["data"]["createInstallmentPlan"])


async def test_a_claim_is_never_enrolled_twice_directly_and_through_a_plan(live: LiveGateway) -> None:
    david = await claims_of(live, DAVID)
    claim_id = david["RK-DAG-2025-0888"]["id"]
    direct = (
        await live.gql(
            ENROL,
            {"input": {"kind": "BETALINGSSERVICE", "claimIds": [claim_id], "idempotencyKey": key("d")}},
            citizen=DAVID,
        )
    )["data"]["enrolAutomaticPayment"]
    assert direct["userErrors"] == []
    plan = await davids_plan(live, david)
    through_plan = (
        await live.gql(
            ENROL,
            {"input": {"kind": "BETALINGSSERVICE", "planId": plan["plan"]["id"], "idempotencyKey": key("e")}},
            citizen=DAVID,
        )
    )["data"]["enrolAutomaticPayment"]
    assert [e["code"] for e in through_plan["userErrors"]] == ["ENROLMENT_ALREADY_ACTIVE"]


async def test_cancelling_a_plan_stops_its_automatic_payment(live: LiveGateway) -> None:
    david = await claims_of(live, DAVID)
    plan = await davids_plan(live, david)
    method = (
        await live.gql(
            ENROL,
            {"input": {"kind": "BETALINGSSERVICE", "planId": plan["plan"]["id"], "idempotencyKey": key("bs")}},
            citizen=DAVID,
        )
    )["data"]["enrolAutomaticPayment"]
    provider_id = await _provider_agreement_id(live, method["paymentMethod"]["id"])
    await live.provider("POST", f"/admin/agreements/{provider_id}/activate")
    await live.gql(
        """mutation($input: CancelInstallmentPlanInput!) { cancelInstallmentPlan(input: $input) {
                     plan { status } userErrors { code } } }""",
        {"input": {"planId": plan["plan"]["id"], "idempotencyKey": key("c")}},
        citizen=DAVID,
    )
    node = await live.gql(
        "query($id: ID!) { node(id: $id) { ... on PaymentMethod { status } } }",
        {"id": method["paymentMethod"]["id"]},
        citizen=DAVID,
    )
    assert node["data"]["node"]["status"] == "STOPPED"
    assert (await live.provider("GET", f"/v1/agreements/{provider_id}"))["state"] == "STOPPED"


async def test_stop_with_a_reused_key_changes_nothing(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    used = key("used")
    await start(live, ANNA, [anna["RK-DAG-2025-0412"]["id"]], used)
    method = (
        await live.gql(
            ENROL,
            {
                "input": {
                    "kind": "BETALINGSSERVICE",
                    "claimIds": [anna["RK-EJD-2025-1187"]["id"]],
                    "idempotencyKey": key("bs"),
                }
            },
            citizen=ANNA,
        )
    )["data"]["enrolAutomaticPayment"]
    reused = (
        await live.gql(
            STOP,
            {"input": {"paymentMethodId": method["paymentMethod"]["id"], "idempotencyKey": used}},
            citizen=ANNA,
        )
    )["data"]["stopAutomaticPayment"]
    assert [e["code"] for e in reused["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    provider_id = await _provider_agreement_id(live, method["paymentMethod"]["id"])
    assert (await live.provider("GET", f"/v1/agreements/{provider_id}"))["state"] == "PENDING"


async def test_two_payments_for_one_claim_take_the_money_once(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    claim = anna["RK-DAG-2025-0412"]
    first = (await start(live, ANNA, [claim["id"]], key("twice-1")))["payment"]
    second = (await start(live, ANNA, [claim["id"]], key("twice-2")))["payment"]
    await asyncio.gather(
        click(live.client, first["redirectUrl"], "Godkend"), click(live.client, second["redirectUrl"], "Godkend")
    )

    async def settled() -> bool:
        states = {(await payment_status(live, p["id"], ANNA))["status"] for p in (first, second)}
        return states == {"CAPTURED", "CANCELLED"}

    await eventually(settled)
    after = await claims_of(live, ANNA)
    assert after["RK-DAG-2025-0412"]["outstanding"]["amountOere"] == 0
    captured = [d for d in await live.provider("GET", "/admin/webhooks") if d["type"] == "payment.captured"]
    assert len({d["objectId"] for d in captured}) == 1  # the provider took the money once
