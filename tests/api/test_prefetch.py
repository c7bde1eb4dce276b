"""A page of claims prefetches senders and statements; every way of asking gives the same answer and count."""

from __future__ import annotations

from tests.conftest import ANNA, Api

FIELDS = "reference sender { name } statement { balance { amount } lines { text } }"
SHAPES = {
    "nodes": f"{{ me {{ claims {{ nodes {{ {FIELDS} }} }} }} }}",
    "edges": f"{{ me {{ claims {{ edges {{ node {{ {FIELDS} }} }} }} }} }}",
    "fragment": f"{{ me {{ claims {{ nodes {{ ...F }} }} }} }} fragment F on Claim {{ {FIELDS} }}",
    "inline": f"{{ me {{ claims {{ nodes {{ ... on Claim {{ {FIELDS} }} }} }} }} }}",
}


def claims_of(body: dict, shape: str) -> list[dict]:
    conn = body["data"]["me"]["claims"]
    return [e["node"] for e in conn["edges"]] if shape == "edges" else conn["nodes"]


async def test_every_shape_of_query_gives_the_same_claims(api: Api) -> None:
    results = {}
    counts = {}
    for shape, query in SHAPES.items():
        api.sql.reset()
        body = await api.gql(query, citizen=ANNA)
        assert "errors" not in body, body
        counts[shape] = api.sql.count
        results[shape] = claims_of(body, shape)
    assert len(results["nodes"]) == 4 and all(c["sender"]["name"] and c["statement"]["lines"] for c in results["nodes"])
    assert all(r == results["nodes"] for r in results.values())
    # citizen, claims, departments, entries: the same four statements however the claims are asked for.
    assert set(counts.values()) == {4}, counts


async def test_claims_without_sender_or_statement_load_neither(api: Api) -> None:
    api.sql.reset()
    body = await api.gql("{ me { claims { nodes { reference outstanding { amount } } } } }", citizen=ANNA)
    assert "errors" not in body
    assert api.sql.count == 2  # citizen and claims only
