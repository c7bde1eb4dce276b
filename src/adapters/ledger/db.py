"""Engine, connections and transactions for the ledger, on SQLite (embedded) or PostgreSQL.

Reads run on autocommit connections (no BEGIN/ROLLBACK round trips, performance.md); every write runs in
one transaction. On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so concurrent writers
queue on the database lock instead of failing half-way (SQLAlchemy's documented pysqlite recipe).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import String, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.functions import FunctionElement

from adapters.ledger.fastread import FastReads


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# A connection older than this is replaced at checkout (no round trip): servers, proxies and firewalls drop old ones.
DEFAULT_POOL_RECYCLE_SECONDS = 1800


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    autocommit: bool = False,
    pool_recycle_seconds: int = DEFAULT_POOL_RECYCLE_SECONDS,
) -> AsyncEngine:
    options: dict[str, Any] = {"echo": echo}
    if autocommit:
        # Reads: no BEGIN/ROLLBACK round trips, and nothing to reset when a connection goes back to the pool.
        options |= {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
    if is_sqlite(url):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, poolclass=None if path else NullPool, **options)
        _install_sqlite_hooks(engine, reads_only=autocommit)
        return engine
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=pool_recycle_seconds, **options
    )
    _install_pool_health_check(engine)
    return engine


def _install_pool_health_check(engine: AsyncEngine) -> None:
    """Pool health without a ping per checkout (``pool_pre_ping`` costs a round trip and its CPU on every request's
    every connection, performance.md). Three things keep dead connections out instead:

    - at checkout, a connection the driver already knows is closed (the server ended it, e.g.
      ``pg_terminate_backend`` or a restart, and asyncpg saw the socket close) is replaced, at no cost: the pool
      retries the checkout with a new one (SQLAlchemy's documented ``DisconnectionError`` in a checkout handler);
    - ``pool_recycle`` replaces connections older than half an hour, before anything in between drops them;
    - a statement that meets a dead connection anyway fails that one request, and SQLAlchemy then invalidates
      every connection of the pool made before it (its default on a disconnect), so the next request connects
      anew (tests/adapters/test_pool_health.py).
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _replace_closed(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = record.driver_connection
        if driver is not None and driver.is_closed():
            raise DisconnectionError("the database closed this connection")


SQLITE_LOWER = "gateway_lower"


class lower_text(FunctionElement[str]):
    """``lower()`` for every letter, on both databases: PostgreSQL's ``lower`` folds every letter, SQLite's only
    A–Z ("Ø" stays "Ø"), so on SQLite it is ``gateway_lower``, Python's ``str.lower`` registered on each connection.
    Written here because SQLite has no Unicode-aware lower without the ICU extension, which Python's sqlite3 does
    not ship."""

    type = String()
    name = "lower_text"
    inherit_cache = True


@compiles(lower_text)
def _lower_text(element: lower_text, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(lower_text, "sqlite")
def _lower_text_sqlite(element: lower_text, compiler: Any, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


def _sqlite_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _install_sqlite_hooks(engine: AsyncEngine, *, reads_only: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the sqlite3 module) decide when transactions begin.
        dbapi_connection.isolation_level = None
        dbapi_connection.create_function(SQLITE_LOWER, 1, _sqlite_lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    if reads_only:
        return  # autocommit: no transaction at all

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The ledger's engine plus the two ways to use it: ``read()`` and ``transaction()``."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        pool_recycle_seconds: int = DEFAULT_POOL_RECYCLE_SECONDS,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self.engine = make_engine(url, pool_size=pool_size, echo=echo, pool_recycle_seconds=pool_recycle_seconds)
        self.read_engine = make_engine(
            url, pool_size=pool_size, echo=echo, autocommit=True, pool_recycle_seconds=pool_recycle_seconds
        )
        self.sqlite = is_sqlite(url)

    @cached_property
    def fast(self) -> FastReads:
        """The hot batched reads on the driver itself (``adapters.ledger.fastread``)."""
        return FastReads(self)

    @property
    def engines(self) -> tuple[AsyncEngine, AsyncEngine]:
        return self.engine, self.read_engine

    def on_statement(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` before every SQL statement this database runs, through either engine or the hot reads
        on the driver (metrics count them)."""
        for engine in self.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", lambda *_: callback())
        if not self.sqlite:  # on SQLite the hot reads go through the read engine
            self.fast.listeners.append(lambda _sql: callback())

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, in autocommit mode (its own pool)."""
        async with self.read_engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back on any exception."""
        async with self.engine.begin() as conn:
            yield conn

    async def ping(self) -> None:
        """Raises if the database cannot be reached (readiness)."""
        async with self.read() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        if "fast" in self.__dict__:
            await self.fast.aclose()
        await self.engine.dispose()
        await self.read_engine.dispose()
