"""Claim.collection: Gældsstyrelsen's view of each claim, asked once per request for all claims (R14).

When Gældsstyrelsen cannot be asked the claims still resolve, with status UNKNOWN, and the request gets one
top-level ``UPSTREAM_UNAVAILABLE`` error (added by ``resolvers.schema.UpstreamErrors``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiodataloader import DataLoader

from adapters.gaeldst.client import ClaimCollection, GaeldstUnavailable
from gateway.collection import CollectionStatus, status_from_agency_state
from resolvers.context import Context
from resolvers.types import Collection, collection_view, register_collection_lookup

log = structlog.get_logger(__name__)


class CollectionLoader(DataLoader):
    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    async def batch_load_fn(self, references: Sequence[str]) -> list[ClaimCollection | None]:
        try:
            states = await self.ctx.services.gaeldst.fetch_states(list(references))
        except GaeldstUnavailable as exc:
            log.warning("gaeldst.unavailable", reason=exc.reason, claims=len(references))
            self.ctx.upstream_unavailable = True
            return [None] * len(references)
        return [states.get(ref) for ref in references]


async def lookup(ctx: Context, reference: str, citizen_pk: int) -> Collection:
    """Asks about all of the citizen's claims at once, so whichever field asks first (a page of claims,
    the notices, eligibility) makes the request's one upstream call and the others find it in the loader."""
    loader = ctx.loaders.custom("collection", lambda: CollectionLoader(ctx))
    claims = await ctx.loaders.claims_by_citizen.load(citizen_pk)
    references = [c.reference for c in claims]
    if reference not in references:
        references.append(reference)
    states = await loader.load_many(references)
    state: ClaimCollection | None = states[references.index(reference)]
    if state is None:
        return collection_view(CollectionStatus.UNKNOWN, None, None)
    status = status_from_agency_state(state.state.value)
    return collection_view(status, state.since, state.return_reason if status is CollectionStatus.RETURNED else None)


def warm(ctx: Context, citizen_pk: int) -> None:
    """Start the request's one Gældsstyrelsen call for a citizen's claims without waiting for it; the
    ``collection`` resolvers then find the answer (or the fault) in the loader."""

    async def ask() -> None:
        loader = ctx.loaders.custom("collection", lambda: CollectionLoader(ctx))
        claims = await ctx.loaders.claims_by_citizen.load(citizen_pk)
        await loader.load_many([c.reference for c in claims])

    ctx.background.append(asyncio.ensure_future(ask()))


register_collection_lookup(lookup, warm)
