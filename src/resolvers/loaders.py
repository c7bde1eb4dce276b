"""Per-request DataLoaders: every relation is loaded in batches, never a query per row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import queries as q
from adapters.ledger.db import Database

K = TypeVar("K")

Fetch = Callable[[AsyncConnection, Sequence[Any]], Awaitable[list[Row[Any]]]]


class _ByKey(DataLoader):
    """One row per key (or None)."""

    def __init__(self, db: Database, fetch: Fetch, key: str = "id") -> None:
        super().__init__()
        self.db, self.fetch, self.key = db, fetch, key

    async def batch_load_fn(self, keys: Sequence[Any]) -> list[Row[Any] | None]:
        async with self.db.read() as conn:
            rows = await self.fetch(conn, list(keys))
        by_key = {getattr(r, self.key): r for r in rows}
        return [by_key.get(k) for k in keys]


class _ManyByKey(DataLoader):
    """A list of rows per key, in the order the query returns them."""

    def __init__(self, db: Database, fetch: Fetch, key: str) -> None:
        super().__init__()
        self.db, self.fetch, self.key = db, fetch, key

    async def batch_load_fn(self, keys: Sequence[Any]) -> list[list[Row[Any]]]:
        async with self.db.read() as conn:
            rows = await self.fetch(conn, list(keys))
        grouped: dict[Any, list[Row[Any]]] = defaultdict(list)
        for r in rows:
            grouped[getattr(r, self.key)].append(r)
        return [grouped.get(k, []) for k in keys]


# name -> (query, key column, one row per key?)
_LOADERS: dict[str, tuple[Fetch, str, bool]] = {
    "citizen": (q.citizens_by_ids, "id", True),
    "citizen_by_cpr": (q.citizens_by_cprs, "cpr", True),
    "claim": (q.claims_by_ids, "id", True),
    "claims_by_citizen": (q.claims_by_citizen_ids, "citizen_id", False),
    "department": (q.departments_by_ids, "id", True),
    "entries_by_claim": (q.entries_by_claim_ids, "claim_id", False),
    "plan": (q.plans_by_ids, "id", True),
    "plans_by_citizen": (q.plans_by_citizen_ids, "citizen_id", False),
    "plan_claims": (q.plan_claims_by_plan_ids, "plan_id", False),
    "live_plan_by_claim": (q.live_plan_claims_by_claim_ids, "claim_id", False),
    "installments_by_plan": (q.installments_by_plan_ids, "plan_id", False),
    "installment": (q.installments_by_ids, "id", True),
    "paid_into_plan": (q.paid_into_plans, "plan_id", False),
    "enrolment": (q.enrolments_by_ids, "id", True),
    "enrolments_by_citizen": (q.enrolments_by_citizen_ids, "citizen_id", False),
    "live_enrolment_by_plan": (q.live_enrolments_by_plan_ids, "live_plan_id", False),
    "live_enrolment_by_claim": (q.live_enrolment_claims_by_claim_ids, "claim_id", False),
    "enrolment_claims": (q.enrolment_claims_by_enrolment_ids, "enrolment_id", False),
    "account": (q.accounts_by_ids, "id", True),
    "accounts_by_citizen": (q.accounts_by_citizen_ids, "citizen_id", False),
    "payment": (q.payments_by_ids, "id", True),
    "payments_by_citizen": (q.payments_by_citizen_ids, "citizen_id", False),
    "payment_claims": (q.payment_claims_by_payment_ids, "payment_id", False),
    "allocations_by_payment": (q.allocations_by_payment_ids, "payment_id", False),
    "access_log_by_citizen": (q.access_log_by_citizen_ids, "citizen_id", False),
    "access_log_entry": (q.access_log_by_ids, "id", True),
}


class Loaders:
    """The request's DataLoaders, created on first use; each caches within the request only."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, DataLoader] = {}

    def __getattr__(self, name: str) -> DataLoader:
        try:
            fetch, key, single = _LOADERS[name]
        except KeyError:
            raise AttributeError(name) from None
        loader: DataLoader = (_ByKey if single else _ManyByKey)(self.db, fetch, key)
        self._cache[name] = loader
        self.__dict__[name] = loader  # later look-ups skip __getattr__
        return loader

    def custom(self, name: str, factory: Callable[[], DataLoader]) -> DataLoader:
        """Loaders owned by other modules (e.g. Gældsstyrelsen's collection status)."""
        loader = self._cache.get(name)
        if loader is None:
            loader = self._cache[name] = factory()
        return loader
