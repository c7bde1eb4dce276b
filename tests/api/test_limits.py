"""Query limits (issue 11): fragments expanded once, cost per viewer with variables counted, a cap on objects
resolved, introspection and suggestions in production, and what is logged as unexpected.

Nothing here measures time (the guide forbids it): work is shown to be bounded by counting what the analysis
visits, and by documents that could not finish at all without the new limits.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from graphql import parse

from resolvers.limits import BoundedParserCache, ShapeLimits, analyse
from resolvers.limits.extension import _cached_check
from tests.api.test_overview import OVERVIEW, codes
from tests.conftest import ANNA, Api, build_api

CASEWORKER = "cw-1001"
PRODUCTION = {
    "environment": "production",
    "auth_secret": "a-production-secret-that-is-long-enough-0123456789",
    "payments_webhook_secret": "a-production-webhook-secret",
}


def fragment_bomb(levels: int) -> str:
    """``{ me { ...L<levels> } }`` where each fragment spreads the one below twice: 2^levels copies of ``name``."""
    fragments = ["fragment L0 on Citizen { name }"]
    fragments += [f"fragment L{i} on Citizen {{ ...L{i - 1} ...L{i - 1} }}" for i in range(1, levels + 1)]
    return f"{{ me {{ ...L{levels} }} }}\n" + "\n".join(fragments)


def global_id(type_name: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def refused(body: dict[str, Any]) -> str:
    """The one QUERY_TOO_COMPLEX error of a refused request, and no data."""
    assert body.get("data") is None, body
    assert codes(body) == ["QUERY_TOO_COMPLEX"], body
    message: str = body["errors"][0]["message"]
    return message


def limits_api(migrated: str, gaeldst_sim: Any, **overrides: Any) -> Any:
    """The app with ``extensions.cost`` reported, as in production (the shared fixtures turn it off)."""
    return build_api(migrated, gaeldst_sim, query_cost_in_extensions=True, **overrides)


@pytest.fixture
async def api(migrated: str, gaeldst_sim: Any) -> AsyncIterator[Api]:
    async with limits_api(migrated, gaeldst_sim) as built:
        yield built


@pytest.fixture
async def prod(migrated: str, gaeldst_sim: Any) -> AsyncIterator[Api]:
    async with limits_api(migrated, gaeldst_sim, **PRODUCTION) as built:
        yield built


# --- 1. fragments ------------------------------------------------------------------------------------


async def test_fragment_bomb_is_refused_without_a_token(api):
    body = (await api.post(fragment_bomb(19))).json()
    message = refused(body)
    assert "fragment" in message.lower()


async def test_fragment_bomb_is_refused_in_production_too(prod):
    refused((await prod.post(fragment_bomb(19))).json())


async def test_fragment_bomb_of_39_levels_is_refused(api):
    # Strawberry's old rules walked 2^39 spreads here (the process spun for more than ten minutes).
    body = (await api.post(fragment_bomb(39))).json()
    assert "fields and fragments" in refused(body)


def test_each_fragment_definition_is_walked_once():
    shape = analyse(parse(fragment_bomb(39)), ShapeLimits(12, 30, 200, 4000, 10_000))
    assert shape.fragments_walked == 40  # L0 … L39, each once: linear in the document
    assert shape.selections > 2**40  # what expanding every spread would have visited
    assert shape.fragment_order == tuple(f"L{i}" for i in range(40))  # each after the one it spreads


async def test_too_many_fragment_spreads_are_refused(api):
    spreads = " ".join(["...F"] * 201)
    body = (
        await api.post(f"{{ me {{ {spreads} }} }} fragment F on Citizen {{ name }}", token=api.token(citizen=ANNA))
    ).json()
    assert "201 fragment spreads" in refused(body)
    ok = await api.gql(f"{{ me {{ {' '.join(['...F'] * 200)} }} }} fragment F on Citizen {{ name }}", citizen=ANNA)
    assert ok["data"] == {"me": {"name": "Anna Jensen"}}, ok


async def test_fragment_cycles_are_a_validation_error_not_a_hang(api):
    cycle = "{ me { ...A } } fragment A on Citizen { name ...B } fragment B on Citizen { ...A }"
    body = (await api.post(cycle, token=api.token(citizen=ANNA))).json()
    assert body.get("data") is None
    assert set(codes(body)) == {"BAD_USER_INPUT"}, body
    assert any("Cannot spread fragment" in e["message"] for e in body["errors"]), body


async def test_depth_and_aliases_count_through_fragments(api):
    aliases = " ".join(f"a{i}: name" for i in range(20))
    doc = f"{{ me {{ ...A ...A }} }} fragment A on Citizen {{ {aliases} }}"
    assert "40 aliases" in refused((await api.post(doc, token=api.token(citizen=ANNA))).json())
    deep = "id"
    for _ in range(5):
        deep = f"claims {{ installmentPlan {{ {deep} }} }}"
    doc = f"{{ me {{ ...D }} }} fragment D on Citizen {{ claims {{ nodes {{ installmentPlan {{ {deep} }} }} }} }}"
    assert "depth of 12" in refused((await api.post(doc, token=api.token(citizen=ANNA))).json())


async def test_many_fields_sharing_a_name_are_refused_before_validation_compares_them(api):
    # graphql-core compares every pair of same-named fields and their selections (quadratic): 990 copies of
    # `claims { totalCount }` took 0.8 s of validation within the token limit.
    repeated = " ".join(["claims { totalCount }"] * 200)
    body = (await api.post(f"{{ me {{ {repeated} }} }}", token=api.token(citizen=ANNA))).json()
    assert "share a response name" in refused(body)
    few = await api.gql(f"{{ me {{ {' '.join(['claims { totalCount }'] * 5)} }} }}", citizen=ANNA)
    assert few["data"] == {"me": {"claims": {"totalCount": 4}}}, few


async def test_large_documents_are_parsed_and_validated_but_not_cached(api):
    parse_cache = BoundedParserCache(maxsize=256, max_document_bytes=0).cached_parse_document
    padding = "# " + "x" * (api.settings.max_cached_document_bytes + 1) + "\n"  # comments are not tokens
    before = parse_cache.cache_info(), _cached_check.cache_info()
    large = await api.gql(padding + "{ me { name } }", citizen=ANNA)
    assert large["data"] == {"me": {"name": "Anna Jensen"}}
    after = parse_cache.cache_info(), _cached_check.cache_info()
    assert [i.hits + i.misses for i in after] == [i.hits + i.misses for i in before]
    small = await api.gql("{ me { name } } # a document of its own: " + uuid.uuid4().hex, citizen=ANNA)
    assert small["data"] == {"me": {"name": "Anna Jensen"}}
    assert [i.misses for i in (parse_cache.cache_info(), _cached_check.cache_info())] == [i.misses + 1 for i in after]


# --- 3. cost -----------------------------------------------------------------------------------------

# 30 aliases x nodes(ids: $ids) with 100 IDs, each citizen's claims(first: 100) with their statement lines.
CLAIMS = "claims(first: 100) { nodes { statement { lines { text } } } }"
COST_BOMB = (
    "query Bomb($ids: [ID!]!) { "
    + " ".join(f"n{i}: nodes(ids: $ids) {{ ... on Citizen {{ {CLAIMS} }} }}" for i in range(30))
    + " }"
)


async def test_cost_bomb_is_refused_before_execution(api):
    ids = [global_id("Citizen", i) for i in range(1, 101)]
    api.sql.reset()
    body = (await api.post(COST_BOMB, {"ids": ids}, token=api.token(caseworker=CASEWORKER))).json()
    message = refused(body)
    cost = body["extensions"]["cost"]
    assert cost["maximumAvailable"] == 20_000
    assert cost["requestedQueryCost"] > cost["maximumAvailable"]
    assert str(cost["maximumAvailable"]) in message.replace(",", "")
    assert api.sql.count == 0  # refused before anything was read


async def test_variables_are_counted(api):
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    one = await api.gql(query, {"ids": [global_id("Citizen", 1)]}, caseworker=CASEWORKER)
    hundred = await api.gql(query, {"ids": [global_id("Citizen", i) for i in range(1, 101)]}, caseworker=CASEWORKER)
    assert one["extensions"]["cost"]["requestedQueryCost"] == 1
    assert hundred["extensions"]["cost"]["requestedQueryCost"] == 100
    page = "query($n: Int) { me { claims(first: $n) { nodes { sender { name } } } } }"
    small = await api.gql(page, {"n": 2}, citizen=ANNA)
    large = await api.gql(page, {"n": 50}, citizen=ANNA)
    assert small["extensions"]["cost"]["requestedQueryCost"] < large["extensions"]["cost"]["requestedQueryCost"]


async def test_every_response_carries_its_cost_and_the_viewers_budget(api):
    overview = await api.gql(OVERVIEW, citizen=ANNA)
    assert "errors" not in overview, overview
    cost = overview["extensions"]["cost"]
    assert set(cost) >= {"requestedQueryCost", "maximumAvailable"}
    assert 0 < cost["requestedQueryCost"] <= cost["maximumAvailable"] == 5_000
    anonymous = await api.gql("{ contacts { paymentsOffice { phone } } }")
    assert anonymous["extensions"]["cost"]["maximumAvailable"] == 500
    caseworker = await api.gql('{ citizen(cpr: "1507804321") { name } }', caseworker=CASEWORKER)
    assert caseworker["extensions"]["cost"]["maximumAvailable"] == 20_000
    invalid = await api.gql("{ me { nope } }", citizen=ANNA)
    assert invalid["extensions"]["cost"]["maximumAvailable"] == 5_000


async def test_budgets_are_settings(migrated, gaeldst_sim):
    async with limits_api(migrated, gaeldst_sim, cost_budget_citizen=10) as api:
        body = await api.gql(OVERVIEW, citizen=ANNA)
        refused(body)
        assert body["extensions"]["cost"]["maximumAvailable"] == 10


async def test_objects_resolved_per_request_are_capped(migrated, gaeldst_sim):
    # Anna has four claims; the cost analysis assumes page sizes, the cap counts what was really resolved.
    async with limits_api(migrated, gaeldst_sim, max_objects_per_request=3) as api:
        body = await api.gql("{ me { claims { nodes { reference } } } }", citizen=ANNA)
        assert codes(body) == ["QUERY_TOO_COMPLEX"], body
        assert "3 objects" in body["errors"][0]["message"]
        fine = await api.gql("{ me { claims(first: 3) { nodes { reference } } } }", citizen=ANNA)
        assert "errors" not in fine, fine


# --- 7. introspection and suggestions in production --------------------------------------------------

SCHEMA = "{ __schema { queryType { name } } }"
TYPE = '{ __type(name: "Citizen") { name fields { name } } }'


async def test_production_hides_the_schema_from_anonymous_users_and_citizens(prod):
    for token in (None, prod.token(citizen=ANNA)):
        for query in (SCHEMA, TYPE):
            body = (await prod.post(query, token=token)).json()
            assert body.get("data") is None, body
            assert set(codes(body)) == {"BAD_USER_INPUT"}, body
            assert "introspection" in body["errors"][0]["message"].lower()
    typename = (await prod.post("{ __typename }")).json()
    assert typename["data"] == {"__typename": "Query"}


async def test_production_shows_the_schema_to_caseworkers(prod):
    body = await prod.gql(TYPE, caseworker=CASEWORKER)
    assert body["data"]["__type"]["name"] == "Citizen", body


async def test_production_gives_no_suggestions_except_to_caseworkers(prod):
    typo = "{ me { nme } }"
    citizen = (await prod.post(typo, token=prod.token(citizen=ANNA))).json()
    assert codes(citizen) == ["BAD_USER_INPUT"]
    assert "Did you mean" not in citizen["errors"][0]["message"]
    assert "nme" in citizen["errors"][0]["message"]
    enum = "query($s: ClaimStatus) { me { claims(filter: {status: $s}) { totalCount } } }"
    variable = (await prod.post(enum, {"s": "OPN"}, token=prod.token(citizen=ANNA))).json()
    assert codes(variable) == ["BAD_USER_INPUT"]
    assert "Did you mean" not in variable["errors"][0]["message"]
    caseworker = (
        await prod.post('{ citizen(cpr: "1507804321") { nme } }', token=prod.token(caseworker=CASEWORKER))
    ).json()
    assert "Did you mean" in caseworker["errors"][0]["message"]


async def test_development_keeps_introspection_and_suggestions(api):
    assert (await api.gql(SCHEMA))["data"]["__schema"]["queryType"]["name"] == "Query"
    typo = (await api.post("{ me { nme } }", token=api.token(citizen=ANNA))).json()
    assert "Did you mean 'name'?" in typo["errors"][0]["message"]


async def test_introspection_setting_off_hides_it_from_caseworkers_too(migrated, gaeldst_sim):
    async with limits_api(migrated, gaeldst_sim, introspection="off") as api:
        body = (await api.post(TYPE, token=api.token(caseworker=CASEWORKER))).json()
        assert body.get("data") is None and set(codes(body)) == {"BAD_USER_INPUT"}, body


# --- 11. what is logged as unexpected ----------------------------------------------------------------


async def test_a_variable_coercion_error_is_not_logged_as_unexpected(api):
    query = "query($x: Int!) { me { claims(first: $x) { totalCount } } }"
    with structlog.testing.capture_logs() as logs:
        body = (await api.post(query, {"x": "ten"}, token=api.token(citizen=ANNA))).json()
    assert codes(body) == ["BAD_USER_INPUT"]
    assert not [e for e in logs if e["log_level"] == "error"], logs


async def test_a_genuinely_unexpected_error_is_still_logged(api, monkeypatch):
    from adapters.ledger import queries

    async def broken(*_: Any) -> Any:  # fault injection: the ledger's query fails in a way no rule expects
        raise RuntimeError("injected")

    monkeypatch.setattr(queries, "all_departments", broken)
    with structlog.testing.capture_logs() as logs:
        body = (await api.post("{ contacts { departments { code } } }")).json()
    assert codes(body) == ["INTERNAL"]
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["graphql.unexpected_error"]
