"""The committed ``schema.graphql`` is what clients read: it must be exactly the schema the code builds."""

from __future__ import annotations

import difflib
from pathlib import Path

from resolvers.schema import build_schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_committed_schema_matches_the_code():
    expected = build_schema().as_str() + "\n"
    assert SCHEMA_FILE.exists(), "schema.graphql is missing: run `make schema` and commit it"
    actual = SCHEMA_FILE.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "schema.graphql (committed)",
                "build_schema() (code)",
                n=1,
            )
        )
        raise AssertionError(f"schema.graphql is stale: run `make schema` and commit the result.\n{diff[:4000]}")


def test_schema_keeps_the_fixed_names_from_api_md():
    sdl = build_schema().as_str()
    for fixed in (
        "interface Node",
        "node(id: ID!): Node",
        "nodes(ids: [ID!]!): [Node]!",
        "me: Citizen",
        "citizen(cpr: String!): Citizen",
        "amountOere: Int!",
        "outstanding: Money!",
        "statement: Statement!",
        "status: CollectionStatus!",
        "BEBOERINDSKUDSLAAN",
        "NOT_AT_COLLECTION",
        "AT_COLLECTION",
        "RETURNED",
        "UNKNOWN",
    ):
        assert fixed in sdl, fixed
