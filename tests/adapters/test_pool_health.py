"""PostgreSQL connection pools without a ping per checkout (adapters.ledger.db): a connection the server ended is
replaced, and requests go on working after the database dropped every connection.

The waits are on events (asyncpg's termination listener, the server's own view of its backends), never on time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from adapters.ledger.db import Database
from adapters.simserver import ThreadedServer
from tests.api.test_overview import codes
from tests.conftest import ANNA, build_api

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)

WAIT_SECONDS = 30.0


async def _admin(database_url: str) -> asyncpg.Connection:
    u = make_url(database_url)
    return await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, database=u.database)


async def _pid(db: Database) -> tuple[int, Any]:
    """The server pid of the read pool's connection, and the driver's connection."""
    async with db.read() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert pid == driver.get_server_pid()
        return pid, driver


async def _terminated(driver: Any, admin: asyncpg.Connection, pid: int) -> None:
    """End the backend ``pid`` and wait until the driver has seen its connection close."""
    closed = asyncio.Event()
    driver.add_termination_listener(lambda _conn: closed.set())
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid) is True
    await asyncio.wait_for(closed.wait(), WAIT_SECONDS)


async def test_a_connection_the_server_ended_is_replaced_at_checkout(migrated: str) -> None:
    db = Database(migrated, pool_size=1)
    admin = await _admin(migrated)
    try:
        pid, driver = await _pid(db)
        assert (await _pid(db))[0] == pid  # one pooled connection, reused
        await _terminated(driver, admin, pid)
        new_pid, _ = await _pid(db)  # no error: the closed connection was replaced at checkout
        assert new_pid != pid
    finally:
        await admin.close()
        await db.dispose()


async def test_a_connection_closed_under_the_pool_is_replaced_at_checkout(migrated: str) -> None:
    db = Database(migrated, pool_size=1)
    try:
        pid, driver = await _pid(db)
        await driver.close()  # the pool still holds it
        new_pid, _ = await _pid(db)
        assert new_pid != pid
        async with db.transaction() as conn:  # the write pool has the same check
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await db.dispose()


async def test_requests_recover_after_the_database_dropped_every_connection(
    migrated: str, gaeldst_sim: ThreadedServer
) -> None:
    """Every backend of the gateway's pools is ended (a restart, a failover). A request that meets a dead
    connection before the driver saw it close fails alone (INTERNAL, and SQLAlchemy drops the pool); the next one
    answers as before. Only this app's connections are ended (those that appeared with it), not the session's."""
    query = "{ me { name installmentPlans { totalCount } paymentMethods { totalCount } claims { totalCount } } }"
    admin = await _admin(migrated)
    backends = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    try:
        before = {r["pid"] for r in await admin.fetch(backends)}
        async with build_api(migrated, gaeldst_sim) as api:
            expected = await api.gql(query, citizen=ANNA)
            assert expected["data"]["me"]["name"] == "Anna Jensen" and "errors" not in expected
            pids = sorted({r["pid"] for r in await admin.fetch(backends)} - before)
            assert pids, "the gateway holds connections"
            for pid in pids:
                await admin.fetchval("SELECT pg_terminate_backend($1)", pid)

            async def gone() -> None:
                while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids):
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(gone(), WAIT_SECONDS)
            first = (await api.post(query, token=api.token(citizen=ANNA))).json()
            assert first == expected or codes(first) == ["INTERNAL"], first
            assert await api.gql(query, citizen=ANNA) == expected
            assert await api.gql(query, citizen=ANNA) == expected
    finally:
        await admin.close()
