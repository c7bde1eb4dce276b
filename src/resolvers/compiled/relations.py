"""The batched relations of the compiled read path: what ``Related`` fields name (resolvers/common/mapping.py).

Each relation loads the values of many keys at once (one SQL statement, or one Gældsstyrelsen call), exactly as
the request's DataLoader of the same name would, and can prime that DataLoader with what it loaded: when the
compiled path hands a request over to Strawberry (anything it does not answer itself), Strawberry finds every
row already loaded and reads and asks nothing a second time. So a request costs the same statements and upstream
calls either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from adapters.ledger.fastread import CITIZEN_COLUMNS, CLAIM_COLUMNS, ENTRY_COLUMNS, position
from resolvers.claims.collection import collection_loader, unavailable
from resolvers.context import Context
from resolvers.loaders.claims import collection_states

Loaded = dict[str, dict[Any, Any]]  # relation name -> key -> value, for one request


@dataclass(frozen=True, slots=True)
class Relation:
    fetch: Callable[[Context, Loaded, list[Any]], Awaitable[dict[Any, Any]]]
    prime: Callable[[Context, dict[Any, Any]], None]
    upstream: bool = False  # an HTTP call: started first, so it overlaps the ledger's statements


def _by(rows: Sequence[Any], at: int, keys: list[Any]) -> dict[Any, Any]:
    found = {r[at]: r for r in rows}
    return {k: found.get(k) for k in keys}


def _grouped(rows: Sequence[Any], at: int, keys: list[Any]) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {k: [] for k in keys}
    for r in rows:
        groups[r[at]].append(r)
    return groups


async def _citizens(ctx: Context, _loaded: Loaded, cprs: list[str]) -> dict[Any, Any]:
    return _by(await ctx.db.fast.citizens_by_cprs(cprs), position(CITIZEN_COLUMNS, "cpr"), cprs)


def _prime_citizens(ctx: Context, values: dict[Any, Any]) -> None:
    for cpr, row in values.items():
        ctx.loaders.citizen_by_cpr.prime(cpr, row)
        ctx.know_viewer_citizen(row)  # only ever the viewer's own CPR


async def _claims(ctx: Context, _loaded: Loaded, citizen_ids: list[int]) -> dict[Any, Any]:
    return _grouped(
        await ctx.db.fast.claims_by_citizen_ids(citizen_ids), position(CLAIM_COLUMNS, "citizen_id"), citizen_ids
    )


async def _departments(ctx: Context, _loaded: Loaded, ids: list[int]) -> dict[Any, Any]:
    return _by(await ctx.db.fast.departments_by_ids(ids), 0, ids)


async def _entries(ctx: Context, _loaded: Loaded, claim_ids: list[int]) -> dict[Any, Any]:
    return _grouped(await ctx.db.fast.entries_by_claim_ids(claim_ids), position(ENTRY_COLUMNS, "claim_id"), claim_ids)


async def _collection(ctx: Context, loaded: Loaded, citizen_ids: list[int]) -> dict[Any, Any]:
    """Gældsstyrelsen's states of the citizens' claims: one call, as ``CollectionLoader`` makes it."""
    claims = loaded.setdefault("claims_by_citizen", {})
    if missing := [k for k in citizen_ids if k not in claims]:
        claims.update(await _claims(ctx, loaded, missing))
    states = await collection_states(ctx.services.gaeldst, [claims[k] for k in citizen_ids], partial(unavailable, ctx))
    return dict(zip(citizen_ids, states, strict=True))


def _primer(loader: str) -> Callable[[Context, dict[Any, Any]], None]:
    def prime(ctx: Context, values: dict[Any, Any]) -> None:
        target = getattr(ctx.loaders, loader)
        for key, value in values.items():
            target.prime(key, value)

    return prime


def _prime_collection(ctx: Context, values: dict[Any, Any]) -> None:
    target = collection_loader(ctx)
    for key, value in values.items():
        target.prime(key, value)


RELATIONS: dict[str, Relation] = {
    "citizen_by_cpr": Relation(_citizens, _prime_citizens),
    "claims_by_citizen": Relation(_claims, _primer("claims_by_citizen")),
    "department": Relation(_departments, _primer("department")),
    "entries_by_claim": Relation(_entries, _primer("entries_by_claim")),
    "collection": Relation(_collection, _prime_collection, upstream=True),
}
