"""A caseworker acting on a citizen's behalf, by phone (issue 12, item 4), and the access log for people (item 8),
through the API on SQLite and PostgreSQL: the citizen's own rules apply (R11, R13, R14, idempotency), every action is
in the citizen's access log with the caseworker's name, unit and purpose, and bad input writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.ledger import models as m
from adapters.simserver import ThreadedServer
from gateway.auth import issue_token
from gateway.domain.terms import CURRENT_TERMS_VERSION
from tests.api.test_plans import claim_ids, codes
from tests.conftest import ANNA, BO, CAMILLA, DAVID, Api, build_api

CASEWORKER = "cw-1001"
RUN = uuid.uuid4().hex[:8]


def key(name: str) -> str:
    """An idempotency key of this run (keys are per person and outlive the demo ledger's reseeding)."""
    return f"{name}-{RUN}"


PURPOSE = "Anna ringede og bad om en afdragsordning"

PLAN_PAYLOAD = """{ plan { id status createdBy termsVersion termsAcceptedVia monthlyAmount { amountOere }
  excludesFutureInterest claims { reference } } userErrors { code field } }"""
CREATE = f"""mutation($input: CreateInstallmentPlanOnBehalfInput!) {{
  createInstallmentPlanOnBehalf(input: $input) {PLAN_PAYLOAD} }}"""
CANCEL = f"""mutation($input: CancelInstallmentPlanOnBehalfInput!) {{
  cancelInstallmentPlanOnBehalf(input: $input) {PLAN_PAYLOAD} }}"""
PREVIEW = """query($input: PreviewInstallmentPlanOnBehalfInput!) {
  previewInstallmentPlanOnBehalf(input: $input) { allowed status months principal { amountOere }
    violations { code field } } }"""
METHOD_PAYLOAD = "{ paymentMethod { id kind status } userErrors { code field } }"
ENROL = f"""mutation($input: EnrolAutomaticPaymentOnBehalfInput!) {{
  enrolAutomaticPaymentOnBehalf(input: $input) {METHOD_PAYLOAD} }}"""
STOP = f"""mutation($input: StopAutomaticPaymentOnBehalfInput!) {{
  stopAutomaticPaymentOnBehalf(input: $input) {METHOD_PAYLOAD} }}"""
LINK = """mutation($input: SendPaymentLinkInput!) { sendPaymentLink(input: $input) {
  paymentRequest { link claims { id reference } totalOutstanding { amountOere } createdAt }
  userErrors { code field } } }"""
ACCESS_LOG = (
    """{ me { accessLog { nodes { operation actorId actorName actorUnit purpose description requestId } } } }"""
)


@pytest.fixture
async def api(migrated: str, gaeldst_sim: ThreadedServer, payments_sim: ThreadedServer) -> AsyncIterator[Api]:
    """The ``api`` of conftest, with the payment provider's simulator (enrolments are made there)."""
    async with build_api(migrated, gaeldst_sim, payments_url=payments_sim.url) as a:
        yield a


def mette(api: Api, *, read_only: bool = False) -> str:
    """cw-1001's token as the identity broker issues it: with a name and a unit."""
    return issue_token(
        api.settings, caseworker_id=CASEWORKER, name="Mette Sørensen", unit="Betalingskontoret", read_only=read_only
    )


async def citizen_id(api: Api, cpr: str) -> str:
    body = await api.gql("{ me { id } }", citizen=cpr)
    found: str = body["data"]["me"]["id"]
    return found


async def count(api: Api, model: Any, *where: Any) -> int:
    async with api.services.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def act(api: Api, document: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    response = await api.post(document, {"input": variables}, token=token or mette(api))
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


def payload(body: dict[str, Any]) -> dict[str, Any]:
    (value,) = body["data"].values()
    result: dict[str, Any] = value
    return result


def plan_input(claims: list[str], idempotency_key: str, **overrides: Any) -> dict[str, Any]:
    return {
        "claimIds": claims,
        "monthlyAmount": "1500.00",
        "dayOfMonth": 15,
        "acceptTerms": True,
        "termsVersion": CURRENT_TERMS_VERSION,
        "idempotencyKey": idempotency_key,
    } | overrides


async def test_a_plan_made_on_the_phone_follows_the_citizens_rules_and_is_in_her_log(api: Api) -> None:
    anna = await citizen_id(api, ANNA)
    claims = await claim_ids(api, ANNA)
    daycare, deposit = claims["RK-DAG-2025-0412"][0], claims["RK-BIL-2024-0077"][0]

    preview = payload(
        await act(
            api,
            PREVIEW,
            {
                "citizenId": anna,
                "purpose": PURPOSE,
                "plan": {"claimIds": [daycare, deposit], "monthlyAmount": "1500", "dayOfMonth": 15},
            },
        )
    )
    assert preview["allowed"] is True and preview["violations"] == [], preview
    # R11 on the phone too: below 350.00 DKK a month is refused, pointing into the plan's input; nothing is written.
    plans_before = await count(api, m.InstallmentPlan)
    low = payload(
        await act(
            api,
            CREATE,
            {
                "citizenId": anna,
                "purpose": PURPOSE,
                "plan": plan_input([daycare], key("phone-low"), monthlyAmount="349.99"),
            },
        )
    )
    assert low["plan"] is None
    assert [(e["code"], e["field"]) for e in low["userErrors"]] == [
        ("MONTHLY_AMOUNT_BELOW_MINIMUM", ["input", "plan", "monthlyAmount"])
    ]
    assert await count(api, m.InstallmentPlan) == plans_before

    variables = {"citizenId": anna, "purpose": PURPOSE, "plan": plan_input([daycare, deposit], key("phone-1"))}
    created = payload(await act(api, CREATE, variables))
    assert created["userErrors"] == []
    plan = created["plan"]
    assert plan["status"] == "ACTIVE" and plan["createdBy"] == f"caseworker:{CASEWORKER}"
    assert plan["termsVersion"] == CURRENT_TERMS_VERSION and plan["termsAcceptedVia"] == "PHONE"
    assert plan["excludesFutureInterest"] is True  # R13: the beboerindskudslån's future interest is not in it
    # The same key gives the same plan; the same key with other input is refused.
    assert payload(await act(api, CREATE, variables))["plan"]["id"] == plan["id"]
    reused = payload(await act(api, CREATE, variables | {"purpose": "et andet formål"}))
    assert codes(reused["userErrors"]) == ["IDEMPOTENCY_KEY_REUSED"]

    # Anna sees it: who (name and unit, never a bare id), what, why, in her language.
    log = (await api.gql(ACCESS_LOG, citizen=ANNA))["data"]["me"]["accessLog"]["nodes"]
    made = [e for e in log if e["operation"] == "createInstallmentPlanOnBehalf"]
    assert len(made) == 1  # the replay wrote nothing
    assert made[0]["actorName"] == "Mette Sørensen" and made[0]["actorUnit"] == "Betalingskontoret"
    assert made[0]["purpose"] == PURPOSE and made[0]["requestId"]
    assert made[0]["description"] == (
        "Mette Sørensen (Betalingskontoret) oprettede en afdragsordning for dig i telefonen, efter at du havde "
        f"accepteret betingelserne. Formål: {PURPOSE}"
    )
    assert any(e["operation"] == "previewInstallmentPlanOnBehalf" and e["purpose"] == PURPOSE for e in log)
    english = await api.gql(ACCESS_LOG, citizen=ANNA, headers={"Accept-Language": "en"})
    described = {e["operation"]: e["description"] for e in english["data"]["me"]["accessLog"]["nodes"]}
    assert described["createInstallmentPlanOnBehalf"].startswith(
        "Mette Sørensen (Betalingskontoret) created an installment plan for you on the phone"
    )

    # Cancelled on the phone: logged, and the claims are free again.
    cancelled = payload(
        await act(
            api,
            CANCEL,
            {
                "citizenId": anna,
                "planId": plan["id"],
                "purpose": "Anna vil betale i stedet",
                "idempotencyKey": key("phone-c"),
            },
        )
    )
    assert cancelled["userErrors"] == [] and cancelled["plan"]["status"] == "CANCELLED"
    log = (await api.gql(ACCESS_LOG, citizen=ANNA))["data"]["me"]["accessLog"]["nodes"]
    assert any(
        e["operation"] == "cancelInstallmentPlanOnBehalf" and e["purpose"] == "Anna vil betale i stedet" for e in log
    )


async def test_r14_on_the_phone_too(api: Api) -> None:
    camilla = await citizen_id(api, CAMILLA)
    claims = [cid for cid, _ in (await claim_ids(api, CAMILLA)).values()]
    refused = payload(
        await act(
            api,
            CREATE,
            {
                "citizenId": camilla,
                "purpose": "Camilla ringede",
                "plan": plan_input(claims, key("r14"), monthlyAmount="1500"),
            },
        )
    )
    assert refused["plan"] is None and "CLAIM_AT_COLLECTION" in codes(refused["userErrors"])
    assert all(e["field"][:3] == ["input", "plan", "claimIds"] for e in refused["userErrors"])


async def test_bad_input_is_specific_and_writes_nothing(api: Api) -> None:
    anna = await citizen_id(api, ANNA)
    davids_plan_claims = [cid for cid, _ in (await claim_ids(api, DAVID)).values()]
    daycare = (await claim_ids(api, ANNA))["RK-DAG-2025-0412"][0]
    logged_before = await count(api, m.AccessLogEntry)
    plans_before = await count(api, m.InstallmentPlan)
    cases = [
        ({"purpose": ""}, "PURPOSE_REQUIRED", ["input", "purpose"]),
        ({"purpose": " \t "}, "PURPOSE_REQUIRED", ["input", "purpose"]),
        ({"purpose": "x" * 501}, "PURPOSE_TOO_LONG", ["input", "purpose"]),
        ({"citizenId": daycare}, "CITIZEN_NOT_FOUND", ["input", "citizenId"]),  # a claim's ID is no citizen's
        ({"citizenId": "not-an-id"}, "CITIZEN_NOT_FOUND", ["input", "citizenId"]),
        (
            {"plan": plan_input([daycare], key("bad-tv"), termsVersion=None)},
            "INVALID_INPUT",
            ["input", "plan", "termsVersion"],
        ),
        (
            {"plan": plan_input([daycare], key("bad-old"), termsVersion="2025-01")},
            "TERMS_VERSION_OUTDATED",
            ["input", "plan", "termsVersion"],
        ),
        # David's claims named for Anna: not hers, so "not found" (a caseworker cannot act on the wrong person).
        (
            {"plan": plan_input(davids_plan_claims[:1], key("bad-foreign"))},
            "CLAIM_NOT_FOUND",
            ["input", "plan", "claimIds", "0"],
        ),
    ]
    for i, (overrides, code, field) in enumerate(cases):
        variables = {"citizenId": anna, "purpose": PURPOSE, "plan": plan_input([daycare], key(f"bad-{i}"))} | overrides
        refused = payload(await act(api, CREATE, variables))
        assert refused["plan"] is None, (overrides, refused)
        assert (code, field) in [(e["code"], e["field"]) for e in refused["userErrors"]], (overrides, refused)
    # A preview without a purpose shows nothing of Anna's and is not logged.
    blind = payload(
        await act(
            api,
            PREVIEW,
            {
                "citizenId": anna,
                "purpose": "",
                "plan": {"claimIds": [daycare], "monthlyAmount": "500", "dayOfMonth": 1},
            },
        )
    )
    assert blind["allowed"] is False and blind["principal"]["amountOere"] == 0
    assert ("PURPOSE_REQUIRED", ["input", "purpose"]) in [(v["code"], v["field"]) for v in blind["violations"]]
    assert ("CLAIM_NOT_FOUND", ["input", "plan", "claimIds", "0"]) in [
        (v["code"], v["field"]) for v in blind["violations"]
    ]
    assert await count(api, m.AccessLogEntry) == logged_before
    assert await count(api, m.InstallmentPlan) == plans_before


async def test_only_a_caseworker_allowed_to_act_acts(api: Api) -> None:
    anna = await citizen_id(api, ANNA)
    daycare = (await claim_ids(api, ANNA))["RK-DAG-2025-0412"][0]
    variables = {"input": {"citizenId": anna, "purpose": PURPOSE, "plan": plan_input([daycare], key("who"))}}
    for token, code in (
        (mette(api, read_only=True), "FORBIDDEN"),
        (api.token(citizen=ANNA), "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ):
        body = (await api.post(CREATE, variables, token=token)).json()
        assert [e["extensions"]["code"] for e in body["errors"]] == [code]
        assert body["data"] is None or body["data"]["createInstallmentPlanOnBehalf"] is None


async def test_automatic_payment_on_the_phone(api: Api) -> None:
    anna = await citizen_id(api, ANNA)
    david = await citizen_id(api, DAVID)
    claims = await claim_ids(api, ANNA)
    property_tax = claims["RK-EJD-2025-1187"][0]
    enrolled = payload(
        await act(
            api,
            ENROL,
            {
                "citizenId": anna,
                "purpose": "Anna vil have Betalingsservice",
                "enrolment": {"kind": "BETALINGSSERVICE", "claimIds": [property_tax], "idempotencyKey": key("bs-1")},
            },
        )
    )
    assert enrolled["userErrors"] == [] and enrolled["paymentMethod"]["status"] == "PENDING"
    method = enrolled["paymentMethod"]["id"]
    # R14: the bill at Gældsstyrelsen cannot be enrolled, on the phone either.
    at_collection = payload(
        await act(
            api,
            ENROL,
            {
                "citizenId": anna,
                "purpose": "x",
                "enrolment": {
                    "kind": "BETALINGSSERVICE",
                    "claimIds": [claims["RK-REN-2023-0931"][0]],
                    "idempotencyKey": key("bs-2"),
                },
            },
        )
    )
    assert codes(at_collection["userErrors"]) == ["CLAIM_AT_COLLECTION"]
    # Stopping it for David (the wrong citizen) finds nothing; for Anna it stops.
    wrong = payload(
        await act(
            api, STOP, {"citizenId": david, "paymentMethodId": method, "purpose": "x", "idempotencyKey": key("s-0")}
        )
    )
    assert codes(wrong["userErrors"]) == ["PAYMENT_METHOD_NOT_FOUND"]
    stopped = payload(
        await act(
            api,
            STOP,
            {"citizenId": anna, "paymentMethodId": method, "purpose": "Anna opsagde", "idempotencyKey": key("s-1")},
        )
    )
    assert stopped["userErrors"] == [] and stopped["paymentMethod"]["status"] == "STOPPED"
    log = (await api.gql(ACCESS_LOG, citizen=ANNA))["data"]["me"]["accessLog"]["nodes"]
    ops = {(e["operation"], e["purpose"]) for e in log}
    assert ("enrolAutomaticPaymentOnBehalf", "Anna vil have Betalingsservice") in ops
    assert ("stopAutomaticPaymentOnBehalf", "Anna opsagde") in ops
    assert not any(e["operation"].endswith("OnBehalf") and e["purpose"] == "x" for e in log)  # refusals: not logged


async def test_a_payment_link_is_a_notice_and_the_citizen_pays_herself(api: Api) -> None:
    anna = await citizen_id(api, ANNA)
    claims = await claim_ids(api, ANNA)
    ticked = [claims["RK-DAG-2025-0412"], claims["RK-REN-2023-0931"]]  # one at collection: it can still be paid (R14)
    payments_before = await count(api, m.Payment)
    sent = payload(
        await act(
            api,
            LINK,
            {
                "citizenId": anna,
                "claimIds": [cid for cid, _ in ticked],
                "purpose": "Anna vil betale to regninger",
                "idempotencyKey": key("link-1"),
            },
        )
    )
    assert sent["userErrors"] == []
    request = sent["paymentRequest"]
    assert request["totalOutstanding"]["amountOere"] == sum(amount for _, amount in ticked)
    assert {c["id"] for c in request["claims"]} == {cid for cid, _ in ticked}
    assert request["link"].startswith(f"{api.settings.public_url}/betal?krav=")
    assert all(cid in request["link"] for cid, _ in ticked) and ANNA not in request["link"]
    assert await count(api, m.Payment) == payments_before  # nothing is paid by the caseworker

    notices = (
        await api.gql("{ me { notices { code message link paymentRequest { claims { id } } } } }", citizen=ANNA)
    )["data"]["me"]["notices"]
    told = [n for n in notices if n["code"] == "PAYMENT_REQUESTED"]
    assert len(told) == 1 and told[0]["link"] == request["link"]
    assert "2 krav" in told[0]["message"]

    # Someone else's claim, a paid claim, no claims: refused, nothing written.
    bo_paid = next(iter((await claim_ids(api, BO)).values()))[0]
    david_claim = next(iter((await claim_ids(api, DAVID)).values()))[0]
    requests_before = await count(api, m.PaymentRequest)
    for claim_list, code in (([david_claim], "CLAIM_NOT_FOUND"), ([], "NO_CLAIMS_SELECTED")):
        refused = payload(
            await act(
                api,
                LINK,
                {"citizenId": anna, "claimIds": claim_list, "purpose": "x", "idempotencyKey": key(f"link-{code}")},
            )
        )
        assert refused["paymentRequest"] is None and code in codes(refused["userErrors"])
    bo = await citizen_id(api, BO)
    paid = payload(
        await act(
            api, LINK, {"citizenId": bo, "claimIds": [bo_paid], "purpose": "x", "idempotencyKey": key("link-paid")}
        )
    )
    assert codes(paid["userErrors"]) == ["CLAIM_NOT_OPEN"]
    assert await count(api, m.PaymentRequest) == requests_before
