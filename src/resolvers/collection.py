"""Claim.collection: Gældsstyrelsen's view of each claim, asked once per request for all claims (R14).

The loader is keyed by citizen: whichever field asks first (a page of claims, the notices, eligibility) makes
one upstream call for all the claims of every citizen in the request, and every claim's resolver then awaits
that one answer. When Gældsstyrelsen cannot be asked the claims still resolve, with status UNKNOWN, and the
request gets one top-level ``UPSTREAM_UNAVAILABLE`` error (added by ``resolvers.schema.UpstreamErrors``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiodataloader import DataLoader

from adapters.gaeldst.client import ClaimCollection, GaeldstUnavailable
from gateway.domain.collection import CollectionStatus, status_from_agency_state
from resolvers.context import Context
from resolvers.types import Collection, collection_view, register_collection_lookup

log = structlog.get_logger(__name__)

States = dict[str, ClaimCollection] | None  # None: Gældsstyrelsen could not be asked


class CollectionLoader(DataLoader):
    """Citizen id -> Gældsstyrelsen's state of each of their claims, by reference."""

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    async def batch_load_fn(self, citizen_pks: Sequence[int]) -> list[States]:
        claims = await self.ctx.loaders.claims_by_citizen.load_many(list(citizen_pks))
        references = [c.reference for rows in claims for c in rows]
        try:
            states = await self.ctx.services.gaeldst.fetch_states(references) if references else {}
        except GaeldstUnavailable as exc:
            log.warning("gaeldst.unavailable", reason=exc.reason, claims=len(references))
            self.ctx.upstream_unavailable = True
            return [None] * len(citizen_pks)
        return [{c.reference: states[c.reference] for c in rows if c.reference in states} for rows in claims]


def _loader(ctx: Context) -> DataLoader:
    return ctx.loaders.custom("collection", lambda: CollectionLoader(ctx))


async def lookup(ctx: Context, reference: str, citizen_pk: int) -> Collection:
    states: States = await _loader(ctx).load(citizen_pk)
    state = states.get(reference) if states is not None else None
    if state is None:
        return collection_view(CollectionStatus.UNKNOWN, None, None)
    status = status_from_agency_state(state.state.value)
    return collection_view(status, state.since, state.return_reason if status is CollectionStatus.RETURNED else None)


def warm(ctx: Context, citizen_pk: int) -> None:
    """Start the request's Gældsstyrelsen call for a citizen now, without waiting for it."""
    ctx.background.append(asyncio.ensure_future(_loader(ctx).load(citizen_pk)))


register_collection_lookup(lookup, warm)
