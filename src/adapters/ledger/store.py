"""The ledger as the use-cases see it (``gateway.usecases.ports.Ledger``): one object per connection that
carries every write and locked read, assembled from the statement groups of each concern.

A transaction's status changes (payments, enrolments, plans) are published to the subscriptions' event bus once
it has committed, by the ledger itself rather than by each use-case: every statement that sets such a status
records it (``versions.StatusChanges``), so no write path can forget, and a rolled-back transaction says
nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger.access_log import AccessLogStatements
from adapters.ledger.collection import CollectionStatements
from adapters.ledger.db import Database
from adapters.ledger.draws import DrawStatements
from adapters.ledger.idempotency import IdempotencyStatements
from adapters.ledger.payments import PaymentStatements
from adapters.ledger.plans import PlanStatements
from adapters.ledger.versions import StatusChanges
from adapters.ledger.workplace import WorkQueueStatements
from gateway.usecases.ports import StatusEvents

log = structlog.get_logger(__name__)


class LedgerStore(
    PlanStatements,
    PaymentStatements,
    DrawStatements,
    IdempotencyStatements,
    AccessLogStatements,
    CollectionStatements,
    WorkQueueStatements,
):
    """Every statement a use-case runs, bound to one connection (a transaction's, or a read connection)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.changes = StatusChanges()


class SqlLedger:
    """``Ledger`` on SQLAlchemy: reads on the autocommit pool, writes in one transaction each."""

    def __init__(self, db: Database, events: StatusEvents | None = None) -> None:
        self.db = db
        self.events = events

    @asynccontextmanager
    async def read(self) -> AsyncIterator[LedgerStore]:
        async with self.db.read() as conn:
            yield LedgerStore(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[LedgerStore]:
        async with self.db.transaction() as conn:
            store = LedgerStore(conn)
            yield store
        # Committed (an exception skips this). The write stands whether or not the bus takes the news: a
        # subscriber that misses it sees the status at its next event, or when it subscribes again.
        if store.changes.items and self.events is not None:
            try:
                await self.events.publish(store.changes.items)
            except Exception as exc:  # noqa: BLE001 - never fail a committed write because of its notification
                log.warning("events.publish_failed", error=type(exc).__name__, changes=len(store.changes.items))

    def is_conflict(self, exc: BaseException) -> bool:
        """Unique violations, and PostgreSQL serialization/deadlock failures, are worth one more evaluation."""
        if isinstance(exc, IntegrityError):
            return True
        if not isinstance(exc, DBAPIError):
            return False
        orig = getattr(exc, "orig", None)
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        return code in ("40001", "40P01")
