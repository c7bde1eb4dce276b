"""The ledger as the use-cases see it (``gateway.usecases.ports.Ledger``): one object per connection that
carries every write and locked read, assembled from the statement groups of each concern."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger.access_log import AccessLogStatements
from adapters.ledger.collection import CollectionStatements
from adapters.ledger.db import Database
from adapters.ledger.draws import DrawStatements
from adapters.ledger.idempotency import IdempotencyStatements
from adapters.ledger.payments import PaymentStatements
from adapters.ledger.plans import PlanStatements


class LedgerStore(
    PlanStatements,
    PaymentStatements,
    DrawStatements,
    IdempotencyStatements,
    AccessLogStatements,
    CollectionStatements,
):
    """Every statement a use-case runs, bound to one connection (a transaction's, or a read connection)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn


class SqlLedger:
    """``Ledger`` on SQLAlchemy: reads on the autocommit pool, writes in one transaction each."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def read(self) -> AsyncIterator[LedgerStore]:
        async with self.db.read() as conn:
            yield LedgerStore(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[LedgerStore]:
        async with self.db.transaction() as conn:
            yield LedgerStore(conn)

    def is_conflict(self, exc: BaseException) -> bool:
        """Unique violations, and PostgreSQL serialization/deadlock failures, are worth one more evaluation."""
        if isinstance(exc, IntegrityError):
            return True
        if not isinstance(exc, DBAPIError):
            return False
        orig = getattr(exc, "orig", None)
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        return code in ("40001", "40P01")
