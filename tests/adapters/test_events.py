"""The subscriptions' status events: the ledger publishes a transaction's status changes once it has committed
(and never for one rolled back), and the buses carry them between instances: PostgreSQL LISTEN/NOTIFY (also after
the listening connection is killed), Redis pub/sub, and in-process."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select

from adapters.events import LocalEvents, PostgresEvents, RedisEvents, decode, encode
from adapters.events.postgres import asyncpg_dsn
from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.store import SqlLedger
from gateway.domain.clock import utcnow
from gateway.usecases.ports import StatusChange
from tests.conftest import ANNA, ledger_for

WAIT = 15.0  # generous: only ever reached when an event is lost
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_REQUIRED = "GATEWAY_TEST_REDIS_URL" in os.environ


def channel() -> str:
    return f"test_status_{uuid.uuid4().hex[:12]}"


def test_the_wire_form_carries_ids_and_statuses_only() -> None:
    changes = [StatusChange("payment", 12, "CAPTURED"), StatusChange("plan", 3, "CANCELLED")]
    assert encode(changes) == b'[["payment",12,"CAPTURED"],["plan",3,"CANCELLED"]]'
    assert decode(encode(changes)) == changes
    # Malformed payloads (another program on the channel) are dropped, never raised into the listener.
    assert decode(b"not json") == []
    assert decode(b'[["citizen", 1, "X"], ["payment", "12", "X"], ["plan", 4, "ACTIVE"]]') == [
        StatusChange("plan", 4, "ACTIVE")
    ]


async def test_changes_are_coalesced_per_watcher_and_only_for_the_watched_object() -> None:
    events = LocalEvents()
    async with events.watch("payment", 1) as one, events.watch("payment", 2) as two:
        await events.publish([StatusChange("payment", 1, "AUTHORIZED"), StatusChange("payment", 1, "CAPTURED")])
        await asyncio.wait_for(one.wait(), WAIT)
        assert not one.event.is_set()  # two changes, one wake-up: the subscriber reads the object once
        assert not two.event.is_set()
        assert events.watching == 2
    assert events.watching == 0


async def _payment(db: Database) -> int:
    """A payment of Anna's, written directly (its insert records no change: nobody can watch it yet)."""
    async with db.read() as conn:
        anna, claim = (
            await conn.execute(
                select(m.Citizen.id, m.Claim.id)
                .join(m.Claim, m.Claim.citizen_id == m.Citizen.id)
                .where(m.Citizen.cpr == ANNA)
            )
        ).first()  # type: ignore[misc]
    async with SqlLedger(db).transaction() as tx:
        return await tx.insert_payment(
            citizen_id=anna,
            method="CARD",
            amount_oere=10_000,
            return_url="https://x.example/",
            claim_ids=[claim],
            now=utcnow(),
        )


async def test_the_ledger_publishes_after_commit_and_never_for_a_rollback(migrated: str) -> None:
    db = Database(migrated)
    await ledger_for(migrated).prepare(db)
    events = LocalEvents()
    ledger = SqlLedger(db, events)
    try:
        payment = await _payment(db)
        async with events.watch("payment", payment) as signal:
            with pytest.raises(RuntimeError):
                async with ledger.transaction() as tx:
                    await tx.update_payment(payment, status="FAILED")
                    raise RuntimeError("rolled back")
            assert not signal.event.is_set()
            async with ledger.transaction() as tx:
                await tx.update_payment(payment, provider_ref="no status")  # not a status change: nothing
            assert not signal.event.is_set()
            async with ledger.transaction() as tx:
                await tx.update_payment(payment, status="FAILED")
            assert signal.event.is_set()  # in-process: published before ``transaction()`` returned
    finally:
        await db.dispose()


@pytest.fixture
async def pg_url(pg_database_url: str) -> str:
    return pg_database_url


async def _woken(signal: Any) -> None:
    await asyncio.wait_for(signal.wait(), WAIT)


async def test_postgres_carries_events_between_instances_and_survives_a_killed_listener(pg_url: str) -> None:
    name = channel()
    sender, receiver = PostgresEvents(pg_url, name), PostgresEvents(pg_url, name)
    try:
        async with receiver.watch("plan", 7) as seven, receiver.watch("plan", 8) as eight:
            await sender.publish([StatusChange("plan", 8, "CANCELLED")])
            await _woken(eight)
            assert not seven.event.is_set()  # delivered in order on one connection: 7 had nothing
            await sender.publish([StatusChange("plan", 7, "ACTIVE")])
            await _woken(seven)

            # The listening connection is killed (a PostgreSQL restart, a proxy's idle timeout): the bus listens
            # again and wakes everybody, who may have missed something; then events flow as before.
            admin = await asyncpg.connect(asyncpg_dsn(pg_url))
            try:
                pid = receiver._link.conn.get_server_pid()
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            await _woken(seven)
            await _woken(eight)
            await sender.publish([StatusChange("plan", 7, "COMPLETED")])
            await _woken(seven)
            assert receiver._link.conn.get_server_pid() != pid
    finally:
        await sender.aclose()
        await receiver.aclose()


async def test_postgres_splits_large_batches_below_notifys_payload_limit(pg_url: str) -> None:
    name = channel()
    sender, receiver = PostgresEvents(pg_url, name), PostgresEvents(pg_url, name)
    try:
        async with receiver.watch("payment", 999) as last:
            # 1,000 changes would be ~30 KB in one payload; NOTIFY refuses more than 8,000 bytes.
            await sender.publish([StatusChange("payment", k, "CAPTURED") for k in range(1000)])
            await _woken(last)
    finally:
        await sender.aclose()
        await receiver.aclose()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        message = f"Redis not reachable at {REDIS_URL}: {exc!r}"
        if REDIS_REQUIRED:
            pytest.fail(message)
        pytest.skip(message + " (set GATEWAY_TEST_REDIS_URL; Redis tests skipped)")
    finally:
        await client.aclose()
    yield REDIS_URL


async def test_redis_carries_events_between_instances(redis_url: str) -> None:
    name = channel()
    sender, receiver = RedisEvents(redis_url, name), RedisEvents(redis_url, name)
    try:
        async with receiver.watch("enrolment", 3) as three, receiver.watch("enrolment", 4) as four:
            await sender.publish([StatusChange("enrolment", 4, "ACTIVE")])
            await _woken(four)
            assert not three.event.is_set()
            await sender.publish([StatusChange("enrolment", 3, "STOPPED")])
            await _woken(three)
    finally:
        await sender.aclose()
        await receiver.aclose()
