"""The batched relations of the compiled read path: what ``Related`` fields name (resolvers/common/mapping.py).

Each relation loads the values of many keys at once (one SQL statement, or one Gældsstyrelsen call), exactly as
the request's DataLoader of the same name would, and can prime that DataLoader with what it loaded: when the
compiled path hands a request over to Strawberry (anything it does not answer itself), Strawberry finds every
row already loaded and reads and asks nothing a second time. So a request costs the same statements and upstream
calls either way.

The relations of fields whose value comes from a function the resolver calls too (a claim's plan, its automatic
payment, its eligibility; the citizen's notices) run that function for every key at once: it reads through the
request's DataLoaders, which batch the calls into the statements the resolvers cost, and keep what they read for
Strawberry. The rules stay in that one function; the claims this request read are first put into the claims
DataLoader, so the function does not read them again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.ledger.fastread import CITIZEN_COLUMNS, CLAIM_COLUMNS, ENTRY_COLUMNS, position
from resolvers.citizens.notices import notices_for
from resolvers.claims.collection import collection_loader
from resolvers.claims.types import automatic_payment_row, eligibility_of, live_plan_row
from resolvers.context import Context

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


async def _shared_claims(ctx: Context, loaded: Loaded, citizen_ids: list[int]) -> None:
    """The citizens' claims loaded (those not yet) and in the request's claims DataLoader, for the functions that
    read them through it (Gældsstyrelsen's loader, the notices)."""
    claims = loaded.setdefault("claims_by_citizen", {})
    if missing := [k for k in citizen_ids if k not in claims]:
        claims.update(await _claims(ctx, loaded, missing))
    _prime_loader(ctx.loaders.claims_by_citizen, claims)


def _prime_loader(target: Any, values: dict[Any, Any]) -> None:
    for key, value in values.items():
        target.prime(key, value)


async def _collection(ctx: Context, loaded: Loaded, citizen_ids: list[int]) -> dict[Any, Any]:
    """Gældsstyrelsen's states of the citizens' claims: the request's ``CollectionLoader``, one call for all, which
    eligibility and the notices share."""
    await _shared_claims(ctx, loaded, citizen_ids)
    states = await collection_loader(ctx).load_many(citizen_ids)
    return dict(zip(citizen_ids, states, strict=True))


def _each_claim(function: Callable[..., Awaitable[Any]]) -> Callable[[Context, Loaded, list[Any]], Awaitable[Any]]:
    """A relation that is ``function(ctx, *key)`` for every key (a claim's id, or a tuple of its columns)."""

    async def fetch(ctx: Context, loaded: Loaded, keys: list[Any]) -> dict[Any, Any]:
        _prime_loader(ctx.loaders.claims_by_citizen, loaded.get("claims_by_citizen", {}))
        values = await asyncio.gather(*(function(ctx, *k) if isinstance(k, tuple) else function(ctx, k) for k in keys))
        return dict(zip(keys, values, strict=True))

    return fetch


async def _notices(ctx: Context, loaded: Loaded, citizen_ids: list[int]) -> dict[Any, Any]:
    await _shared_claims(ctx, loaded, citizen_ids)
    values = await asyncio.gather(*(notices_for(ctx, k) for k in citizen_ids))
    return dict(zip(citizen_ids, values, strict=True))


def _loaded_through_loaders(_ctx: Context, _values: dict[Any, Any]) -> None:
    """Nothing to prime: the function read through the request's DataLoaders, which keep what they read."""


def _primer(loader: str) -> Callable[[Context, dict[Any, Any]], None]:
    def prime(ctx: Context, values: dict[Any, Any]) -> None:
        _prime_loader(getattr(ctx.loaders, loader), values)

    return prime


RELATIONS: dict[str, Relation] = {
    "citizen_by_cpr": Relation(_citizens, _prime_citizens),
    "claims_by_citizen": Relation(_claims, _primer("claims_by_citizen")),
    "department": Relation(_departments, _primer("department")),
    "entries_by_claim": Relation(_entries, _primer("entries_by_claim")),
    "collection": Relation(_collection, _loaded_through_loaders, upstream=True),
    "live_plan": Relation(_each_claim(live_plan_row), _loaded_through_loaders),
    "automatic_payment": Relation(_each_claim(automatic_payment_row), _loaded_through_loaders),
    "eligibility": Relation(_each_claim(eligibility_of), _loaded_through_loaders),
    "notices": Relation(_notices, _loaded_through_loaders),
}
