"""The individual assessment that can say no (issue 12, item 5) and terms as data (item 6), through the API on SQLite
and PostgreSQL: approve, reject, counter-offer (accepted or declined), the internal note kept from the citizen, the
citizen's notice either way, the accepted terms version on every plan, and bad input that writes nothing."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from adapters.ledger import models as m
from gateway.domain.clock import today
from gateway.domain.terms import CURRENT_TERMS_VERSION
from tests.api.test_plans import codes, david_claims
from tests.conftest import ANNA, DAVID, Api

CASEWORKER = "cw-1001"
RUN = uuid.uuid4().hex[:8]


def key(name: str) -> str:
    """An idempotency key of this run (keys are per person and outlive the demo ledger's reseeding)."""
    return f"{name}-{RUN}"


PLAN = """id status months monthlyAmount { amountOere } principal { amountOere } termsVersion termsAcceptedVia
  terms { version text } approvalNote createdBy
  claims { reference installmentPlan { id } } installments { number dueOn amount { amountOere } }
  assessment { reason outcome decidedBy decidedAt messageToCitizen internalNote
               counterOffer { monthlyAmount { amountOere amount } months } }"""

CREATE = f"""mutation($input: CreateInstallmentPlanInput!) {{
  createInstallmentPlan(input: $input) {{ plan {{ {PLAN} }} userErrors {{ code field message }} }} }}"""

DECISIONS = {
    name: f"""mutation($input: {name[0].upper()}{name[1:]}Input!) {{
  {name}(input: $input) {{ plan {{ {PLAN} }} userErrors {{ code field message }} }} }}"""
    for name in (
        "approveInstallmentPlan",
        "rejectInstallmentPlan",
        "counterOfferInstallmentPlan",
        "acceptCounterOffer",
        "declineCounterOffer",
    )
}

NOTICES = """{ me { notices { code message createdAt installmentPlan { id status }
  paymentRequest { link } } } }"""


async def count(api: Api, model: Any, *where: Any) -> int:
    async with api.services.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def ask_for_a_long_plan(api: Api, name: str, reason: str | None = "Lav indkomst i et år") -> dict[str, Any]:
    """David asks for 350.00 DKK a month: 35 months, so an individual assessment."""
    ids, _ = await david_claims(api)
    variables = {
        "input": {
            "claimIds": ids,
            "monthlyAmount": "350.00",
            "dayOfMonth": 10,
            "acceptTerms": True,
            "termsVersion": CURRENT_TERMS_VERSION,
            "requestAssessment": True,
            "assessmentReason": reason,
            "idempotencyKey": key(name),
        }
    }
    payload = (await api.gql(CREATE, variables, citizen=DAVID))["data"]["createInstallmentPlan"]
    assert payload["userErrors"] == [], payload
    plan: dict[str, Any] = payload["plan"]
    assert plan["status"] == "PENDING_APPROVAL" and plan["months"] == 35
    return plan


async def decide(api: Api, name: str, variables: dict[str, Any], **viewer: str) -> dict[str, Any]:
    body = await api.gql(DECISIONS[name], {"input": variables}, **viewer)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][name]
    return payload


async def notices(api: Api) -> list[dict[str, Any]]:
    body = await api.gql(NOTICES, citizen=DAVID)
    found: list[dict[str, Any]] = body["data"]["me"]["notices"]
    return found


# --- terms as data ------------------------------------------------------------------------------------------------


async def test_the_terms_are_data_in_both_languages_and_every_plan_keeps_the_version(api: Api) -> None:
    da = (await api.gql("{ planTerms { version text current } }"))["data"]["planTerms"]
    en = (await api.gql("{ planTerms { version text } }", headers={"Accept-Language": "en"}))["data"]["planTerms"]
    assert da["version"] == en["version"] == CURRENT_TERMS_VERSION and da["current"] is True
    assert "mindst 350,00 kr. om måneden" in da["text"] and "at least 350.00 DKK a month" in en["text"]
    unknown = await api.gql('{ planTerms(version: "1999-01") { version } }', citizen=DAVID)
    assert unknown["data"]["planTerms"] is None

    plan = await ask_for_a_long_plan(api, "terms-1")
    assert plan["termsVersion"] == CURRENT_TERMS_VERSION and plan["termsAcceptedVia"] == "ONLINE"
    assert plan["terms"] == {"version": CURRENT_TERMS_VERSION, "text": da["text"]}


async def test_an_outdated_terms_version_is_refused_and_writes_nothing(api: Api) -> None:
    ids, _ = await david_claims(api)
    before = await count(api, m.InstallmentPlan)
    base = {"claimIds": ids, "monthlyAmount": "700.00", "dayOfMonth": 1, "acceptTerms": True}
    refused = (
        await api.gql(
            CREATE, {"input": base | {"termsVersion": "2025-01", "idempotencyKey": key("t-old")}}, citizen=DAVID
        )
    )["data"]["createInstallmentPlan"]
    assert refused["plan"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("TERMS_VERSION_OUTDATED", ["input", "termsVersion"])
    ]
    assert await count(api, m.InstallmentPlan) == before
    # The preview says so too once the tick is given; an older client that sends no version gets the current one.
    preview = await api.gql(
        "query($input: InstallmentPlanInput!) { previewInstallmentPlan(input: $input) "
        "{ allowed violations { code } } }",
        {"input": {**base, "termsVersion": "2025-01"}},
        citizen=DAVID,
    )
    assert codes(preview["data"]["previewInstallmentPlan"]["violations"]) == ["TERMS_VERSION_OUTDATED"]
    legacy = (await api.gql(CREATE, {"input": base | {"idempotencyKey": key("t-none")}}, citizen=DAVID))["data"][
        "createInstallmentPlan"
    ]
    assert legacy["userErrors"] == [] and legacy["plan"]["termsVersion"] == CURRENT_TERMS_VERSION


async def test_a_reason_goes_with_a_request_for_an_assessment_only(api: Api) -> None:
    ids, _ = await david_claims(api)
    base = {"claimIds": ids, "monthlyAmount": "700.00", "dayOfMonth": 1, "acceptTerms": True}
    refused = (
        await api.gql(CREATE, {"input": base | {"assessmentReason": "x", "idempotencyKey": key("r1")}}, citizen=DAVID)
    )["data"]["createInstallmentPlan"]
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("INVALID_INPUT", ["input", "assessmentReason"])
    ]
    # Too long, or a control character (a NUL: PostgreSQL cannot store it in text, and a page would carry it).
    for name, reason in (("r2", "x" * 2001), ("r-nul", "Syg\u0000")):
        asked = base | {"monthlyAmount": "350", "requestAssessment": True, "assessmentReason": reason}
        bad = (await api.gql(CREATE, {"input": asked | {"idempotencyKey": key(name)}}, citizen=DAVID))["data"][
            "createInstallmentPlan"
        ]
        assert [(e["code"], e["field"]) for e in bad["userErrors"]] == [
            ("INVALID_INPUT", ["input", "assessmentReason"])
        ], name
        assert bad["plan"] is None
    plan = await ask_for_a_long_plan(api, "r3")
    assert plan["assessment"] == {
        "reason": "Lav indkomst i et år",
        "outcome": None,
        "decidedBy": None,
        "decidedAt": None,
        "messageToCitizen": None,
        "internalNote": None,
        "counterOffer": None,
    }


# --- the assessment -----------------------------------------------------------------------------------------------


async def test_the_internal_note_is_for_colleagues_and_the_message_for_the_citizen(api: Api) -> None:
    plan = await ask_for_a_long_plan(api, "n1")
    approved = await decide(
        api,
        "approveInstallmentPlan",
        {
            "planId": plan["id"],
            "note": "Kun internt: budget gennemgået",
            "messageToCitizen": "Vi har godkendt 35 måneder.",
            "idempotencyKey": key("n-a"),
        },
        caseworker=CASEWORKER,
    )
    assert approved["userErrors"] == [] and approved["plan"]["status"] == "ACTIVE"
    assert approved["plan"]["assessment"]["internalNote"] == "Kun internt: budget gennemgået"  # the caseworker's view
    # The citizen's view: the message, never the note (before: approvalNote showed it to the citizen).
    mine = await api.gql(
        "query($id: ID!) { node(id: $id) { ... on InstallmentPlan { " + PLAN + " } } }",
        {"id": plan["id"]},
        citizen=DAVID,
    )
    seen = mine["data"]["node"]
    assert seen["approvalNote"] is None and seen["assessment"]["internalNote"] is None
    assert "Kun internt" not in str(mine)
    assert seen["assessment"]["outcome"] == "APPROVED" and seen["assessment"]["decidedBy"] == CASEWORKER
    assert seen["assessment"]["messageToCitizen"] == "Vi har godkendt 35 måneder."
    told = [n for n in await notices(api) if n["code"] == "PLAN_APPROVED"]
    assert len(told) == 1 and told[0]["installmentPlan"]["id"] == plan["id"]
    assert told[0]["message"].endswith("Besked fra Betalingskontoret: Vi har godkendt 35 måneder.")


async def test_a_rejection_frees_the_claims_and_tells_the_citizen_why(api: Api) -> None:
    plan = await ask_for_a_long_plan(api, "j1")
    # Bad input first: no reasons for the citizen, no note, no plan: nothing is written.
    for variables, code, field in (
        ({"note": "nej", "messageToCitizen": "  "}, "MESSAGE_TO_CITIZEN_REQUIRED", ["input", "messageToCitizen"]),
        ({"note": "", "messageToCitizen": "Begrundelse"}, "INVALID_INPUT", ["input", "note"]),
        ({"note": "nej", "messageToCitizen": "x" * 2001}, "INVALID_INPUT", ["input", "messageToCitizen"]),
        ({"note": "nej\x07", "messageToCitizen": "Begrundelse"}, "INVALID_INPUT", ["input", "note"]),
    ):
        refused = await decide(
            api,
            "rejectInstallmentPlan",
            {"planId": plan["id"], "idempotencyKey": key(f"j-bad-{code}-{field[-1]}"), **variables},
            caseworker=CASEWORKER,
        )
        assert refused["plan"] is None and [(e["code"], e["field"]) for e in refused["userErrors"]] == [(code, field)]
    assert await count(api, m.CitizenNotice, m.CitizenNotice.code == "PLAN_REJECTED") == 0
    # A citizen cannot decide their own assessment.
    denied = await api.gql(
        DECISIONS["rejectInstallmentPlan"],
        {"input": {"planId": plan["id"], "note": "x", "messageToCitizen": "y", "idempotencyKey": key("j-c")}},
        citizen=DAVID,
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    rejected = await decide(
        api,
        "rejectInstallmentPlan",
        {
            "planId": plan["id"],
            "note": "Indtægt rækker til 18 mdr.",
            "messageToCitizen": "Din økonomi giver plads til en ordning på 18 måneder.",
            "idempotencyKey": key("j-ok"),
        },
        caseworker=CASEWORKER,
    )
    assert rejected["userErrors"] == [] and rejected["plan"]["status"] == "REJECTED"
    assert all(c["installmentPlan"] is None for c in rejected["plan"]["claims"])  # the claims are free again
    assert rejected["plan"]["assessment"]["outcome"] == "REJECTED"
    # Nothing decides it again, and the claims take a plan within the rules at once.
    again = await decide(
        api,
        "approveInstallmentPlan",
        {"planId": plan["id"], "note": "alligevel", "idempotencyKey": key("j-again")},
        caseworker=CASEWORKER,
    )
    assert codes(again["userErrors"]) == ["PLAN_NOT_PENDING"]
    ids, _ = await david_claims(api)
    new = (
        await api.gql(
            CREATE,
            {
                "input": {
                    "claimIds": ids,
                    "monthlyAmount": "700",
                    "dayOfMonth": 1,
                    "acceptTerms": True,
                    "idempotencyKey": key("j-new"),
                }
            },
            citizen=DAVID,
        )
    )["data"]["createInstallmentPlan"]
    assert new["userErrors"] == [] and new["plan"]["status"] == "ACTIVE"
    told = [n for n in await notices(api) if n["code"] == "PLAN_REJECTED"]
    assert len(told) == 1 and "Din økonomi giver plads" in told[0]["message"]
    assert "Indtægt rækker" not in str(told)
    log = await api.gql("{ me { accessLog { nodes { operation actorId } } } }", citizen=DAVID)
    assert {"operation": "rejectInstallmentPlan", "actorId": CASEWORKER} in log["data"]["me"]["accessLog"]["nodes"]


async def test_a_counter_offer_below_350_a_month_is_refused_and_writes_nothing(api: Api) -> None:
    plan = await ask_for_a_long_plan(api, "b1")
    for extra, field in (({"monthlyAmount": "349.99"}, "monthlyAmount"), ({"months": 36}, "months")):
        refused = await decide(
            api,
            "counterOfferInstallmentPlan",
            {"planId": plan["id"], "note": "n", "messageToCitizen": "m", "idempotencyKey": key(f"b-{field}"), **extra},
            caseworker=CASEWORKER,
        )
        assert refused["plan"] is None
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
            ("MONTHLY_AMOUNT_BELOW_MINIMUM", ["input", field])
        ]
    both = await decide(
        api,
        "counterOfferInstallmentPlan",
        {
            "planId": plan["id"],
            "note": "n",
            "messageToCitizen": "m",
            "idempotencyKey": key("b-both"),
            "months": 24,
            "monthlyAmount": "500",
        },
        caseworker=CASEWORKER,
    )
    assert codes(both["userErrors"]) == ["INVALID_INPUT"]
    still = await api.gql(
        "query($id: ID!) { node(id: $id) { ... on InstallmentPlan { status } } }", {"id": plan["id"]}, citizen=DAVID
    )
    assert still["data"]["node"]["status"] == "PENDING_APPROVAL"
    assert await count(api, m.CitizenNotice, m.CitizenNotice.code == "PLAN_COUNTER_OFFERED") == 0


async def test_a_counter_offer_holds_the_claims_until_the_citizen_accepts_it(api: Api) -> None:
    plan = await ask_for_a_long_plan(api, "c1")
    offered = await decide(
        api,
        "counterOfferInstallmentPlan",
        {
            "planId": plan["id"],
            "months": 24,
            "note": "Tilbyd 24 mdr.",
            "messageToCitizen": "Vi kan tilbyde 24 måneder.",
            "idempotencyKey": key("c-offer"),
        },
        caseworker=CASEWORKER,
    )
    assert offered["userErrors"] == [] and offered["plan"]["status"] == "COUNTER_OFFERED"
    offer = offered["plan"]["assessment"]["counterOffer"]
    assert offer == {"monthlyAmount": {"amountOere": 50_209, "amount": "502.09"}, "months": 24}  # ceil(12,050 / 24)
    # The claims stay held while the citizen considers it.
    ids, _ = await david_claims(api)
    held = (
        await api.gql(
            CREATE,
            {
                "input": {
                    "claimIds": ids,
                    "monthlyAmount": "700",
                    "dayOfMonth": 1,
                    "acceptTerms": True,
                    "idempotencyKey": key("c-other"),
                }
            },
            citizen=DAVID,
        )
    )["data"]["createInstallmentPlan"]
    assert "CLAIM_ALREADY_IN_PLAN" in codes(held["userErrors"])
    told = [n for n in await notices(api) if n["code"] == "PLAN_COUNTER_OFFERED"]
    assert len(told) == 1 and "502,09 kr. om måneden i 24 måneder" in told[0]["message"]
    assert told[0]["message"].endswith("Vi kan tilbyde 24 måneder.")

    # Accepting needs the tick and the current terms; a caseworker cannot accept for the citizen.
    for variables, code in (
        ({"acceptTerms": False}, "TERMS_NOT_ACCEPTED"),
        ({"acceptTerms": True, "termsVersion": "2025-01"}, "TERMS_VERSION_OUTDATED"),
    ):
        refused = await decide(
            api,
            "acceptCounterOffer",
            {"planId": plan["id"], "idempotencyKey": key(f"c-{code}"), **variables},
            citizen=DAVID,
        )
        assert codes(refused["userErrors"]) == [code] and refused["plan"] is None
    staff = await api.gql(
        DECISIONS["acceptCounterOffer"],
        {"input": {"planId": plan["id"], "acceptTerms": True, "idempotencyKey": key("c-s")}},
        caseworker=CASEWORKER,
    )
    assert staff["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    accepted = await decide(
        api,
        "acceptCounterOffer",
        {
            "planId": plan["id"],
            "acceptTerms": True,
            "termsVersion": CURRENT_TERMS_VERSION,
            "idempotencyKey": key("c-yes"),
        },
        citizen=DAVID,
    )
    assert accepted["userErrors"] == []
    active = accepted["plan"]
    assert active["status"] == "ACTIVE" and active["monthlyAmount"]["amountOere"] == 50_209 and active["months"] == 24
    assert sum(i["amount"]["amountOere"] for i in active["installments"]) == active["principal"]["amountOere"]
    assert active["installments"][0]["dueOn"] > today().isoformat()  # in force from the acceptance on
    assert active["termsVersion"] == CURRENT_TERMS_VERSION and active["termsAcceptedVia"] == "ONLINE"
    # The same key gives the same answer; the offer cannot be answered twice.
    replay = await decide(
        api,
        "acceptCounterOffer",
        {
            "planId": plan["id"],
            "acceptTerms": True,
            "termsVersion": CURRENT_TERMS_VERSION,
            "idempotencyKey": key("c-yes"),
        },
        citizen=DAVID,
    )
    assert replay["plan"]["id"] == plan["id"] and replay["userErrors"] == []
    declined = await decide(
        api, "declineCounterOffer", {"planId": plan["id"], "idempotencyKey": key("c-no")}, citizen=DAVID
    )
    assert codes(declined["userErrors"]) == ["PLAN_NOT_COUNTER_OFFERED"]


async def test_a_declined_counter_offer_frees_the_claims(api: Api) -> None:
    plan = await ask_for_a_long_plan(api, "d1")
    await decide(
        api,
        "counterOfferInstallmentPlan",
        {
            "planId": plan["id"],
            "monthlyAmount": "600",
            "note": "n",
            "messageToCitizen": "600 kr.",
            "idempotencyKey": key("d-offer"),
        },
        caseworker=CASEWORKER,
    )
    # Another citizen's counter-offer is not there for them.
    foreign = await decide(
        api, "declineCounterOffer", {"planId": plan["id"], "idempotencyKey": key("d-a")}, citizen=ANNA
    )
    assert codes(foreign["userErrors"]) == ["PLAN_NOT_FOUND"]
    declined = await decide(
        api, "declineCounterOffer", {"planId": plan["id"], "idempotencyKey": key("d-no")}, citizen=DAVID
    )
    assert declined["userErrors"] == [] and declined["plan"]["status"] == "CANCELLED"
    assert all(c["installmentPlan"] is None for c in declined["plan"]["claims"])
    late = await decide(
        api,
        "acceptCounterOffer",
        {"planId": plan["id"], "acceptTerms": True, "idempotencyKey": key("d-late")},
        citizen=DAVID,
    )
    assert codes(late["userErrors"]) == ["PLAN_NOT_COUNTER_OFFERED"]


async def test_a_counter_offer_of_one_month_reads_one_month(api: Api) -> None:
    """The notice read "i 1 måneder" / "for 1 months" (found in an outside review)."""
    plan = await ask_for_a_long_plan(api, "one-month")
    offered = await decide(
        api,
        "counterOfferInstallmentPlan",
        {
            "planId": plan["id"],
            "months": 1,
            "note": "Alt på én gang",
            "messageToCitizen": "Betal det hele på én gang.",
            "idempotencyKey": key("one-month-offer"),
        },
        caseworker=CASEWORKER,
    )
    assert offered["userErrors"] == [] and offered["plan"]["assessment"]["counterOffer"]["months"] == 1
    told = [n for n in await notices(api) if n["code"] == "PLAN_COUNTER_OFFERED"]
    assert len(told) == 1 and "12.050,00 kr. om måneden i 1 måned. " in told[0]["message"]
    english = await api.gql(NOTICES, citizen=DAVID, headers={"Accept-Language": "en"})
    messages = [n["message"] for n in english["data"]["me"]["notices"] if n["code"] == "PLAN_COUNTER_OFFERED"]
    assert len(messages) == 1 and "12.050,00 kr. a month for 1 month instead." in messages[0]
