"""The claims' loaders: claims, departments, statement entries, and Gældsstyrelsen's view of the claims (R14)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import structlog
from aiodataloader import DataLoader

from adapters.gaeldst.client import ClaimCollection, GaeldstClient, GaeldstUnavailable
from adapters.ledger import queries as q
from adapters.ledger.db import Database
from adapters.ledger.queries import ClaimRow, DepartmentRow, EntryRow
from resolvers.loaders.base import RowByKey, RowsByKey

log = structlog.get_logger(__name__)

States = dict[str, ClaimCollection] | None  # None: Gældsstyrelsen could not be asked


class CollectionLoader(DataLoader[int, States]):
    """Citizen id -> Gældsstyrelsen's state of each of their claims, by reference.

    Keyed by citizen: whichever field asks first (a page of claims, the notices, eligibility) makes one upstream
    call for all the claims of every citizen in the request. When Gældsstyrelsen cannot be asked, every key gets
    None and ``on_unavailable`` is called (the request then gets one ``UPSTREAM_UNAVAILABLE`` error).
    """

    def __init__(
        self, claims_by_citizen: RowsByKey[int, ClaimRow], gaeldst: GaeldstClient, on_unavailable: Callable[[], None]
    ) -> None:
        super().__init__()
        self.claims_by_citizen, self.gaeldst, self.on_unavailable = claims_by_citizen, gaeldst, on_unavailable

    async def batch_load_fn(self, citizen_pks: list[int]) -> list[States]:
        claims = await self.claims_by_citizen.load_many(citizen_pks)
        return await collection_states(self.gaeldst, claims, self.on_unavailable)


async def collection_states(
    gaeldst: GaeldstClient, claims: Sequence[Sequence[ClaimRow]], on_unavailable: Callable[[], None]
) -> list[States]:
    """Each citizen's states from one upstream call for all their claims (``claims``: each citizen's rows); every
    citizen gets None and ``on_unavailable`` is called when Gældsstyrelsen cannot be asked. The compiled read
    path (``resolvers.compiled``) calls this too."""
    references = [c.reference for rows in claims for c in rows]
    try:
        states = await gaeldst.fetch_states(references) if references else {}
    except GaeldstUnavailable as exc:
        log.warning("gaeldst.unavailable", reason=exc.reason, claims=len(references))
        on_unavailable()
        return [None] * len(claims)
    return [{c.reference: states[c.reference] for c in rows if c.reference in states} for rows in claims]


class ClaimLoaders:
    db: Database
    collection: CollectionLoader | None = None  # made by ``start_collection``, on first use

    @cached_property
    def claim(self) -> RowByKey[int, ClaimRow]:
        return RowByKey(self.db, q.claims_by_ids, lambda r: r.id)

    @cached_property
    def claims_by_citizen(self) -> RowsByKey[int, ClaimRow]:
        """A citizen's claims with their outstanding amounts, oldest due date first."""
        return RowsByKey(self.db, None, lambda r: r.citizen_id, keyed=self.db.fast.claims_by_citizen_ids)

    @cached_property
    def department(self) -> RowByKey[int, DepartmentRow]:
        return RowByKey(self.db, None, lambda r: r.id, keyed=self.db.fast.departments_by_ids)

    @cached_property
    def entries_by_claim(self) -> RowsByKey[int, EntryRow]:
        """A claim's statement entries, in posting order."""
        return RowsByKey(self.db, None, lambda r: r.claim_id, keyed=self.db.fast.entries_by_claim_ids)

    def start_collection(self, gaeldst: GaeldstClient, on_unavailable: Callable[[], None]) -> CollectionLoader:
        """Gældsstyrelsen's view, made with the request's client and what to do when it cannot be asked (the one
        loader that needs more than the ledger)."""
        if self.collection is None:
            self.collection = CollectionLoader(self.claims_by_citizen, gaeldst, on_unavailable)
        return self.collection
