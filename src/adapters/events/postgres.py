"""Status events over PostgreSQL LISTEN/NOTIFY, so every gateway process sharing the ledger hears them.

One asyncpg connection per process, of its own (outside the ledger's pools, so it never holds a pool slot nor
shows in their statement counts): it sends ``pg_notify`` for the changes a transaction committed and, once this
process has a subscriber, LISTENs on the channel. When that connection is lost, it is opened again (backing off)
and every subscriber is woken to read its object again, since events sent in between were missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from sqlalchemy.engine import make_url

from adapters.events.fanout import LocalEvents, decode, encode
from gateway.usecases.ports import StatusChange

log = structlog.get_logger(__name__)

# NOTIFY payloads must stay below 8,000 bytes; a change is about 30.
_CHANGES_PER_NOTIFY = 100
_RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


def asyncpg_dsn(database_url: str) -> str:
    """The ledger's SQLAlchemy URL (``postgresql+asyncpg://…``) as a libpq DSN for asyncpg."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class _Link:
    """The connection's state (changed in place: the bus's own attributes are set once)."""

    conn: Any = None  # asyncpg.Connection
    listening: bool = False
    reconnect: asyncio.Task[None] | None = None
    closed: bool = False


class PostgresEvents(LocalEvents):
    def __init__(self, database_url: str, channel: str) -> None:
        super().__init__()
        self.dsn = asyncpg_dsn(database_url)
        self.channel = channel
        self._link = _Link()
        self._lock = asyncio.Lock()  # one statement at a time on the connection, and one connect

    async def _connection(self) -> Any:
        link = self._link
        if link.conn is None or link.conn.is_closed():
            conn = await asyncpg.connect(self.dsn)
            conn.add_termination_listener(self._on_lost)
            link.conn, link.listening = conn, False
        return link.conn

    async def start_listening(self) -> None:
        link = self._link
        if link.listening and link.conn is not None and not link.conn.is_closed():
            return
        async with self._lock:
            conn = await self._connection()
            if not link.listening:
                await conn.add_listener(self.channel, self._on_notify)
                link.listening = True

    async def publish(self, changes: Sequence[StatusChange]) -> None:
        if not changes:
            return
        async with self._lock:
            conn = await self._connection()
            for start in range(0, len(changes), _CHANGES_PER_NOTIFY):
                payload = encode(changes[start : start + _CHANGES_PER_NOTIFY]).decode()
                await conn.execute("SELECT pg_notify($1, $2)", self.channel, payload)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.deliver(decode(payload))

    def _on_lost(self, _conn: Any) -> None:
        log.warning("events.postgres_connection_lost", watching=self.watching)
        link = self._link
        link.conn, link.listening = None, False
        if self.watching and not link.closed and link.reconnect is None:
            link.reconnect = asyncio.get_running_loop().create_task(self._listen_again())

    async def _listen_again(self) -> None:
        try:
            for attempt in range(10_000):
                if self._link.closed or not self.watching:
                    return
                try:
                    await self.start_listening()
                except (OSError, asyncpg.PostgresError) as exc:
                    delay = _RECONNECT_DELAYS[min(attempt, len(_RECONNECT_DELAYS) - 1)]
                    log.warning("events.postgres_reconnect_failed", error=type(exc).__name__, retry_in=delay)
                    await asyncio.sleep(delay)
                    continue
                self.deliver_to_all()  # events sent while we were away are lost: everybody reads again
                return
        finally:
            self._link.reconnect = None

    async def aclose(self) -> None:
        link = self._link
        link.closed = True
        if link.reconnect is not None:
            link.reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await link.reconnect
        if link.conn is not None and not link.conn.is_closed():
            link.conn.remove_termination_listener(self._on_lost)
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await link.conn.close(timeout=5)
        link.conn = None
        await super().aclose()
