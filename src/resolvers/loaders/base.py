"""Typed DataLoaders over the ledger's batched read queries: one SQL statement per batch of keys, per request.

A relation is a ``RowByKey`` (one row per key) or a ``RowsByKey`` (a list of rows per key), with its key and row
types; aiodataloader does the batching and the per-request cache.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiodataloader import DataLoader

from adapters.ledger.db import Database
from adapters.ledger.queries import BatchQuery

K = TypeVar("K")
R = TypeVar("R")

# A batched read that takes only the keys (``adapters.ledger.fastread``: it has its own connections).
KeyedQuery = Callable[[Sequence[K]], Awaitable[list[R]]]


async def _rows(loader: RowByKey[K, R] | RowsByKey[K, R], keys: list[K]) -> list[R]:
    if loader.keyed is not None:
        return await loader.keyed(keys)
    async with loader.db.read() as conn:
        return await loader.fetch(conn, keys)  # type: ignore[misc]


class RowByKey(DataLoader[K, R | None]):
    """One row per key, None where the ledger has none."""

    def __init__(
        self,
        db: Database,
        fetch: BatchQuery[K, R] | None,
        key: Callable[[R], K | None],
        *,
        keyed: KeyedQuery[K, R] | None = None,
    ) -> None:
        super().__init__()
        self.db, self.fetch, self.key, self.keyed = db, fetch, key, keyed

    async def batch_load_fn(self, keys: list[K]) -> list[R | None]:
        rows = await _rows(self, keys)
        key = self.key
        by_key = {key(r): r for r in rows}
        return [by_key.get(k) for k in keys]


class RowsByKey(DataLoader[K, list[R]]):
    """The rows of each key, in the order the query returns them (empty where there are none)."""

    def __init__(
        self,
        db: Database,
        fetch: BatchQuery[K, R] | None,
        key: Callable[[R], K | None],
        *,
        keyed: KeyedQuery[K, R] | None = None,
    ) -> None:
        super().__init__()
        self.db, self.fetch, self.key, self.keyed = db, fetch, key, keyed

    async def batch_load_fn(self, keys: list[K]) -> list[list[R]]:
        rows = await _rows(self, keys)
        key = self.key
        grouped: defaultdict[K | None, list[R]] = defaultdict(list)
        for r in rows:
            grouped[key(r)].append(r)
        return [grouped.get(k, []) for k in keys]


def present(row: R | None) -> R:
    """A row that a foreign key guarantees (a claim's department, a plan's citizen): its absence is a bug."""
    if row is None:
        raise LookupError("a row that a foreign key guarantees is missing")
    return row
