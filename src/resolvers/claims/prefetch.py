"""Prefetching for a page of claims: senders and statements in two batched loads, only when the query asks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry.types.nodes import SelectedField

from resolvers.claims.collection import warm
from resolvers.claims.types import Claim, Department, build_statement
from resolvers.context import Info


async def prefetch_claims(info: Info, claims: Sequence[Claim]) -> None:
    """Resolve the senders and statements of a page of claims in two batched loads, run together, when the
    query asks for them: performance.md's "resolve a whole subtree in few awaits"."""
    wanted = _node_fields(info)
    loaders = info.context.loaders
    if claims and wanted & {"collection", "eligibility"}:
        # Ask Gældsstyrelsen now, without waiting: the call overlaps the ledger reads and the execution.
        warm(info.context, claims[0].citizen_pk)
    want_senders, want_statements = "sender" in wanted, "statement" in wanted
    if not claims or not (want_senders or want_statements):
        return
    # Both loads are queued before either is awaited: their batches run together.
    senders = loaders.department.load_many(list({c.department_pk for c in claims})) if want_senders else None
    statements = loaders.entries_by_claim.load_many([c.pk for c in claims]) if want_statements else None
    if senders is not None:
        departments = {row.id: Department.from_row(row) for row in await senders if row is not None}
        for c in claims:
            c.prefetched_sender = departments.get(c.department_pk)
    if statements is not None:
        for c, rows in zip(claims, await statements, strict=True):
            c.prefetched_statement = build_statement(rows)


def _node_fields(info: Info) -> set[str]:
    """Names of the fields asked for on the connection's nodes (``nodes { … }`` or ``edges { node { … } }``);
    with fragments in the way, every prefetchable field counts as asked (prefetching is only an optimisation)."""
    names: set[str] = set()

    def walk(selections: Sequence[Any], depth: int) -> None:
        for sel in selections:
            if not isinstance(sel, SelectedField):
                names.update(("sender", "statement", "collection"))
            elif depth == 0 and sel.name in ("nodes", "edges"):
                walk(sel.selections, 1 if sel.name == "nodes" else 2)
            elif depth == 2 and sel.name == "node":
                walk(sel.selections, 1)
            elif depth == 1:
                names.add(sel.name)

    for field in info.selected_fields:
        walk(field.selections, 0)
    return names
