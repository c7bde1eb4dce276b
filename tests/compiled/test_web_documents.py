"""The web page's reads on the compiled path: WebOverview and WebOpenClaims (docs/compiled-reads.md).

Their claims carry fields the resolvers get from shared functions (eligibility: the domain's rules on the
collection status and the plan; the live plan; the automatic payment, its own or its plan's) and the citizen's
notices; the compiled path calls the same functions. Each request below is answered both ways
(tests/compiled/conftest.py): the same bytes, and the exact SQL statements and Gældsstyrelsen calls, which are
also asserted here. On both databases, with the demo citizens as seeded and with plans, automatic payments,
an individual assessment's answer and a caseworker's payment link made through the API.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.simserver import ThreadedServer
from gateway.trusted_documents import trusted_documents
from tests.api.test_acting_on_behalf import LINK, act, citizen_id, payload
from tests.api.test_payments_flow import CREATE_PLAN, ENROL
from tests.api.test_plans import APPROVE, claim_ids
from tests.compiled.conftest import both
from tests.conftest import ANNA, BO, CAMILLA, DAVID, Api, build_api

DOCUMENTS = {d.operation_name: d for d in trusted_documents()}
WEB_OVERVIEW, WEB_OPEN_CLAIMS = DOCUMENTS["WebOverview"].text, DOCUMENTS["WebOpenClaims"].text


@pytest.fixture
async def api(migrated: str, gaeldst_sim: ThreadedServer, payments_sim: ThreadedServer) -> AsyncIterator[Api]:
    """The ``api`` of conftest, with the payment provider's simulator (enrolments are made there)."""
    async with build_api(migrated, gaeldst_sim, payments_url=payments_sim.url) as a:
        yield a


def key(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:12]}"


async def ok(api: Api, document: str, variables: dict[str, Any], **who: Any) -> dict[str, Any]:
    body = await api.gql(document, {"input": variables}, **who)
    assert "errors" not in body, body
    result = payload(body)
    assert result["userErrors"] == [], result
    return result


async def plans_and_payments(api: Api) -> None:
    """Anna: a plan of her car loan (R13's notice), Betalingsservice for another claim (pending: R10's notice) and
    a caseworker's link to pay a third (an event notice with its claims). David: a plan of all his claims that
    needed an individual assessment, approved (an event notice with the plan), with Betalingsservice for it."""
    anna = await claim_ids(api, ANNA)
    await ok(
        api,
        CREATE_PLAN,
        {
            "claimIds": [anna["RK-BIL-2024-0077"][0]],
            "monthlyAmount": "1000.00",
            "dayOfMonth": 1,
            "acceptTerms": True,
            "idempotencyKey": key("anna-plan"),
        },
        citizen=ANNA,
    )
    await ok(
        api,
        ENROL,
        {"kind": "BETALINGSSERVICE", "claimIds": [anna["RK-EJD-2025-1187"][0]], "idempotencyKey": key("anna-bs")},
        citizen=ANNA,
    )
    link = {
        "citizenId": await citizen_id(api, ANNA),
        "claimIds": [anna["RK-DAG-2025-0412"][0]],
        "purpose": "Anna vil betale en regning",
        "idempotencyKey": key("link"),
    }
    assert payload(await act(api, LINK, link))["userErrors"] == []

    david = await claim_ids(api, DAVID)
    plan = (
        await ok(
            api,
            CREATE_PLAN,
            {
                "claimIds": [cid for cid, _ in david.values()],
                "monthlyAmount": "350.00",
                "dayOfMonth": 10,
                "acceptTerms": True,
                "requestAssessment": True,
                "idempotencyKey": key("david-plan"),
            },
            citizen=DAVID,
        )
    )["plan"]
    approved = await api.gql(
        APPROVE, {"input": {"planId": plan["id"], "note": "ok", "idempotencyKey": key("a")}}, caseworker="cw-1001"
    )
    assert approved["data"]["approveInstallmentPlan"]["userErrors"] == []
    await ok(
        api, ENROL, {"kind": "BETALINGSSERVICE", "planId": plan["id"], "idempotencyKey": key("david-bs")}, citizen=DAVID
    )


# (SQL statements, Gældsstyrelsen calls) per citizen, both ways. WebOverview as seeded: the citizen, the claims,
# senders, statements, the claims' live plans and their own enrolments, and the notices' enrolments, plans and
# events (9); Bo has no open claim, so nothing per claim (5). With plans and payments, what is there besides:
# Anna's plan, her enrolment by id, the enrolment of her plan, the payment request, its claims and the claims (15);
# David's plan and its enrolment (11). Gældsstyrelsen: one call for all of a citizen's claims, none without any.
SEEDED = {
    "WebOverview": {ANNA: (9, 1), BO: (5, 0), CAMILLA: (9, 1), DAVID: (9, 1)},
    "WebOpenClaims": {ANNA: (5, 1), BO: (2, 0), CAMILLA: (5, 1), DAVID: (5, 1)},
}
WITH_PLANS = {
    "WebOverview": {ANNA: (15, 1), BO: (5, 0), CAMILLA: (9, 1), DAVID: (11, 1)},
    "WebOpenClaims": {ANNA: (8, 1), BO: (2, 0), CAMILLA: (5, 1), DAVID: (7, 1)},
}


def test_the_web_pages_reads_are_compiled(api):
    view = api.app.state.graphql
    for name in ("Overview", "WebOverview", "WebOpenClaims"):
        assert view.compiled.plan(DOCUMENTS[name].text) is not None, name
    # A claim by its ID is ``node``: an interface, whose resolver checks the claim is the viewer's own.
    assert view.compiled.plan(DOCUMENTS["ClaimDetails"].text) is None


@pytest.mark.parametrize(
    "query",
    [
        "query A { me { notices { draw { amount { amount } } } } }",
        "query B { me { claims { nodes { installmentPlan { principal { formatted } } } } } }",
        "query C { me { notices { paymentRequest { claims { id } } } } }",
    ],
)
def test_strawberry_objects_of_mapped_types_are_not_compiled(api, query):
    """A draw's amount is a Strawberry ``Money``, a payment request's claims Strawberry ``Claim``s: not what the
    tables of those types read (øre, ledger rows), so such a document runs the ordinary way."""
    assert api.app.state.graphql.compiled.add(query) is False


async def _check(api: Api, expected: dict[str, dict[str, tuple[int, int]]]) -> None:
    counted: dict[str, dict[str, tuple[int, int]]] = {}
    for name, citizens in expected.items():
        for cpr in citizens:
            result = await both(api, DOCUMENTS[name].text, citizen=cpr)
            result.assert_identical()
            assert "errors" not in result.compiled.response.json()
            counted.setdefault(name, {})[cpr] = (result.compiled.statements, result.compiled.upstream_calls)
    assert counted == expected


async def test_demo_citizens(api):
    await _check(api, SEEDED)


async def test_with_plans_automatic_payments_and_events(api):
    await plans_and_payments(api)
    await _check(api, WITH_PLANS)
    body = (await both(api, WEB_OVERVIEW, citizen=ANNA)).compiled.response.json()
    claims = {c["reference"]: c for c in body["data"]["me"]["claims"]["nodes"]}
    loan, utility = claims["RK-BIL-2024-0077"], claims["RK-EJD-2025-1187"]
    assert loan["installmentPlan"]["status"] == "ACTIVE" and loan["eligibility"]["canCreateInstallmentPlan"] is False
    assert utility["automaticPayment"]["kind"] == "BETALINGSSERVICE" and utility["installmentPlan"] is None
    codes = [n["code"] for n in body["data"]["me"]["notices"]]
    assert {"FUTURE_INTEREST", "ENROLMENT_PENDING", "PAYMENT_REQUESTED"} <= set(codes), codes
    david = (await both(api, WEB_OVERVIEW, citizen=DAVID)).compiled.response.json()["data"]["me"]
    # David's enrolment draws his claims through their plan.
    assert {c["automaticPayment"]["kind"] for c in david["claims"]["nodes"]} == {"BETALINGSSERVICE"}
    assert "PLAN_APPROVED" in [n["code"] for n in david["notices"]]


async def test_the_notices_before_the_claims(api):
    """The notices read the claims they need; the claims asked for after them are not read a second time."""
    await plans_and_payments(api)
    query = """query NoticesFirst { me { notices { code message link }
      claims(first: 100) { nodes { reference eligibility { canPay reasons } automaticPayment { id } } } } }"""
    counted = {}
    for cpr in (ANNA, DAVID):
        result = await both(api, query, citizen=cpr)
        compiled, ordinary = result.compiled, result.ordinary
        assert compiled.response.content == ordinary.response.content
        assert compiled.upstream_calls == ordinary.upstream_calls == 1
        # The ordinary path may read the claims' live plans in two batches (eligibility asks after Gældsstyrelsen
        # answered, the automatic payment after the enrolments; which comes first is a race); the plan in one.
        assert compiled.statements <= ordinary.statements
        counted[cpr] = compiled.statements
    # David: the citizen, the claims (once), the notices' enrolments, plans and events, the claims' live plans,
    # their enrolments and their plan's enrolment.
    assert counted == {ANNA: 12, DAVID: 8}


@pytest.mark.parametrize(("cpr", "language"), [(ANNA, "da"), (CAMILLA, "en")])
@pytest.mark.parametrize("document", [WEB_OVERVIEW, WEB_OPEN_CLAIMS], ids=["WebOverview", "WebOpenClaims"])
async def test_gaeldst_down(api, document, cpr, language):
    """Gældsstyrelsen answering 503: every claim UNKNOWN, eligibility's reasons for it, notices without the
    collection's, one UPSTREAM_UNAVAILABLE error in the request's language; the same (retried) calls both ways.
    One request per test: the client's retry budget spans its requests."""
    await plans_and_payments(api)
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "error503"})
    try:
        result = await both(api, document, citizen=cpr, **{"Accept-Language": language})
    finally:
        await api.gaeldst_admin("DELETE", "/admin/faults")
    result.assert_identical()
    body: dict[str, Any] = result.compiled.response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_UNAVAILABLE"]
    claims = body["data"]["me"]["claims"]["nodes"]
    assert {c["collection"]["status"] for c in claims} == {"UNKNOWN"}
    assert all(not c["eligibility"]["canCreateInstallmentPlan"] for c in claims)
    assert result.compiled.upstream_calls > 0


async def test_a_citizen_without_a_ledger_record(api):
    for document in (WEB_OVERVIEW, WEB_OPEN_CLAIMS):
        (await both(api, document, citizen="0101011234")).assert_identical()
