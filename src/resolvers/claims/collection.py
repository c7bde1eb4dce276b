"""Claim.collection: whether Gældsstyrelsen holds a claim (R14), asked once per request for all claims.

Every claim's resolver awaits the one upstream answer of the request's ``CollectionLoader``. When Gældsstyrelsen cannot
be asked the claims still resolve, with status UNKNOWN, and the request gets one top-level
``UPSTREAM_UNAVAILABLE`` error (added by ``resolvers.schema.UpstreamErrors``).
"""

from __future__ import annotations

from datetime import date
from functools import partial

import strawberry

from gateway.domain.collection import CollectionStatus, marker, status_from_agency_state
from resolvers.context import Context
from resolvers.loaders.claims import CollectionLoader, States

strawberry.enum(CollectionStatus, description="Whether Gældsstyrelsen holds the claim for collection (R14).")


@strawberry.type(description='Whether Gældsstyrelsen holds the claim for collection. `marker` is "*" when it does.')
class Collection:
    status: CollectionStatus
    marker: str | None
    since: date | None
    return_reason: str | None = strawberry.field(
        description="Why Gældsstyrelsen returned the claim (when status is RETURNED)."
    )


def collection_view(status: CollectionStatus, since: date | None, return_reason: str | None) -> Collection:
    return Collection(status=status, marker=marker(status), since=since, return_reason=return_reason)


async def collection_of(ctx: Context, reference: str, citizen_pk: int) -> Collection:
    """The collection status of one of a citizen's claims, by its reference."""
    return collection_in(await collection_loader(ctx).load(citizen_pk), reference)


def collection_in(states: States, reference: str) -> Collection:
    """A claim's collection status in its citizen's states (None: Gældsstyrelsen could not be asked)."""
    state = states.get(reference) if states is not None else None
    if state is None:
        return collection_view(CollectionStatus.UNKNOWN, None, None)
    status = status_from_agency_state(state.state.value)
    return collection_view(status, state.since, state.return_reason if status is CollectionStatus.RETURNED else None)


def warm(ctx: Context, citizen_pk: int) -> None:
    """Start the request's Gældsstyrelsen call for a citizen now, without waiting for it (the loader's cache keeps
    the future, and every later ``collection_of`` of the request awaits that same one)."""
    collection_loader(ctx).load(citizen_pk)


def collection_loader(ctx: Context) -> CollectionLoader:
    """The request's loader of Gældsstyrelsen's states, made on first use."""
    return ctx.loaders.collection or ctx.loaders.start_collection(ctx.services.gaeldst, partial(unavailable, ctx))


def unavailable(ctx: Context) -> None:
    ctx.upstream_unavailable = True  # one top-level UPSTREAM_UNAVAILABLE error for the request
