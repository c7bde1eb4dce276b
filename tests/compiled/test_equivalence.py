"""The compiled read path answers byte for byte as graphql-core does (issue 10, "Equivalence, proven").

Every request below is sent twice through the whole ASGI app (tests/compiled/conftest.py): compiled, then the
ordinary way; bodies, status, content type, SQL statements and Gældsstyrelsen calls must be identical. On both
databases (the ``api`` fixture).
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import OperationDefinitionNode, OperationType, parse
from sqlalchemy import delete, select, update

from adapters.ledger import models as m
from gateway.trusted_documents import trusted_documents
from tests.api.test_overview import make_citizen
from tests.bench.run import OVERVIEW
from tests.compiled.conftest import both
from tests.conftest import ANNA, BO, CAMILLA, DAVID

MONEY = "{ amountOere amount currency formatted }"

# Everything the compiled path maps on the overview's types, with aliases, __typename and fragments.
WIDE = f"""
query Wide {{
  __typename
  me {{
    __typename id cpr name
    total: totalOutstanding {MONEY}
    totalOutstanding {{ amountOere }}
    claims(first: 100) {{
      __typename totalCount
      pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
      edges {{ cursor node {{ id }} }}
      nodes {{ ...ClaimFields ... on Claim {{ reference kind }} }}
    }}
  }}
}}
fragment ClaimFields on Claim {{
  __typename id reference title kind issuedOn dueOn status
  originalAmount {MONEY} outstanding {MONEY}
  sender {{ __typename id code name contact {{ name phone email address web phoneHours {{ weekday opens closes }} }} }}
  collection {{ status marker since returnReason }}
  statement {{ balance {MONEY} lines {{ postedOn kind text amount {MONEY} balanceAfter {MONEY} }} }}
}}
"""

PAGED = """
query Paged($first: Int, $after: String, $status: ClaimStatus) {
  me { claims(first: $first, after: $after, filter: {status: $status}) {
    totalCount pageInfo { hasNextPage endCursor } nodes { reference status outstanding { amount } } } }
}
"""


@pytest.mark.parametrize("cpr", [ANNA, BO, CAMILLA, DAVID])
@pytest.mark.parametrize("query", [OVERVIEW, WIDE], ids=["overview", "wide"])
async def test_demo_citizens(api, cpr, query):
    (await both(api, query, citizen=cpr)).assert_identical()


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 2},
        {"first": 2, "after": "bzox"},  # offset 2
        {"first": 0},
        {"status": "OPEN"},
        {"status": "PAID", "first": 1},
        {"first": 100, "after": "bzo5OQ"},  # past the end
    ],
)
async def test_paging_and_filters(api, variables):
    (await both(api, PAGED, variables, citizen=ANNA)).assert_identical()


@pytest.mark.parametrize(
    "variables",
    [{"first": 1000}, {"first": -1}, {"after": "not a cursor"}, {"first": "two"}],
)
async def test_bad_arguments_are_graphql_cores_errors(api, variables):
    """A page size over the maximum, a bad cursor, a variable of the wrong type: the plan hands over and the
    answer is the ordinary error, path and locations included."""
    result = await both(api, PAGED, variables, citizen=ANNA, compiled=False)
    result.assert_identical()
    assert b'"errors"' in result.compiled.response.content


async def test_citizen_without_a_ledger_record(api):
    (await both(api, WIDE, citizen="0101011234")).assert_identical()


@pytest.mark.parametrize(
    "claims",
    [
        [[]],  # a claim with an empty statement
        [[10_000, -10_000]],  # everything paid
        [[0], [0, 0]],  # zero amounts
        [[5_000, -7_500]],  # overpaid: negative outstanding
        [[-300]],  # only a credit
        [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] for _ in range(25)],  # many claims and lines
        [[2**31 - 1], [-(2**31)]],  # the largest amounts GraphQL's Int holds
    ],
    ids=["empty-statement", "paid", "zero", "overpaid", "credit", "many", "int32-edges"],
)
async def test_generated_ledgers(api, claims):
    cpr, _ = await make_citizen(api, claims)
    (await both(api, WIDE, citizen=cpr)).assert_identical()


async def test_a_citizen_with_no_claims(api):
    cpr, refs = await make_citizen(api, [[100]])
    async with api.services.db.transaction() as conn:
        claim = m.table(m.Claim)
        await conn.execute(
            delete(m.table(m.LedgerEntry)).where(
                m.LedgerEntry.claim_id.in_(select(claim.c.id).where(claim.c.reference == refs[0]))
            )
        )
        await conn.execute(delete(claim).where(claim.c.reference == refs[0]))
    (await both(api, WIDE, citizen=cpr)).assert_identical()


async def test_amounts_beyond_graphql_int_are_graphql_cores_error(api):
    """2^31 øre and more cannot be an ``Int``: graphql-core's field error and null propagation, exactly."""
    cpr, _ = await make_citizen(api, [[2**31], [5_000]])
    result = await both(api, WIDE, citizen=cpr, compiled=False)
    result.assert_identical()
    body = result.compiled.response.json()
    assert body["data"]["me"] is None
    assert body["errors"][0]["path"] == ["me", "total", "amountOere"]
    # Only the formatted amounts asked for: no Int, so the plan answers.
    (await both(api, OVERVIEW, citizen=cpr)).assert_identical()


async def test_odd_unicode(api):
    name = 'Ærø Østergård "\\" \u202e\U0001f600 \u0000-nul \ud7ff \u00e5\u0301'.replace("\u0000", "")
    cpr, refs = await make_citizen(api, [[12_345, -345]], name=name)
    async with api.services.db.transaction() as conn:
        await conn.execute(
            update(m.Claim).where(m.Claim.reference == refs[0]).values(title="Ħ€łłø \U0001f9fe\t<script>\n")
        )
        await conn.execute(update(m.LedgerEntry).values(text="Indbetaling 😀 \u2028 ‮"))
    (await both(api, WIDE, citizen=cpr)).assert_identical()


@pytest.mark.parametrize("language", ["da", "en"])
async def test_gaeldst_down_gives_unknown_and_one_error(api, language):
    """Gældsstyrelsen answering 503: every claim UNKNOWN and one UPSTREAM_UNAVAILABLE error, in the request's
    language, with the same number of (retried) calls both ways."""
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "error503"})
    try:
        result = await both(api, WIDE, citizen=ANNA, **{"Accept-Language": language})
    finally:
        await api.gaeldst_admin("DELETE", "/admin/faults")
    result.assert_identical()
    body: dict[str, Any] = result.compiled.response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UPSTREAM_UNAVAILABLE"]
    assert result.compiled.upstream_calls > 0


def _trusted_queries() -> list[Any]:
    return [d for d in trusted_documents() if d.operation_type is OperationType.QUERY]


def test_the_overview_is_compiled(api):
    """The trusted overview document has a plan at start-up (the others run the ordinary way until mapped)."""
    view = api.app.state.graphql
    overview = next(d for d in _trusted_queries() if d.operation_name == "Overview")
    assert view.compiled.plan(overview.text) is not None


@pytest.mark.parametrize("cpr", [ANNA, BO, CAMILLA, DAVID])
async def test_every_compiled_trusted_document(api, cpr):
    view = api.app.state.graphql
    compiled = [d for d in _trusted_queries() if view.compiled.plan(d.text) is not None]
    assert compiled
    for document in compiled:
        if any(v.default_value is None and v.type.kind == "non_null_type" for v in _variables(document.text)):
            continue  # needs variables of its own: covered by the tests above
        (await both(api, document.text, citizen=cpr)).assert_identical()


async def test_by_document_id(api):
    """Named by ``documentId`` (no query text): compiled, and the same bytes as the ordinary way."""
    overview = next(d for d in _trusted_queries() if d.operation_name == "Overview")
    result = await both(api, overview.text, citizen=ANNA, extra={"documentId": overview.document_id})
    result.assert_identical()


def _variables(text: str) -> list[Any]:
    operation = next(d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode))
    return list(operation.variable_definitions or ())
