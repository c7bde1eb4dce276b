"""Identity (issue 11): idempotency keys belong to the citizen, not to the token's subject, and a replay never
shows someone else's object; the token policy (one identity per token, a capped lifetime, staff tokens from
their own issuer); percent-encoded CPR numbers in return URLs; ``me`` for a citizen the ledger has no record
of; a claim's automatic payment through its plan."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import httpx
import jwt
from sqlalchemy import select, update

from adapters.ledger import models as m
from gateway.auth import issue_token
from gateway.settings import Settings
from resolvers.common import ids
from tests.api.test_payments_flow import CREATE_PLAN, ENROL, START, claims_of
from tests.conftest import ANNA, BO, DAVID, Api, LiveGateway, build_api

SHARED_SUB = "mitid-shared-subject"  # an identity broker that reuses a subject, or a forged pair of tokens
UNKNOWN = "0102034999"  # a valid CPR (1 February 2003) the ledger has no record of
CASEWORKER = "cw-1001"

CREATE = """mutation($input: CreateInstallmentPlanInput!) { createInstallmentPlan(input: $input) {
  plan { id principal { amountOere } claims { reference } } userErrors { code field } } }"""


def key(name: str) -> str:
    """Idempotency records outlive the re-seeded demo citizens: every test uses keys of its own."""
    return f"{name}-{uuid.uuid4().hex[:12]}"


def token(settings: Settings, *, sub: str = SHARED_SUB, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": settings.auth_issuer, "aud": settings.auth_audience, "iat": now, "exp": now + 600, "sub": sub}
    payload |= claims
    secret = settings.signing_secret
    assert secret is not None
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def plan_input(claim_ids: list[str], idempotency_key: str) -> dict[str, Any]:
    return {
        "input": {
            "claimIds": claim_ids,
            "monthlyAmount": "700.00",
            "dayOfMonth": 1,
            "acceptTerms": True,
            "idempotencyKey": idempotency_key,
        }
    }


async def david_claim_ids(api: Api) -> list[str]:
    body = await api.gql("{ me { claims { nodes { id } } } }", citizen=DAVID)
    return [c["id"] for c in body["data"]["me"]["claims"]["nodes"]]


# --- defect 4: idempotency is the citizen's, and a replay shows only the viewer's own object ------------------


async def test_a_plan_key_is_not_replayed_to_another_citizen_with_the_same_subject(api: Api) -> None:
    claim_ids = await david_claim_ids(api)
    shared_key = key("plan")
    david = await api.gql(CREATE, plan_input(claim_ids, shared_key), token=token(api.settings, cpr=DAVID))
    created = david["data"]["createInstallmentPlan"]
    assert created["userErrors"] == [] and created["plan"] is not None

    # Anna's token carries the same subject; she sends David's request with David's key.
    response = await api.post(CREATE, plan_input(claim_ids, shared_key), token=token(api.settings, cpr=ANNA))
    anna = response.json()["data"]["createInstallmentPlan"]
    assert anna["plan"] is None
    assert set(codes(anna)) == {"CLAIM_NOT_FOUND"}  # evaluated as hers: David's claims are not
    assert created["plan"]["id"] not in response.text

    # David still replays his own plan with his key, whatever subject his next token has.
    again = await api.gql(CREATE, plan_input(claim_ids, shared_key), token=token(api.settings, cpr=DAVID, sub="x"))
    assert again["data"]["createInstallmentPlan"]["plan"]["id"] == created["plan"]["id"]


async def test_a_replay_whose_object_is_no_longer_the_viewers_is_refused(api: Api) -> None:
    """A restored or re-imported ledger can give a stored result's object to somebody else: never show it."""
    claim_ids = await david_claim_ids(api)
    plan_key = key("plan")
    created = (await api.gql(CREATE, plan_input(claim_ids, plan_key), citizen=DAVID))["data"]["createInstallmentPlan"]
    plan_pk = ids.decode_as(created["plan"]["id"], "InstallmentPlan")
    async with api.services.db.transaction() as conn:
        bo = (await conn.execute(select(m.Citizen.id).where(m.Citizen.cpr == BO))).scalar_one()
        await conn.execute(update(m.InstallmentPlan).where(m.InstallmentPlan.id == plan_pk).values(citizen_id=bo))

    response = await api.post(CREATE, plan_input(claim_ids, plan_key), token=api.token(citizen=DAVID))
    replay = response.json()["data"]["createInstallmentPlan"]
    assert replay["plan"] is None and codes(replay) == ["IDEMPOTENCY_KEY_REUSED"]
    assert created["plan"]["id"] not in response.text


async def test_a_payment_key_is_not_replayed_to_another_citizen_with_the_same_subject(live: LiveGateway) -> None:
    anna = await claims_of(live, ANNA)
    claim_ids = [anna["RK-DAG-2025-0412"]["id"]]
    variables = {
        "input": {
            "claimIds": claim_ids,
            "method": "CARD",
            "returnUrl": "https://app.example/done",
            "idempotencyKey": key("pay"),
        }
    }

    async def post(cpr: str) -> httpx.Response:
        return await live.client.post(
            f"{live.url}/graphql",
            json={"query": START, "variables": variables},
            headers={"Authorization": f"Bearer {token(live.settings, cpr=cpr)}"},
        )

    first = (await post(ANNA)).json()["data"]["startPayment"]
    assert first["userErrors"] == [] and first["payment"] is not None
    response = await post(BO)
    bo = response.json()["data"]["startPayment"]
    assert bo["payment"] is None and codes(bo) == ["CLAIM_NOT_FOUND"]
    assert first["payment"]["id"] not in response.text
    assert str(first["payment"]["amount"]["amountOere"]) not in response.text


# --- defect 9: the token policy ---------------------------------------------------------------------------------


async def test_a_token_with_both_a_cpr_and_the_caseworker_role_is_refused(api: Api) -> None:
    for role in ({"role": "caseworker"}, {"roles": ["caseworker"]}):
        response = await api.post("{ me { cpr } }", token=token(api.settings, cpr=ANNA, **role))
        body = response.json()
        assert body["data"] is None and error_codes(body) == ["UNAUTHENTICATED"], role
        assert ANNA not in response.text


async def test_token_lifetime_is_capped(api: Api) -> None:
    now = int(time.time())
    cap = api.settings.auth_max_token_lifetime_seconds
    too_long: list[dict[str, Any]] = [
        {"iat": now, "exp": now + 100 * 365 * 86400},  # a century ahead
        {"iat": now - 60, "exp": now + cap},  # a minute over the cap
        {"iat": now - cap, "exp": now + 3600},  # issued long ago, still valid for an hour: lived too long
    ]
    for times in too_long:
        body = (await api.post("{ me { cpr } }", token=token(api.settings, cpr=ANNA, **times))).json()
        assert error_codes(body) == ["UNAUTHENTICATED"], times
    within = token(api.settings, cpr=ANNA, iat=now, exp=now + cap)
    assert (await api.gql("{ me { cpr } }", token=within))["data"]["me"]["cpr"] == ANNA


async def test_staff_tokens_come_from_their_own_issuer_and_audience(migrated: str, gaeldst_sim: Any) -> None:
    staff = {"auth_staff_issuer": "https://staff.randers.dk", "auth_staff_audience": "betalingsoverblik-staff"}
    async with build_api(migrated, gaeldst_sim, **staff) as api:
        lookup = f'{{ citizen(cpr: "{ANNA}") {{ cpr }} }}'
        # issue_token signs caseworkers for the staff issuer and audience when they are configured
        assert (await api.gql(lookup, caseworker=CASEWORKER))["data"]["citizen"]["cpr"] == ANNA
        assert (await api.gql("{ me { cpr } }", citizen=ANNA))["data"]["me"]["cpr"] == ANNA
        # a caseworker role in a token of the citizens' issuer is not a caseworker
        citizen_issuer_caseworker = token(api.settings, sub=CASEWORKER, role="caseworker")
        assert error_codes((await api.post(lookup, token=citizen_issuer_caseworker)).json()) == ["UNAUTHENTICATED"]
        # and a CPR in a staff token is not a citizen
        staff_citizen = token(api.settings, cpr=ANNA, iss=staff["auth_staff_issuer"], aud=staff["auth_staff_audience"])
        assert error_codes((await api.post("{ me { cpr } }", token=staff_citizen)).json()) == ["UNAUTHENTICATED"]


def test_issue_token_refuses_a_lifetime_over_the_cap() -> None:
    settings = Settings()
    issue_token(settings, citizen_cpr=ANNA, ttl_seconds=settings.auth_max_token_lifetime_seconds)
    try:
        issue_token(settings, citizen_cpr=ANNA, ttl_seconds=settings.auth_max_token_lifetime_seconds + 1)
    except ValueError:
        return
    raise AssertionError("a token living longer than the cap was issued")


# --- defect 10: a percent-encoded CPR in a return URL ----------------------------------------------------------


async def test_a_percent_encoded_cpr_in_the_return_url_is_refused(api: Api) -> None:
    claim = (await api.gql("{ me { claims { nodes { id } } } }", citizen=ANNA))["data"]["me"]["claims"]["nodes"][0]
    for url in (
        "https://app.example/done?c=10%31%30005678",  # David's CPR, two digits encoded
        "https://app.example/done?c=%2531%2535%2530%2537%2538%2530%2534%2533%2532%2531",  # Anna's, encoded twice
        "https://app.example/done?c=101000%2D5678",  # the hyphen encoded
        "https://app.example/done?c=101000+5678",  # a form-encoded space
    ):
        variables = {
            "input": {"claimIds": [claim["id"]], "method": "CARD", "returnUrl": url, "idempotencyKey": key("u")}
        }
        response = await api.post(START, variables, token=api.token(citizen=ANNA))
        payload = response.json()["data"]["startPayment"]
        assert payload["payment"] is None and codes(payload) == ["INVALID_RETURN_URL"], url


# --- `me` for a citizen the ledger has no record of ------------------------------------------------------------

OVERVIEW = """{ me { id cpr name totalOutstanding { amountOere } claims { totalCount }
  installmentPlans { totalCount } paymentMethods { totalCount } payments { totalCount } mobilePayAccounts { id }
  accessLog { totalCount } notices { code } } }"""


async def test_me_for_a_citizen_with_no_ledger_record(api: Api) -> None:
    response = await api.post(OVERVIEW, token=api.token(citizen=UNKNOWN))
    body = response.json()
    assert "errors" not in body, body
    me = body["data"]["me"]
    assert me == {
        "id": me["id"],
        "cpr": UNKNOWN,
        "name": "",
        "totalOutstanding": {"amountOere": 0},
        "claims": {"totalCount": 0},
        "installmentPlans": {"totalCount": 0},
        "paymentMethods": {"totalCount": 0},
        "payments": {"totalCount": 0},
        "mobilePayAccounts": [],
        "accessLog": {"totalCount": 0},
        "notices": [],
    }
    # The ID is no ledger row's and carries nothing of the CPR; node() finds nothing behind it.
    raw = base64.urlsafe_b64decode(me["id"] + "=" * (-len(me["id"]) % 4)).decode()
    assert raw == "Citizen:0"
    node = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": me["id"]}, citizen=UNKNOWN)
    assert node["data"]["node"] is None

    # The name comes from the token when the identity broker sends one.
    named = token(api.settings, sub="mitid-unknown", cpr=UNKNOWN, name="Ny Borger")
    assert (await api.gql("{ me { name } }", token=named))["data"]["me"]["name"] == "Ny Borger"


# --- a claim drawn through an enrolled plan shows its automatic payment ------------------------------------------


async def test_a_claim_in_an_enrolled_plan_shows_the_plans_automatic_payment(live: LiveGateway) -> None:
    david = await claims_of(live, DAVID)
    created = await live.gql(CREATE_PLAN, plan_input([c["id"] for c in david.values()], key("p")), citizen=DAVID)
    plan = created["data"]["createInstallmentPlan"]["plan"]
    enrol = {"input": {"kind": "BETALINGSSERVICE", "planId": plan["id"], "idempotencyKey": key("bs")}}
    enrolled = (await live.gql(ENROL, enrol, citizen=DAVID))["data"]["enrolAutomaticPayment"]["paymentMethod"]
    after = await claims_of(live, DAVID)
    assert {ref: c["automaticPayment"] for ref, c in after.items()} == {
        ref: {"id": enrolled["id"], "status": "PENDING"} for ref in david
    }
