"""R14/R15: collection at Gældsstyrelsen, asked live through the simulator over real HTTP.

The demo simulator knows RK-REN-2023-0931 (Anna), RK-DAG-2022-0101 and RK-KTN-2022-0202 (Camilla) as under
collection, and RK-FOR-2023-0311 (David) as returned by agreement; every other reference is NOT_RECEIVED.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.test_overview import OVERVIEW, codes, make_citizen, money, seed_outstanding
from tests.conftest import ANNA, BO, CAMILLA, DAVID

COLLECTION = """
{ me { totalOutstanding { amountOere }
  claims { nodes { reference outstanding { amountOere amount }
    collection { status marker since returnReason }
    eligibility { canPay canCreateInstallmentPlan reasons } } }
  notices { code severity message link contact { name phone phoneHours { weekday opens closes } } } } }
"""


def by_ref(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["reference"]: c for c in body["data"]["me"]["claims"]["nodes"]}


async def stats(api: Any) -> dict[str, int]:
    result: dict[str, int] = await api.gaeldst_admin("GET", "/admin/stats")
    return result


async def fresh(api: Any) -> None:
    """No cached states and zeroed simulator counters."""
    api.services.gaeldst.invalidate()
    await api.gaeldst_admin("POST", "/admin/reset-stats")


@pytest.fixture
async def restore_sim(api):
    """Puts back the demo states of any reference a test changes (the simulator lives for the session)."""
    from adapters.gaeldst.simulator import DEMO_COLLECTION_STATES

    changed: list[str] = []
    yield changed
    for ref in changed:
        demo = DEMO_COLLECTION_STATES.get(ref)
        state = (
            {
                "state": demo.state.value,
                "since": demo.since.isoformat() if demo.since else None,
                "returnReason": demo.return_reason,
            }
            if demo
            else {"state": "NOT_RECEIVED", "since": None, "returnReason": None}
        )
        await api.gaeldst_admin("PUT", f"/admin/claims/{ref}", state)
    await api.gaeldst_admin("DELETE", "/admin/faults")


# --- statuses -------------------------------------------------------------------------------------------


async def test_anna_has_one_claim_at_collection_marked_with_a_star(api):
    body = await api.gql(COLLECTION, citizen=ANNA)
    assert "errors" not in body, body
    claims = by_ref(body)
    at = claims["RK-REN-2023-0931"]
    assert at["collection"] == {"status": "AT_COLLECTION", "marker": "*", "since": "2025-03-01", "returnReason": None}
    for ref in ("RK-DAG-2025-0412", "RK-EJD-2025-1187", "RK-BIL-2024-0077"):
        assert claims[ref]["collection"]["status"] == "NOT_AT_COLLECTION", ref
        assert claims[ref]["collection"]["marker"] is None
        assert claims[ref]["collection"]["since"] is None


async def test_at_collection_can_be_paid_but_not_put_in_a_plan(api):
    claims = by_ref(await api.gql(COLLECTION, citizen=ANNA))
    assert claims["RK-REN-2023-0931"]["eligibility"] == {
        "canPay": True,
        "canCreateInstallmentPlan": False,
        "reasons": ["CLAIM_AT_COLLECTION"],
    }
    # the amount at collection is still shown and still part of the total (collection costs are not)
    assert claims["RK-REN-2023-0931"]["outstanding"]["amountOere"] == seed_outstanding(ANNA)["RK-REN-2023-0931"]
    for ref in ("RK-DAG-2025-0412", "RK-EJD-2025-1187", "RK-BIL-2024-0077"):
        assert claims[ref]["eligibility"] == {"canPay": True, "canCreateInstallmentPlan": True, "reasons": []}


async def test_david_has_a_claim_returned_from_collection(api):
    body = await api.gql(COLLECTION, citizen=DAVID)
    assert "errors" not in body, body
    returned = by_ref(body)["RK-FOR-2023-0311"]
    assert returned["collection"]["status"] == "RETURNED"
    assert returned["collection"]["marker"] is None
    assert returned["collection"]["returnReason"] == "AGREEMENT"
    assert returned["collection"]["since"] == "2025-06-01"
    # returned claims are the municipality's again: a plan is possible
    assert returned["eligibility"] == {"canPay": True, "canCreateInstallmentPlan": True, "reasons": []}
    # 3100.00 - 500.00
    assert returned["outstanding"]["amount"] == "2600.00"
    assert [n["code"] for n in body["data"]["me"]["notices"]] == []


async def test_return_reason_is_only_shown_for_returned_claims(api, restore_sim):
    restore_sim.append("RK-EJD-2025-1187")
    await api.gaeldst_admin(
        "PUT",
        "/admin/claims/RK-EJD-2025-1187",
        {"state": "UNDER_COLLECTION", "since": "2025-01-02", "returnReason": "COMPLAINT"},
    )
    claim = by_ref(await api.gql(COLLECTION, citizen=ANNA))["RK-EJD-2025-1187"]
    assert claim["collection"] == {
        "status": "AT_COLLECTION",
        "marker": "*",
        "since": "2025-01-02",
        "returnReason": None,
    }


@pytest.mark.parametrize(
    ("state", "status", "marker"),
    [
        ("RECEIVED", "AT_COLLECTION", "*"),
        ("UNDER_COLLECTION", "AT_COLLECTION", "*"),
        ("RETURNED", "RETURNED", None),
        ("NOT_RECEIVED", "NOT_AT_COLLECTION", None),
        ("REJECTED", "NOT_AT_COLLECTION", None),
    ],
)
async def test_gaeldst_states_map_to_collection_status(api, restore_sim, state, status, marker):
    ref = "RK-DAG-2025-0412"
    restore_sim.append(ref)
    reason = "AGREEMENT" if state == "RETURNED" else None
    payload = {"state": state, "since": "2025-05-05", "returnReason": reason}
    await api.gaeldst_admin("PUT", f"/admin/claims/{ref}", payload)
    claim = by_ref(await api.gql(COLLECTION, citizen=ANNA))[ref]
    assert claim["collection"]["status"] == status
    assert claim["collection"]["marker"] == marker
    assert ("CLAIM_AT_COLLECTION" in claim["eligibility"]["reasons"]) is (status == "AT_COLLECTION")


async def test_camilla_is_told_about_collection_and_wage_garnishment(api):
    body = await api.gql(COLLECTION, citizen=CAMILLA)
    assert "errors" not in body, body
    claims = by_ref(body)
    assert {c["collection"]["status"] for c in claims.values()} == {"AT_COLLECTION"}
    assert {c["collection"]["marker"] for c in claims.values()} == {"*"}
    for c in claims.values():
        assert c["eligibility"]["canPay"] is True
        assert c["eligibility"]["canCreateInstallmentPlan"] is False
    notices = {n["code"]: n for n in body["data"]["me"]["notices"]}
    assert {"AT_COLLECTION", "WAGE_GARNISHMENT"} <= set(notices)
    for code in ("AT_COLLECTION", "WAGE_GARNISHMENT"):
        contact = notices[code]["contact"]
        assert contact["name"] == "Gældsstyrelsen"
        assert contact["phone"] == "7015 7304"
        assert notices[code]["severity"] == "WARNING"
        assert notices[code]["link"].startswith("https://gaeldst.dk/borger")
    hours = {h["weekday"]: (h["opens"], h["closes"]) for h in notices["AT_COLLECTION"]["contact"]["phoneHours"]}
    assert hours == {
        "MONDAY": ("09:00", "17:00"),
        "TUESDAY": ("09:00", "16:00"),
        "WEDNESDAY": ("09:00", "16:00"),
        "THURSDAY": ("09:00", "16:00"),
        "FRIDAY": ("09:00", "14:00"),
    }
    assert "*" in notices["AT_COLLECTION"]["message"]
    assert "lønindeholdelse" in notices["WAGE_GARNISHMENT"]["message"]


async def test_bo_and_david_get_no_collection_notices(api):
    for cpr in (BO, DAVID):
        body = await api.gql(COLLECTION, citizen=cpr)
        assert not {"AT_COLLECTION", "WAGE_GARNISHMENT"} & {n["code"] for n in body["data"]["me"]["notices"]}


# --- Gældsstyrelsen unavailable: partial results --------------------------------------------------------

TIMES_OUT = pytest.mark.upstream_timeout(0.1)  # short, so that a hang or 1.5 s of latency is a timeout
FAULTS = [
    {"mode": "error503"},
    {"mode": "error500"},
    pytest.param({"mode": "hang"}, marks=TIMES_OUT),
    {"mode": "malformed"},
    {"mode": "refuse"},
    pytest.param({"mode": "latency", "latencyMs": 1500}, marks=TIMES_OUT),
]


@pytest.mark.parametrize("fault", FAULTS, ids=["error503", "error500", "hang", "malformed", "refuse", "latency"])
async def test_ledger_is_still_returned_when_gaeldst_fails(api, restore_sim, fault):
    await fresh(api)
    await api.gaeldst_admin("POST", "/admin/faults", {**fault, "references": None})
    started = time.monotonic()
    response = await api.post(COLLECTION, token=api.token(citizen=ANNA))
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    body = response.json()
    assert codes(body) == ["UPSTREAM_UNAVAILABLE"], body
    error = body["errors"][0]
    assert "Gældsstyrelsen" in error["message"]
    assert "Traceback" not in response.text and "httpx" not in response.text
    me = body["data"]["me"]
    expected = seed_outstanding(ANNA)
    assert me["totalOutstanding"]["amountOere"] == sum(expected.values())
    claims = by_ref(body)
    assert set(claims) == set(expected)
    for ref, claim in claims.items():
        assert claim["outstanding"]["amountOere"] == expected[ref]
        assert claim["collection"] == {"status": "UNKNOWN", "marker": None, "since": None, "returnReason": None}
        assert claim["eligibility"]["canPay"] is True
        assert claim["eligibility"]["canCreateInstallmentPlan"] is False
        assert claim["eligibility"]["reasons"] == ["COLLECTION_STATUS_UNAVAILABLE"]
    # no collection notices on facts we do not know
    assert "AT_COLLECTION" not in {n["code"] for n in me["notices"]}
    assert elapsed < 5, elapsed
    assert (await stats(api))["statusCalls"] >= 1


async def test_full_overview_with_gaeldst_down_has_exactly_one_error(api, restore_sim):
    await fresh(api)
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "error503", "references": None})
    # collection is asked by claims, eligibility and notices, twice through aliases: still one error
    query = OVERVIEW.replace("claims {", "a: claims(first: 2) { nodes { collection { status } } } claims {", 1)
    body = (await api.post(query, token=api.token(citizen=ANNA))).json()
    assert codes(body) == ["UPSTREAM_UNAVAILABLE"], body
    assert body["data"]["me"]["name"] == "Anna Jensen"
    for c in body["data"]["me"]["claims"]["nodes"]:
        lines = c["statement"]["lines"]
        assert lines[-1]["balanceAfter"] == c["outstanding"]
        assert c["sender"]["contact"]["phone"]


async def test_upstream_error_message_is_translated(api, restore_sim):
    await fresh(api)
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "error500", "references": None})
    da = (await api.post(COLLECTION, token=api.token(citizen=ANNA))).json()["errors"][0]["message"]
    en = (await api.post(COLLECTION, token=api.token(citizen=ANNA), headers={"Accept-Language": "en"})).json()
    en_msg = en["errors"][0]["message"]
    assert da != en_msg
    assert "kunne ikke kontaktes" in da
    assert "could not be reached" in en_msg


async def test_fault_on_one_citizens_claims_does_not_hide_another_citizens(api, restore_sim):
    await fresh(api)
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "error503", "references": ["RK-REN-2023-0931"]})
    anna = await api.gql(COLLECTION, citizen=ANNA)
    assert codes(anna) == ["UPSTREAM_UNAVAILABLE"]
    david = await api.gql(COLLECTION, citizen=DAVID)
    assert "errors" not in david
    assert by_ref(david)["RK-FOR-2023-0311"]["collection"]["status"] == "RETURNED"


async def test_query_without_collection_fields_needs_no_gaeldst(api, restore_sim):
    await fresh(api)
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "error503", "references": None})
    body = await api.gql(
        "{ me { totalOutstanding { amount } claims { nodes { reference outstanding { amount } } } } }", citizen=ANNA
    )
    assert "errors" not in body
    assert (await stats(api))["statusCalls"] == 0


async def test_recovers_when_gaeldst_comes_back(api, restore_sim):
    await fresh(api)
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "error503", "references": None})
    down = await api.gql(COLLECTION, citizen=ANNA)
    assert codes(down) == ["UPSTREAM_UNAVAILABLE"]
    await api.gaeldst_admin("DELETE", "/admin/faults")
    up = await api.gql(COLLECTION, citizen=ANNA)
    assert "errors" not in up
    assert by_ref(up)["RK-REN-2023-0931"]["collection"]["status"] == "AT_COLLECTION"


# --- one upstream call per request, and the cache -------------------------------------------------------


async def test_one_overview_request_makes_exactly_one_upstream_call(api):
    await fresh(api)
    body = await api.gql(OVERVIEW, citizen=ANNA)
    assert "errors" not in body
    s = await stats(api)
    assert s["statusCalls"] == 1
    assert s["referencesAsked"] == 4  # Anna's four claims, each once


async def test_one_upstream_call_for_a_citizen_with_200_claims(api):
    cpr, _ = await make_citizen(api, [[10_000 + i, -1_000] for i in range(200)])
    await fresh(api)
    body = await api.gql(
        "{ me { claims(first: 100) { nodes { collection { status } eligibility { reasons } } } "
        "  notices { code } totalOutstanding { amountOere } } }",
        citizen=cpr,
    )
    assert "errors" not in body, body
    assert body["data"]["me"]["totalOutstanding"] == {"amountOere": sum(9_000 + i for i in range(200))}
    assert {c["collection"]["status"] for c in body["data"]["me"]["claims"]["nodes"]} == {"NOT_AT_COLLECTION"}
    s = await stats(api)
    assert s["statusCalls"] == 1
    assert s["referencesAsked"] <= 200


async def test_full_overview_of_200_claims_makes_one_upstream_call(api):
    cpr, _ = await make_citizen(api, [[20_000] for _ in range(200)])
    await fresh(api)
    body = await api.gql(OVERVIEW.replace("claims {", "claims(first: 100) {", 1), citizen=cpr)
    assert "errors" not in body, body
    assert body["data"]["me"]["totalOutstanding"] == money(200 * 20_000)
    assert (await stats(api))["statusCalls"] == 1


async def test_a_page_of_100_of_200_claims_makes_one_upstream_call(api):
    cpr, refs = await make_citizen(api, [[10_000 + i] for i in range(200)])
    await fresh(api)
    body = await api.gql(
        "{ me { claims(first: 100) { nodes { reference collection { status } eligibility { reasons } } } } }",
        citizen=cpr,
    )
    assert "errors" not in body, body
    assert [c["reference"] for c in body["data"]["me"]["claims"]["nodes"]] == refs[:100]
    # One call that asks about all of the citizen's claims, so the notices or a later page in the same
    # request never need a second one.
    assert await stats(api) == {"statusCalls": 1, "referencesAsked": 200}


async def test_notices_alone_make_one_upstream_call(api):
    await fresh(api)
    body = await api.gql("{ me { notices { code } } }", citizen=ANNA)
    assert {"AT_COLLECTION", "WAGE_GARNISHMENT"} <= {n["code"] for n in body["data"]["me"]["notices"]}
    assert (await stats(api))["statusCalls"] == 1


async def test_notices_alone_are_correct(api):
    body = await api.gql("{ me { notices { code } } }", citizen=ANNA)
    assert "errors" not in body
    assert {"AT_COLLECTION", "WAGE_GARNISHMENT"} <= {n["code"] for n in body["data"]["me"]["notices"]}


@TIMES_OUT
async def test_notices_alone_with_gaeldst_hanging_stay_within_one_timeout(api, restore_sim):
    cpr, _ = await make_citizen(api, [[10_000] for _ in range(6)])
    await fresh(api)
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "hang", "references": None})
    started = time.monotonic()
    body = await api.gql("{ me { notices { code } } }", citizen=cpr)
    elapsed = time.monotonic() - started
    assert codes(body) == ["UPSTREAM_UNAVAILABLE"]
    assert elapsed < 3.0, elapsed


async def test_second_request_within_the_cache_ttl_makes_no_upstream_call(api):
    await fresh(api)
    first = await api.gql(COLLECTION, citizen=ANNA)
    assert (await stats(api))["statusCalls"] == 1
    second = await api.gql(COLLECTION, citizen=ANNA)
    assert (await stats(api))["statusCalls"] == 1
    assert by_ref(second) == by_ref(first)


async def test_invalidate_forces_a_new_upstream_call(api, restore_sim):
    await fresh(api)
    await api.gql(COLLECTION, citizen=ANNA)
    restore_sim.append("RK-DAG-2025-0412")
    await api.gaeldst_admin("PUT", "/admin/claims/RK-DAG-2025-0412", {"state": "RECEIVED", "since": "2025-07-01"})
    cached = by_ref(await api.gql(COLLECTION, citizen=ANNA))["RK-DAG-2025-0412"]
    assert cached["collection"]["status"] == "NOT_AT_COLLECTION"  # served from the cache
    api.services.gaeldst.invalidate()
    live = by_ref(await api.gql(COLLECTION, citizen=ANNA))["RK-DAG-2025-0412"]
    assert live["collection"]["status"] == "AT_COLLECTION"
    assert (await stats(api))["statusCalls"] == 2


async def test_failures_are_not_cached(api, restore_sim):
    await fresh(api)
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "malformed", "references": None})
    assert codes(await api.gql(COLLECTION, citizen=ANNA)) == ["UPSTREAM_UNAVAILABLE"]
    await api.gaeldst_admin("DELETE", "/admin/faults")
    await api.gaeldst_admin("POST", "/admin/reset-stats")
    body = await api.gql(COLLECTION, citizen=ANNA)
    assert "errors" not in body
    assert (await stats(api))["statusCalls"] == 1
