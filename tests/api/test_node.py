"""Global IDs: every Node round-trips through ``node(id:)``/``nodes(ids:)`` for its owner; IDs are opaque
and never contain a CPR number; malformed IDs are BAD_USER_INPUT; absent objects are null."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from adapters.ledger import models as m
from gateway.domain.clock import today, utcnow
from tests.api.test_overview import codes
from tests.conftest import ANNA, BO, CAMILLA, DAVID

CASEWORKER = "cw-1001"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unb64(gid: str) -> str:
    return base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4)).decode("utf-8", "replace")


async def add_plan_enrolment_payment(api: Any, cpr: str) -> None:
    """Give a citizen an installment plan (with installments), a pending Betalingsservice enrolment on the
    plan, and a card payment, directly in the ledger."""
    now = utcnow()
    day0 = today()
    async with api.services.db.transaction() as conn:
        citizen_id = (await conn.execute(select(m.Citizen.id).where(m.Citizen.cpr == cpr))).scalar_one()
        claim_id, outstanding = (
            await conn.execute(
                select(m.Claim.id, m.Claim.original_amount_oere).where(m.Claim.citizen_id == citizen_id).limit(1)
            )
        ).one()
        plan_id = (
            await conn.execute(
                insert(m.InstallmentPlan)
                .values(
                    citizen_id=citizen_id,
                    status="ACTIVE",
                    principal_oere=105_000,
                    monthly_amount_oere=35_000,
                    months=3,
                    day_of_month=1,
                    excludes_future_interest=False,
                    assessment_requested=False,
                    terms_accepted_at=now,
                    created_by="citizen:test",
                    created_at=now,
                )
                .returning(m.InstallmentPlan.id)
            )
        ).scalar_one()
        await conn.execute(insert(m.PlanClaim).values(plan_id=plan_id, claim_id=claim_id, outstanding_oere=outstanding))
        await conn.execute(
            insert(m.Installment),
            [
                {
                    "plan_id": plan_id,
                    "number": n,
                    "due_on": day0 + timedelta(days=30 * n),
                    "amount_oere": 35_000,
                    "paid_oere": 0,
                }
                for n in (1, 2, 3)
            ],
        )
        await conn.execute(
            insert(m.Enrolment).values(
                citizen_id=citizen_id,
                kind="BETALINGSSERVICE",
                status="PENDING",
                plan_id=plan_id,
                provider_ref=f"bs-{uuid.uuid4().hex[:16]}",
                provider_sequence=0,
                requested_at=now,
            )
        )
        await conn.execute(
            insert(m.Payment).values(
                citizen_id=citizen_id,
                method="CARD",
                status="CAPTURED",
                amount_oere=10_000,
                provider_ref=f"pay-{uuid.uuid4().hex[:16]}",
                provider_sequence=0,
                return_url="https://app.example/return",
                created_at=now,
                updated_at=now,
                captured_at=now,
            )
        )


ALL_IDS = """
{ me { id
  claims { edges { cursor } nodes { id sender { id } installmentPlan { id } } }
  installmentPlans { edges { cursor } nodes { id installments { id number } } }
  paymentMethods { nodes { id } }
  payments { nodes { id } }
  mobilePayAccounts { id }
  accessLog { edges { cursor } nodes { id } } } }
"""


async def all_ids(api: Any, cpr: str) -> dict[str, list[str]]:
    body = await api.gql(ALL_IDS, citizen=cpr)
    assert "errors" not in body, body
    me = body["data"]["me"]
    return {
        "Citizen": [me["id"]],
        "Claim": [c["id"] for c in me["claims"]["nodes"]],
        "Department": sorted({c["sender"]["id"] for c in me["claims"]["nodes"]}),
        "InstallmentPlan": [p["id"] for p in me["installmentPlans"]["nodes"]],
        "Installment": [i["id"] for p in me["installmentPlans"]["nodes"] for i in p["installments"]],
        "PaymentMethod": [p["id"] for p in me["paymentMethods"]["nodes"]],
        "Payment": [p["id"] for p in me["payments"]["nodes"]],
        "MobilePayAccount": [a["id"] for a in me["mobilePayAccounts"]],
        "AccessLogEntry": [e["id"] for e in me["accessLog"]["nodes"]],
        "cursors": [e["cursor"] for e in me["claims"]["edges"] + me["installmentPlans"]["edges"]]
        + [e["cursor"] for e in me["accessLog"]["edges"]],
    }


NODE = """
query($id: ID!) { node(id: $id) { __typename id
  ... on Citizen { name }
  ... on Claim { reference }
  ... on Department { code }
  ... on InstallmentPlan { months }
  ... on Installment { number }
  ... on PaymentMethod { kind }
  ... on Payment { method }
  ... on MobilePayAccount { name }
  ... on AccessLogEntry { actorId } } }
"""

ROUND_TRIP_TYPES = [
    "Citizen",
    "Claim",
    "Department",
    "InstallmentPlan",
    "Installment",
    "PaymentMethod",
    "Payment",
    "MobilePayAccount",
]


@pytest.fixture
async def anna_ids(api):
    """Anna's IDs, with a plan, an enrolment, a payment and one access-log row; set up once for the tests in
    a row that only read them (tests/conftest.py, BASELINE_FIXTURES)."""

    async def setup():
        await add_plan_enrolment_payment(api, ANNA)
        await api.gql('{ citizen(cpr: "1507804321") { id } }', caseworker=CASEWORKER)  # one access-log row
        return await all_ids(api, ANNA)

    return await api.ledger.prepare(api.services.db, "anna_ids", setup)


@pytest.mark.parametrize("type_name", ROUND_TRIP_TYPES)
async def test_every_node_type_round_trips_for_its_owner(api, anna_ids, type_name):
    ids = anna_ids[type_name]
    assert ids, f"no {type_name} to test with"
    for gid in ids:
        body = await api.gql(NODE, {"id": gid}, citizen=ANNA)
        assert "errors" not in body, body
        node = body["data"]["node"]
        assert node is not None, (type_name, gid)
        assert node["__typename"] == type_name
        assert node["id"] == gid


async def test_node_fields_match_the_overview(api, anna_ids):
    claim = (await api.gql(NODE, {"id": anna_ids["Claim"][0]}, citizen=ANNA))["data"]["node"]
    assert claim["reference"].startswith("RK-")
    plan = (await api.gql(NODE, {"id": anna_ids["InstallmentPlan"][0]}, citizen=ANNA))["data"]["node"]
    assert plan["months"] == 3
    numbers = [
        (await api.gql(NODE, {"id": gid}, citizen=ANNA))["data"]["node"]["number"] for gid in anna_ids["Installment"]
    ]
    assert sorted(numbers) == [1, 2, 3]
    pm = (await api.gql(NODE, {"id": anna_ids["PaymentMethod"][0]}, citizen=ANNA))["data"]["node"]
    assert pm["kind"] == "BETALINGSSERVICE"
    pay = (await api.gql(NODE, {"id": anna_ids["Payment"][0]}, citizen=ANNA))["data"]["node"]
    assert pay["method"] == "CARD"
    accounts = {
        (await api.gql(NODE, {"id": gid}, citizen=ANNA))["data"]["node"]["name"] for gid in anna_ids["MobilePayAccount"]
    }
    assert accounts == {"Lønkonto", "Budgetkonto"}


async def test_access_log_entry_round_trips_for_its_citizen(api, anna_ids):
    gid = anna_ids["AccessLogEntry"][0]
    body = await api.gql(NODE, {"id": gid}, citizen=ANNA)
    assert body["data"]["node"] is not None
    assert body["data"]["node"]["actorId"] == CASEWORKER


async def test_nodes_returns_in_order_with_nulls(api, anna_ids):
    wanted = [anna_ids[t][0] for t in ROUND_TRIP_TYPES]
    missing = b64("Claim:987654321")
    body = await api.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
        {"ids": [*wanted, missing, wanted[0]]},
        citizen=ANNA,
    )
    assert "errors" not in body
    result = body["data"]["nodes"]
    assert [n["id"] for n in result[: len(wanted)]] == wanted
    assert [n["__typename"] for n in result[: len(wanted)]] == ROUND_TRIP_TYPES
    assert result[len(wanted)] is None
    assert result[-1]["id"] == wanted[0]


async def test_nodes_caps_at_100_ids(api, anna_ids):
    ids = [anna_ids["Claim"][0]] * 101
    body = await api.gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids}, citizen=ANNA)
    assert codes(body) == ["BAD_USER_INPUT"]
    ok = await api.gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids[:100]}, citizen=ANNA)
    assert "errors" not in ok
    assert len(ok["data"]["nodes"]) == 100


async def test_another_citizens_plan_payment_and_enrolment_are_invisible(api):
    await add_plan_enrolment_payment(api, DAVID)
    david = await all_ids(api, DAVID)
    for type_name in ("InstallmentPlan", "Installment", "PaymentMethod", "Payment", "MobilePayAccount", "Claim"):
        for gid in david[type_name]:
            body = await api.gql(NODE, {"id": gid}, citizen=ANNA)
            assert body == {"data": {"node": None}}, (type_name, body)
            # ... and the owner sees it
            own = await api.gql(NODE, {"id": gid}, citizen=DAVID)
            assert own["data"]["node"]["id"] == gid
    # the caseworker sees everything
    for gid in david["Installment"] + david["Payment"]:
        body = await api.gql(NODE, {"id": gid}, caseworker=CASEWORKER)
        assert body["data"]["node"]["id"] == gid


@pytest.mark.parametrize(
    "gid",
    [
        "",
        "not base64 at all!",
        "%%%",
        "x" * 101,
        b64("Nope:1"),
        b64("Claim"),
        b64("Claim:"),
        b64("Claim:abc"),
        b64("Claim:-1"),
        b64("Claim:1.5"),
        b64(":1"),
        b64("claim:1"),
        b64("Claim:" + "9" * 40),
        ANNA,
    ],
)
async def test_malformed_ids_are_bad_user_input(api, gid):
    response = await api.post("query($id: ID!) { node(id: $id) { id } }", {"id": gid}, token=api.token(citizen=ANNA))
    body = response.json()
    assert codes(body) == ["BAD_USER_INPUT"], (gid, body)
    assert body["data"]["node"] is None
    assert ANNA not in response.text


async def test_malformed_id_in_nodes_is_bad_user_input(api):
    body = await api.gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["garbage!!"]}, citizen=ANNA)
    assert codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("type_name", [*ROUND_TRIP_TYPES, "AccessLogEntry"])
async def test_valid_looking_id_of_a_missing_object_is_null(api, type_name):
    for key in ("987654321", "0", "9" * 18):
        gid = b64(f"{type_name}:{key}")
        for who in ({"citizen": ANNA}, {"caseworker": CASEWORKER}):
            body = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": gid}, **who)
            assert body == {"data": {"node": None}}, (type_name, key, who, body)


async def test_global_ids_and_cursors_never_contain_a_cpr(api, anna_ids):
    cpr_like = re.compile(r"\d{6}-?\d{4}")
    everything = {t: list(v) for t, v in anna_ids.items()}
    for cpr in (BO, CAMILLA, DAVID):
        for t, v in (await all_ids(api, cpr)).items():
            everything.setdefault(t, []).extend(v)
    checked = 0
    for values in everything.values():
        for gid in values:
            decoded = unb64(gid)
            for cpr in (ANNA, BO, CAMILLA, DAVID):
                assert cpr not in gid and cpr not in decoded
                assert cpr[:6] not in decoded  # not even the birth date part
            assert not cpr_like.search(gid) and not cpr_like.search(decoded), gid
            checked += 1
    assert checked > 20


async def test_ids_are_distinct_across_types_and_objects(api, anna_ids):
    flat = [gid for t, v in anna_ids.items() if t != "cursors" for gid in v if t != "Department"]
    assert len(flat) == len(set(flat))
    # the same database id in two types gives two different global ids
    assert b64("Claim:1") != b64("Citizen:1")


async def test_citizen_id_is_the_same_through_me_and_the_caseworker_lookup(api):
    mine = (await api.gql("{ me { id } }", citizen=ANNA))["data"]["me"]["id"]
    theirs = (await api.gql('{ citizen(cpr: "1507804321") { id } }', caseworker=CASEWORKER))["data"]["citizen"]["id"]
    assert mine == theirs
    assert ANNA not in mine
