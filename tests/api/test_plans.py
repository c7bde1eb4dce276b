"""Installment plans through the GraphQL API (R11, R13, R14): preview, create, approve, cancel, races."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.domain.plans import build_schedule
from tests.conftest import ANNA, CAMILLA, DAVID, Api

CLAIMS = "query { me { claims { nodes { id reference outstanding { amountOere } } } } }"

PREVIEW = """
query($input: InstallmentPlanInput!) {
  previewInstallmentPlan(input: $input) {
    allowed status needsAssessment months excludesFutureInterest
    principal { amountOere } monthlyAmount { amountOere }
    installments { number dueOn amount { amountOere } }
    violations { code field message }
    range { minimumMonthlyAmount { amount } lowestMonthlyAmountWithinMaxMonths { amountOere } monthsAtMinimum
            maxMonthsWithoutAssessment options { monthlyAmount { amountOere } months } }
  }
}"""

CREATE = """
mutation($input: CreateInstallmentPlanInput!) {
  createInstallmentPlan(input: $input) {
    plan { id status months dayOfMonth excludesFutureInterest principal { amountOere } monthlyAmount { amountOere }
           claims { reference installmentPlan { id } }
           installments { number dueOn amount { amountOere } channel status } }
    userErrors { code field message }
  }
}"""

APPROVE = """
mutation($input: ApproveInstallmentPlanInput!) {
  approveInstallmentPlan(input: $input) { plan { id status approvedBy approvalNote } userErrors { code field } }
}"""

CANCEL = """
mutation($input: CancelInstallmentPlanInput!) {
  cancelInstallmentPlan(input: $input) { plan { id status } userErrors { code field } }
}"""


async def claim_ids(api: Api, cpr: str) -> dict[str, tuple[str, int]]:
    body = await api.gql(CLAIMS, citizen=cpr)
    return {c["reference"]: (c["id"], c["outstanding"]["amountOere"]) for c in body["data"]["me"]["claims"]["nodes"]}


async def david_claims(api: Api) -> tuple[list[str], int]:
    claims = await claim_ids(api, DAVID)
    return [cid for cid, _ in claims.values()], sum(amount for _, amount in claims.values())


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [e["code"] for e in errors]


async def test_preview_matches_what_create_stores(api: Api) -> None:
    ids, total = await david_claims(api)
    assert total == 1_205_000  # 12,050.00 DKK in the seed
    preview = (
        await api.gql(PREVIEW, {"input": {"claimIds": ids, "monthlyAmount": "700.00", "dayOfMonth": 31}}, citizen=DAVID)
    )["data"]["previewInstallmentPlan"]
    assert preview["allowed"] is True and preview["status"] == "ACTIVE"
    assert preview["principal"]["amountOere"] == total
    assert preview["months"] == -(-total // 70_000) == 18
    assert sum(i["amount"]["amountOere"] for i in preview["installments"]) == total
    assert preview["range"]["minimumMonthlyAmount"]["amount"] == "350.00"
    assert preview["range"]["lowestMonthlyAmountWithinMaxMonths"]["amountOere"] == -(-total // 18)
    assert preview["range"]["monthsAtMinimum"] == -(-total // 35_000)

    created = (
        await api.gql(
            CREATE,
            {
                "input": {
                    "claimIds": ids,
                    "monthlyAmount": "700.00",
                    "dayOfMonth": 31,
                    "acceptTerms": True,
                    "idempotencyKey": "plan-1",
                }
            },
            citizen=DAVID,
        )
    )["data"]["createInstallmentPlan"]
    assert created["userErrors"] == []
    plan = created["plan"]
    assert plan["status"] == "ACTIVE" and plan["months"] == preview["months"]
    assert [(i["number"], i["dueOn"], i["amount"]["amountOere"]) for i in plan["installments"]] == [
        (i["number"], i["dueOn"], i["amount"]["amountOere"]) for i in preview["installments"]
    ]
    assert {i["channel"] for i in plan["installments"]} == {"INVOICE"}  # no enrolment yet (R10)
    assert all(c["installmentPlan"]["id"] == plan["id"] for c in plan["claims"])
    # The claims now say so, and a second plan for them is refused.
    again = (
        await api.gql(
            CREATE,
            {
                "input": {
                    "claimIds": ids[:1],
                    "monthlyAmount": "700.00",
                    "dayOfMonth": 1,
                    "acceptTerms": True,
                    "idempotencyKey": "plan-2",
                }
            },
            citizen=DAVID,
        )
    )["data"]["createInstallmentPlan"]
    assert again["plan"] is None and codes(again["userErrors"]) == ["CLAIM_ALREADY_IN_PLAN"]


async def test_monthly_minimum_has_no_exception(api: Api) -> None:
    ids, _ = await david_claims(api)
    for key, request_assessment in (("m1", False), ("m2", True)):
        body = await api.gql(
            CREATE,
            {
                "input": {
                    "claimIds": ids,
                    "monthlyAmount": "349.99",
                    "dayOfMonth": 5,
                    "acceptTerms": True,
                    "idempotencyKey": key,
                    "requestAssessment": request_assessment,
                }
            },
            citizen=DAVID,
        )
        payload = body["data"]["createInstallmentPlan"]
        assert payload["plan"] is None
        assert "MONTHLY_AMOUNT_BELOW_MINIMUM" in codes(payload["userErrors"])
        assert payload["userErrors"][0]["field"] == ["input", "monthlyAmount"]


async def test_too_long_is_refused_unless_assessment_then_caseworker_approves(api: Api) -> None:
    ids, total = await david_claims(api)
    refused = (
        await api.gql(
            CREATE,
            {
                "input": {
                    "claimIds": ids,
                    "monthlyAmount": "350.00",
                    "dayOfMonth": 10,
                    "acceptTerms": True,
                    "idempotencyKey": "long-1",
                }
            },
            citizen=DAVID,
        )
    )["data"]["createInstallmentPlan"]
    assert codes(refused["userErrors"]) == ["PLAN_TOO_LONG"] and refused["plan"] is None

    pending = (
        await api.gql(
            CREATE,
            {
                "input": {
                    "claimIds": ids,
                    "monthlyAmount": "350.00",
                    "dayOfMonth": 10,
                    "acceptTerms": True,
                    "requestAssessment": True,
                    "idempotencyKey": "long-2",
                }
            },
            citizen=DAVID,
        )
    )["data"]["createInstallmentPlan"]
    assert pending["userErrors"] == []
    plan = pending["plan"]
    assert plan["status"] == "PENDING_APPROVAL" and plan["months"] == -(-total // 35_000) > 18

    queue = await api.gql(
        "{ installmentPlansAwaitingApproval { totalCount nodes { id citizen { name } status } } }", caseworker="cw-1001"
    )
    nodes = queue["data"]["installmentPlansAwaitingApproval"]["nodes"]
    assert plan["id"] in [n["id"] for n in nodes]
    assert next(n for n in nodes if n["id"] == plan["id"])["citizen"]["name"] == "David Larsen"

    # A citizen cannot approve, not even their own plan.
    denied = await api.gql(
        APPROVE, {"input": {"planId": plan["id"], "note": "ok", "idempotencyKey": "a0"}}, citizen=DAVID
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    approved = (
        await api.gql(
            APPROVE,
            {"input": {"planId": plan["id"], "note": "Lav indkomst, vurderet OK", "idempotencyKey": "a1"}},
            caseworker="cw-1001",
        )
    )["data"]["approveInstallmentPlan"]
    assert approved["userErrors"] == []
    assert approved["plan"]["status"] == "ACTIVE" and approved["plan"]["approvedBy"] == "cw-1001"
    twice = (
        await api.gql(
            APPROVE, {"input": {"planId": plan["id"], "note": "igen", "idempotencyKey": "a2"}}, caseworker="cw-1001"
        )
    )["data"]["approveInstallmentPlan"]
    assert codes(twice["userErrors"]) == ["PLAN_NOT_PENDING"]
    log = await api.gql("{ me { accessLog { nodes { actorId operation } } } }", citizen=DAVID)
    assert {"actorId": "cw-1001", "operation": "approveInstallmentPlan"} in log["data"]["me"]["accessLog"]["nodes"]


async def test_claim_at_collection_or_unknown_blocks_a_plan(api: Api) -> None:
    camilla = await claim_ids(api, CAMILLA)
    body = await api.gql(
        CREATE,
        {
            "input": {
                "claimIds": [cid for cid, _ in camilla.values()],
                "monthlyAmount": "1500.00",
                "dayOfMonth": 1,
                "acceptTerms": True,
                "idempotencyKey": "c1",
            }
        },
        citizen=CAMILLA,
    )
    assert set(codes(body["data"]["createInstallmentPlan"]["userErrors"])) == {"CLAIM_AT_COLLECTION"}

    ids, _ = await david_claims(api)
    api.services.gaeldst.invalidate()
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "error503"})
    body = await api.gql(
        CREATE,
        {
            "input": {
                "claimIds": ids,
                "monthlyAmount": "700.00",
                "dayOfMonth": 1,
                "acceptTerms": True,
                "idempotencyKey": "c2",
            }
        },
        citizen=DAVID,
    )
    payload = body["data"]["createInstallmentPlan"]
    assert payload["plan"] is None
    assert set(codes(payload["userErrors"])) == {"COLLECTION_STATUS_UNAVAILABLE"}


async def test_returned_claim_is_the_municipalitys_again(api: Api) -> None:
    david = await claim_ids(api, DAVID)
    returned_id, amount = david["RK-FOR-2023-0311"]
    body = await api.gql(
        CREATE,
        {
            "input": {
                "claimIds": [returned_id],
                "monthlyAmount": "350.00",
                "dayOfMonth": 15,
                "acceptTerms": True,
                "idempotencyKey": "r1",
            }
        },
        citizen=DAVID,
    )
    payload = body["data"]["createInstallmentPlan"]
    assert payload["userErrors"] == [] and payload["plan"]["principal"]["amountOere"] == amount


async def test_bad_input_is_specific_and_writes_nothing(api: Api) -> None:
    ids, _ = await david_claims(api)
    anna = await claim_ids(api, ANNA)
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"monthlyAmount": "350.001"}, "INVALID_AMOUNT", ["input", "monthlyAmount"]),
        ({"monthlyAmount": "-500.00"}, "INVALID_AMOUNT", ["input", "monthlyAmount"]),
        ({"monthlyAmount": "abc"}, "INVALID_AMOUNT", ["input", "monthlyAmount"]),
        ({"monthlyAmount": "99999999999.00"}, "INVALID_AMOUNT", ["input", "monthlyAmount"]),
        ({"dayOfMonth": 0}, "INVALID_DATE", ["input", "dayOfMonth"]),
        ({"dayOfMonth": 32}, "INVALID_DATE", ["input", "dayOfMonth"]),
        ({"claimIds": []}, "NO_CLAIMS_SELECTED", ["input", "claimIds"]),
        ({"claimIds": [ids[0], ids[0]]}, "DUPLICATE_CLAIMS", ["input", "claimIds", "1"]),
        ({"claimIds": [anna["RK-DAG-2025-0412"][0]]}, "CLAIM_NOT_FOUND", ["input", "claimIds", "0"]),
        ({"claimIds": [ids[0], "bm90LWFuLWlk"]}, "CLAIM_NOT_FOUND", ["input", "claimIds", "1"]),
        ({"acceptTerms": False}, "TERMS_NOT_ACCEPTED", ["input", "acceptTerms"]),
        ({"idempotencyKey": ""}, "INVALID_IDEMPOTENCY_KEY", ["input", "idempotencyKey"]),
        ({"idempotencyKey": "k" * 65}, "INVALID_IDEMPOTENCY_KEY", ["input", "idempotencyKey"]),
    ]
    for i, (override, code, field) in enumerate(cases):
        data = {
            "claimIds": ids,
            "monthlyAmount": "700.00",
            "dayOfMonth": 5,
            "acceptTerms": True,
            "idempotencyKey": f"bad-{i}",
        } | override
        payload = (await api.gql(CREATE, {"input": data}, citizen=DAVID))["data"]["createInstallmentPlan"]
        assert payload["plan"] is None, override
        assert {"code": code, "field": field} in [
            {"code": e["code"], "field": e["field"]} for e in payload["userErrors"]
        ], (override, payload["userErrors"])
    plans = await api.gql("{ me { installmentPlans { totalCount } } }", citizen=DAVID)
    assert plans["data"]["me"]["installmentPlans"]["totalCount"] == 0


async def test_total_below_one_installment_and_future_interest_notice(api: Api) -> None:
    anna = await claim_ids(api, ANNA)
    loan_id, loan = anna["RK-BIL-2024-0077"]
    body = await api.gql(
        CREATE,
        {
            "input": {
                "claimIds": [loan_id],
                "monthlyAmount": "1000.00",
                "dayOfMonth": 1,
                "acceptTerms": True,
                "idempotencyKey": "bil",
            }
        },
        citizen=ANNA,
    )
    plan = body["data"]["createInstallmentPlan"]["plan"]
    assert plan["excludesFutureInterest"] is True and plan["principal"]["amountOere"] == loan
    notices = await api.gql("{ me { notices { code } } }", citizen=ANNA)
    assert "FUTURE_INTEREST" in [n["code"] for n in notices["data"]["me"]["notices"]]


async def test_idempotency_replay_and_reuse(api: Api) -> None:
    ids, _ = await david_claims(api)
    variables = {
        "input": {
            "claimIds": ids,
            "monthlyAmount": "800.00",
            "dayOfMonth": 20,
            "acceptTerms": True,
            "idempotencyKey": "same",
        }
    }
    first = (await api.gql(CREATE, variables, citizen=DAVID))["data"]["createInstallmentPlan"]
    second = (await api.gql(CREATE, variables, citizen=DAVID))["data"]["createInstallmentPlan"]
    assert first["plan"]["id"] == second["plan"]["id"] and second["userErrors"] == []
    changed = {"input": variables["input"] | {"monthlyAmount": "900.00"}}
    reused = (await api.gql(CREATE, changed, citizen=DAVID))["data"]["createInstallmentPlan"]
    assert codes(reused["userErrors"]) == ["IDEMPOTENCY_KEY_REUSED"] and reused["plan"] is None
    plans = await api.gql("{ me { installmentPlans { totalCount } } }", citizen=DAVID)
    assert plans["data"]["me"]["installmentPlans"]["totalCount"] == 1


async def test_cancel_frees_the_claims(api: Api) -> None:
    ids, _ = await david_claims(api)
    base = {"claimIds": ids, "monthlyAmount": "800.00", "dayOfMonth": 20, "acceptTerms": True}
    plan = (await api.gql(CREATE, {"input": base | {"idempotencyKey": "x1"}}, citizen=DAVID))["data"][
        "createInstallmentPlan"
    ]["plan"]
    other = await api.gql(CANCEL, {"input": {"planId": plan["id"], "idempotencyKey": "c"}}, citizen=ANNA)
    assert codes(other["data"]["cancelInstallmentPlan"]["userErrors"]) == ["PLAN_NOT_FOUND"]
    cancelled = (await api.gql(CANCEL, {"input": {"planId": plan["id"], "idempotencyKey": "c"}}, citizen=DAVID))[
        "data"
    ]["cancelInstallmentPlan"]
    assert cancelled["plan"]["status"] == "CANCELLED"
    again = (await api.gql(CREATE, {"input": base | {"idempotencyKey": "x2"}}, citizen=DAVID))["data"][
        "createInstallmentPlan"
    ]
    assert again["userErrors"] == [] and again["plan"]["status"] == "ACTIVE"


async def test_schedule_is_what_the_pure_rule_computes(api: Api) -> None:
    from gateway.domain.clock import today

    ids, total = await david_claims(api)
    plan = (
        await api.gql(
            CREATE,
            {
                "input": {
                    "claimIds": ids,
                    "monthlyAmount": "1234.56",
                    "dayOfMonth": 29,
                    "acceptTerms": True,
                    "idempotencyKey": "s",
                }
            },
            citizen=DAVID,
        )
    )["data"]["createInstallmentPlan"]["plan"]
    expected = build_schedule(total, 123_456, 29, today())
    assert [(i["dueOn"], i["amount"]["amountOere"]) for i in plan["installments"]] == [
        (s.due_on.isoformat(), s.amount_oere) for s in expected
    ]


@pytest.mark.parametrize("clients", [20])
async def test_racing_requests_make_exactly_one_plan(api: Api, clients: int) -> None:
    ids, _ = await david_claims(api)
    token = api.token(citizen=DAVID)

    async def attempt(i: int, same_key: bool) -> dict[str, Any]:
        variables = {
            "input": {
                "claimIds": ids,
                "monthlyAmount": "800.00",
                "dayOfMonth": 20,
                "acceptTerms": True,
                "idempotencyKey": "race" if same_key else f"race-{i}",
            }
        }
        response = await api.post(CREATE, variables, token=token)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        assert "errors" not in result, result
        return dict(result["data"]["createInstallmentPlan"])

    # The same idempotency key, 20 times at once: one plan, every response shows it.
    same = await asyncio.gather(*(attempt(i, True) for i in range(clients)))
    plan_ids = {p["plan"]["id"] for p in same if p["plan"]}
    assert len(plan_ids) == 1 and all(p["userErrors"] == [] for p in same)

    # Cancel it, then 20 different keys racing for the same claims: exactly one wins.
    await api.gql(CANCEL, {"input": {"planId": plan_ids.pop(), "idempotencyKey": "cx"}}, token=token)
    different = await asyncio.gather(*(attempt(i, False) for i in range(clients)))
    winners = [p for p in different if p["plan"]]
    assert len(winners) == 1
    assert all(
        codes(p["userErrors"]) == ["CLAIM_ALREADY_IN_PLAN"] * len(p["userErrors"]) and p["userErrors"]
        for p in different
        if not p["plan"]
    )
    plans = await api.gql("{ me { installmentPlans { nodes { status } } } }", token=token)
    assert sorted(n["status"] for n in plans["data"]["me"]["installmentPlans"]["nodes"]) == ["ACTIVE", "CANCELLED"]


async def test_preview_checks_the_terms_only_when_given(api: Api) -> None:
    ids, _ = await david_claims(api)
    base = {"claimIds": ids, "monthlyAmount": "700.00", "dayOfMonth": 1}
    for extra, expected in (({}, []), ({"acceptTerms": True}, []), ({"acceptTerms": False}, ["TERMS_NOT_ACCEPTED"])):
        preview = (await api.gql(PREVIEW, {"input": base | extra}, citizen=DAVID))["data"]["previewInstallmentPlan"]
        assert codes(preview["violations"]) == expected and preview["allowed"] is (not expected)
