"""The response cache: a repeated citizen query is served from memory, and never after a write it can see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.simserver import ThreadedServer
from tests.conftest import ANNA, BO, DAVID, Api, build_api

OVERVIEW = """{ me { name totalOutstanding { amountOere } accessLog { totalCount }
  installmentPlans { totalCount } claims { nodes { id reference outstanding { amountOere }
  collection { status } statement { lines { amount { amountOere } } } } } } }"""


@pytest.fixture
async def cached(migrated: str, gaeldst_sim: ThreadedServer) -> AsyncIterator[Api]:
    async with build_api(migrated, gaeldst_sim, response_cache_ttl_seconds=60) as built:
        yield built


async def overview(api: Api, cpr: str) -> tuple[dict[str, Any], str | None]:
    response = await api.post(OVERVIEW, token=api.token(citizen=cpr))
    assert response.status_code == 200
    return response.json(), response.headers.get("x-cache")


async def test_repeat_is_a_hit_with_one_statement_and_no_upstream_call(cached: Api) -> None:
    first, state = await overview(cached, ANNA)
    assert state == "miss" and "errors" not in first
    cached.sql.reset()
    await cached.gaeldst_admin("POST", "/admin/reset-stats")
    cached.services.gaeldst.invalidate()
    again, state = await overview(cached, ANNA)
    assert state == "hit" and again == first
    assert cached.sql.count == 1  # the citizen's data version, nothing else
    assert (await cached.gaeldst_admin("GET", "/admin/stats"))["statusCalls"] == 0


async def test_viewers_never_share_an_entry(cached: Api) -> None:
    anna, _ = await overview(cached, ANNA)
    bo, state = await overview(cached, BO)
    assert state == "miss" and bo["data"]["me"]["name"] == "Bo Nielsen" != anna["data"]["me"]["name"]


async def test_a_plan_written_is_seen_at_once(cached: Api) -> None:
    before, _ = await overview(cached, DAVID)
    assert before["data"]["me"]["installmentPlans"]["totalCount"] == 0
    ids = [c["id"] for c in before["data"]["me"]["claims"]["nodes"]]
    created = await cached.gql(
        """mutation($input: CreateInstallmentPlanInput!) { createInstallmentPlan(input: $input) {
             plan { id } userErrors { code } } }""",
        {
            "input": {
                "claimIds": ids,
                "monthlyAmount": "700.00",
                "dayOfMonth": 1,
                "acceptTerms": True,
                "idempotencyKey": "cache-1",
            }
        },
        citizen=DAVID,
    )
    assert created["data"]["createInstallmentPlan"]["userErrors"] == []
    after, state = await overview(cached, DAVID)
    assert state == "miss" and after["data"]["me"]["installmentPlans"]["totalCount"] == 1


async def test_a_caseworker_look_up_is_seen_in_the_access_log_at_once(cached: Api) -> None:
    before, _ = await overview(cached, ANNA)
    await cached.gql('{ citizen(cpr: "1507804321") { name } }', caseworker="cw-1001")
    after, state = await overview(cached, ANNA)
    assert state == "miss"
    assert after["data"]["me"]["accessLog"]["totalCount"] == before["data"]["me"]["accessLog"]["totalCount"] + 1


async def test_a_ledger_posting_is_seen_at_once(cached: Api) -> None:
    from adapters.ledger.store import SqlLedger

    before, _ = await overview(cached, ANNA)
    claim = before["data"]["me"]["claims"]["nodes"][0]
    from gateway.domain.clock import today, utcnow
    from resolvers.common import ids

    async with SqlLedger(cached.services.db).transaction() as store:
        payment_id = await store.insert_payment(
            citizen_id=(await store.claims_with_outstanding([ids.decode_as(claim["id"], "Claim")]))[0].citizen_id,
            method="CARD",
            amount_oere=100,
            return_url="https://x.example",
            claim_ids=[ids.decode_as(claim["id"], "Claim")],
            now=utcnow(),
        )
        await store.post_allocations(
            payment_id=payment_id,
            posted_on=today(),
            text="t",
            allocations=[(ids.decode_as(claim["id"], "Claim"), "PRINCIPAL", 100)],
            now=utcnow(),
        )
    after, state = await overview(cached, ANNA)
    assert state == "miss"
    new = next(c for c in after["data"]["me"]["claims"]["nodes"] if c["id"] == claim["id"])
    assert new["outstanding"]["amountOere"] == claim["outstanding"]["amountOere"] - 100


async def test_responses_with_errors_are_not_kept(cached: Api) -> None:
    cached.services.gaeldst.invalidate()
    await cached.gaeldst_admin("POST", "/admin/faults", {"mode": "error503"})
    degraded, state = await overview(cached, ANNA)
    assert degraded["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE" and state is None
    await cached.gaeldst_admin("DELETE", "/admin/faults")
    cached.services.gaeldst.invalidate()
    healthy, state = await overview(cached, ANNA)
    assert "errors" not in healthy and state == "miss"


async def test_caseworkers_and_mutations_are_never_cached(cached: Api) -> None:
    query = '{ citizen(cpr: "2203651122") { name } }'
    for _ in range(2):
        response = await cached.post(query, token=cached.token(caseworker="cw-1001"))
        assert response.headers.get("x-cache") is None
