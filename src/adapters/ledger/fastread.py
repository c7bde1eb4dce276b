"""The hot read queries on the driver itself: citizens by CPR, claims by citizen, departments and statement entries.

These four statements are the citizen overview's whole SQL (performance.md). Through SQLAlchemy each costs
~0.6 ms of CPU on top of the driver's own ~0.1 ms (statement compilation cache, result and row processing);
here, on PostgreSQL, they go straight to asyncpg: one pool of the driver's own, prepared statements (asyncpg
prepares each text once per connection and keeps it in its statement cache) with ``= ANY($1)`` so that one
statement text serves every batch size. On SQLite they run through SQLAlchemy Core as before (aiosqlite's cost
is its thread hop, not SQLAlchemy's layer), selecting the same columns in the same order.

Rows have the same columns, in the order of the ``*_COLUMNS`` tuples below, on both databases, and can be read
by position (the compiled read path, ``resolvers.compiled``, does) or by attribute (the DataLoaders and the
resolvers do; on PostgreSQL through ``Row.__getattr__``). Each returned list is the rows of exactly one
statement, so statement counts stay what the DataLoaders' were. ``listeners`` see every PostgreSQL statement's
text (tests and ``make bench`` count them next to SQLAlchemy's ``before_cursor_execute``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol
from typing import cast as typed

import asyncpg
import orjson
from opentelemetry.trace import SpanKind, Tracer
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger import queries as q
from adapters.ledger.queries import CitizenRow, ClaimRow, DepartmentRow, EntryRow


class _Ledger(Protocol):
    """What these reads need of ``adapters.ledger.db.Database`` (which holds them: no import back)."""

    url: str
    pool_size: int
    sqlite: bool

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


CITIZEN_COLUMNS = ("id", "cpr", "name")
CLAIM_COLUMNS = (
    "id",
    "reference",
    "citizen_id",
    "department_id",
    "title",
    "kind",
    "issued_on",
    "due_on",
    "original_amount_oere",
    "outstanding_oere",
)
DEPARTMENT_COLUMNS = ("id", "code", "name", "phone", "email", "address", "web", "phone_hours")
ENTRY_COLUMNS = ("id", "claim_id", "posted_on", "kind", "component", "text", "amount_oere", "payment_id")


def position(columns: tuple[str, ...], name: str) -> int:
    """Where a column is in a row of these columns (the compiled path reads rows by position)."""
    return columns.index(name)


# --- PostgreSQL: the statements, one text each whatever the number of keys ----------------------------------

_CITIZENS_BY_CPRS = "SELECT id, cpr, name FROM citizens WHERE cpr = ANY($1::varchar[])"
# The outstanding amount as queries._outstanding: a correlated sum over the claim's entries (its index), cast back
# from NUMERIC so amounts stay Python ints.
_CLAIMS_BY_CITIZENS = (
    "SELECT c.id, c.reference, c.citizen_id, c.department_id, c.title, c.kind, c.issued_on, c.due_on, "
    "c.original_amount_oere, "
    "(SELECT CAST(coalesce(sum(e.amount_oere), 0) AS BIGINT) FROM ledger_entries e WHERE e.claim_id = c.id) "
    "AS outstanding_oere "
    "FROM claims c WHERE c.citizen_id = ANY($1::bigint[]) ORDER BY c.due_on, c.id"
)
_DEPARTMENTS_BY_IDS = (
    "SELECT id, code, name, phone, email, address, web, phone_hours FROM departments WHERE id = ANY($1::bigint[])"
)
_ENTRIES_BY_CLAIMS = (
    "SELECT id, claim_id, posted_on, kind, component, text, amount_oere, payment_id FROM ledger_entries "
    "WHERE claim_id = ANY($1::bigint[]) ORDER BY claim_id, posted_on, id"
)


class Row(asyncpg.Record):
    """asyncpg's record, also readable by attribute like SQLAlchemy's rows (the row protocols of ``queries``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


async def _init_connection(conn: asyncpg.Connection) -> None:
    # SQLAlchemy's JSON columns are PostgreSQL ``json``: decoded to Python values as SQLAlchemy does.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


class FastReads:
    """The hot batched reads of one ledger database (``Database.fast``)."""

    def __init__(self, db: _Ledger) -> None:
        self.db = db
        self.listeners: list[Callable[[str], None]] = []
        # OpenTelemetry: a span per statement, as opentelemetry-instrumentation-sqlalchemy makes for the engines'
        # (set by the composition root when tracing is on). By hand, because the library's asyncpg instrumentor
        # patches every asyncpg connection of the process, SQLAlchemy's included, which would trace those twice.
        self.tracer: Tracer | None = None
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def _fetch(self, sql: str, keys: Sequence[Any]) -> list[Any]:
        for listener in self.listeners:
            listener(sql)
        if self.tracer is None:
            return await self._fetch_rows(sql, keys)
        attributes = {"db.system": "postgresql", "db.statement": sql, "db.operation": "SELECT"}
        with self.tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes=attributes):
            return await self._fetch_rows(sql, keys)

    async def _fetch_rows(self, sql: str, keys: Sequence[Any]) -> list[Any]:
        pool = self._pool or await self._open()
        async with pool.acquire() as conn:
            return typed("list[Any]", await conn.fetch(sql, list(keys), record_class=Row))

    async def _open(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                url = make_url(self.db.url).set(drivername="postgresql")
                self._pool = await asyncpg.create_pool(
                    url.render_as_string(hide_password=False),
                    # A pool next to SQLAlchemy's two: it holds connections only while busy (an idle one closes
                    # after a minute), so it adds little to the server's connection count.
                    min_size=0,
                    max_size=self.db.pool_size,
                    max_inactive_connection_lifetime=60,
                    init=_init_connection,
                )
            return self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def citizens_by_cprs(self, cprs: Sequence[str]) -> list[CitizenRow]:
        if not self.db.sqlite:
            return await self._fetch(_CITIZENS_BY_CPRS, cprs)
        async with self.db.read() as conn:
            return await q.citizens_by_cprs(conn, cprs)

    async def claims_by_citizen_ids(self, citizen_ids: Sequence[int]) -> list[ClaimRow]:
        """All claims of these citizens with their outstanding sums, oldest due date first."""
        if not self.db.sqlite:
            return await self._fetch(_CLAIMS_BY_CITIZENS, citizen_ids)
        async with self.db.read() as conn:
            return await q.claims_by_citizen_ids(conn, citizen_ids)

    async def departments_by_ids(self, ids: Sequence[int]) -> list[DepartmentRow]:
        if not self.db.sqlite:
            return await self._fetch(_DEPARTMENTS_BY_IDS, ids)
        t = m.table(m.Department)
        async with self.db.read() as conn:
            stmt = select(*(t.c[name] for name in DEPARTMENT_COLUMNS)).where(t.c.id.in_(ids))
            return typed("list[DepartmentRow]", list(await conn.execute(stmt)))

    async def entries_by_claim_ids(self, claim_ids: Sequence[int]) -> list[EntryRow]:
        """Statement entries in posting order, per claim."""
        if not self.db.sqlite:
            return await self._fetch(_ENTRIES_BY_CLAIMS, claim_ids)
        async with self.db.read() as conn:
            return await q.entries_by_claim_ids(conn, claim_ids)
