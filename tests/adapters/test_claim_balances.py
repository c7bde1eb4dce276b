"""``claim_balances`` (migration 0007): each claim's balance is the sum of its ledger entries after every kind of
write to the entries, in the writing statement itself, on SQLite and PostgreSQL; and the migration backfills the
balances of a ledger that already has entries (and its downgrade removes the triggers with the table).

The caseworkers' portfolio sums these balances instead of the ledger (issue 12), so they must never differ from
the entries: each step below compares them with the entries summed by a plain GROUP BY.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.migrate import alembic_config, upgrade
from gateway.domain.clock import utcnow
from tests.conftest import PG_URL, _pg_admin

_entries = m.table(m.LedgerEntry)
_balances = m.table(m.ClaimBalance)


@pytest.fixture
async def db(migrated: str) -> AsyncIterator[Database]:
    database = Database(migrated)
    yield database
    await database.dispose()


async def _claims(conn: AsyncConnection, n: int) -> list[int]:
    """``n`` new claims of a new citizen, without entries."""
    now, tag = utcnow(), uuid.uuid4().hex[:10].upper()
    citizen = (
        await conn.execute(
            insert(m.Citizen).returning(m.Citizen.id),
            [{"cpr": f"0101{uuid.uuid4().int % 10**6:06d}", "name": "Balance", "created_at": now, "updated_at": now}],
        )
    ).scalar_one()
    department = (
        await conn.execute(
            insert(m.Department).returning(m.Department.id), [{"code": f"BAL-{tag}", "name": "Balances"}]
        )
    ).scalar_one()
    result = await conn.execute(
        insert(m.Claim).returning(m.Claim.id),
        [
            {
                "reference": f"BAL-{tag}-{i}",
                "citizen_id": citizen,
                "department_id": department,
                "title": "Balance",
                "kind": "OTHER",
                "issued_on": date(2025, 1, 1),
                "due_on": date(2025, 2, 1),
                "original_amount_oere": 100_000,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(n)
        ],
    )
    return list(result.scalars())


def _entry(claim_id: int, amount: int, kind: str = "CHARGE") -> dict[str, object]:
    return {
        "claim_id": claim_id,
        "posted_on": date(2025, 1, 10),
        "kind": kind,
        "text": kind,
        "amount_oere": amount,
        "created_at": utcnow(),
    }


async def _state(conn: AsyncConnection, claims: Sequence[int]) -> tuple[dict[int, int], dict[int, int]]:
    """(the balances, the entries summed per claim) of these claims."""
    balances = await conn.execute(
        select(_balances.c.claim_id, _balances.c.outstanding_oere).where(_balances.c.claim_id.in_(claims))
    )
    sums = await conn.execute(
        select(_entries.c.claim_id, func.sum(_entries.c.amount_oere))
        .where(_entries.c.claim_id.in_(claims))
        .group_by(_entries.c.claim_id)
    )
    return {c: int(v) for c, v in balances}, {c: int(v) for c, v in sums}


async def test_a_claims_balance_is_the_sum_of_its_entries_after_every_write(db: Database) -> None:
    async with db.transaction() as conn:
        a, b, untouched = claims = await _claims(conn, 3)
        # One statement, several entries, two of them on one claim.
        await conn.execute(insert(_entries), [_entry(a, 100_000), _entry(a, 2_500, "FEE"), _entry(b, 40_000)])
        balances, sums = await _state(conn, claims)
        assert balances == sums == {a: 102_500, b: 40_000}  # a claim that never had an entry has no balance

        payment = (
            await conn.execute(insert(_entries).returning(_entries.c.id), [_entry(a, -30_000, "PAYMENT")])
        ).scalar_one()
        assert (await _state(conn, claims))[0] == {a: 72_500, b: 40_000}

        await conn.execute(update(_entries).where(_entries.c.id == payment).values(amount_oere=-50_000))
        assert (await _state(conn, claims))[0] == {a: 52_500, b: 40_000}

        await conn.execute(update(_entries).where(_entries.c.claim_id.in_(claims)).values(text="Renamed"))
        assert (await _state(conn, claims))[0] == {a: 52_500, b: 40_000}

        # An entry moved to another claim, its amount changed in the same statement.
        await conn.execute(update(_entries).where(_entries.c.id == payment).values(claim_id=b, amount_oere=-10_000))
        balances, sums = await _state(conn, claims)
        assert balances == sums == {a: 102_500, b: 30_000}

        await conn.execute(delete(_entries).where(_entries.c.claim_id == a, _entries.c.kind == "FEE"))
        balances, sums = await _state(conn, claims)
        assert balances == sums == {a: 100_000, b: 30_000}

        # Every entry of a claim deleted: its balance is zero (not open), as the sum of no entries.
        await conn.execute(delete(_entries).where(_entries.c.claim_id == a))
        balances, sums = await _state(conn, claims)
        assert balances == {a: 0, b: 30_000} and sums == {b: 30_000}

        # A claim deleted takes its balance with it.
        await conn.execute(delete(m.table(m.Claim)).where(m.table(m.Claim).c.id.in_([a, untouched])))
        assert (await _state(conn, claims))[0] == {b: 30_000}


async def test_a_rolled_back_write_leaves_the_balance_as_it_was(db: Database) -> None:
    async with db.transaction() as conn:
        (claim,) = await _claims(conn, 1)
        await conn.execute(insert(_entries), [_entry(claim, 70_000)])
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute(insert(_entries), [_entry(claim, -70_000, "PAYMENT")])
            assert (await _state(conn, [claim]))[0] == {claim: 0}
            raise RuntimeError("rolled back")
    async with db.read() as conn:
        assert await _state(conn, [claim]) == ({claim: 70_000}, {claim: 70_000})


@pytest.fixture
async def fresh_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the session's backend, for migrating up and down (the shared one stays at head)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'balances.sqlite3'}"
        return
    name = f"gw_test_balances_{uuid.uuid4().hex[:8]}"
    await _pg_admin(PG_URL, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _downgrade(db: Database, revision: str) -> None:
    def run(connection: Connection) -> None:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)

    async with db.engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()


async def test_the_migration_backfills_the_balances_of_an_existing_ledger(fresh_url: str) -> None:
    db = Database(fresh_url)
    try:
        await upgrade(db, "0006")
        async with db.transaction() as conn:
            a, b, c = claims = await _claims(conn, 3)
            await conn.execute(
                insert(_entries),
                [_entry(a, 100_000), _entry(a, -100_000, "PAYMENT"), _entry(b, 40_000), _entry(b, 1_000, "FEE")],
            )
        await upgrade(db)
        async with db.transaction() as conn:
            assert await _state(conn, claims) == ({a: 0, b: 41_000}, {a: 0, b: 41_000})
            await conn.execute(insert(_entries), [_entry(c, 5_000)])  # and kept from then on
            assert await _state(conn, claims) == ({a: 0, b: 41_000, c: 5_000}, {a: 0, b: 41_000, c: 5_000})

        await _downgrade(db, "0006")  # the triggers go with the table: entries are written as before
        async with db.transaction() as conn:
            await conn.execute(insert(_entries), [_entry(c, 1_000)])
        await upgrade(db)
        async with db.transaction() as conn:
            assert (await _state(conn, claims))[0] == {a: 0, b: 41_000, c: 6_000}
            if not db.sqlite:  # SQLite has no TRUNCATE
                await conn.execute(text("TRUNCATE ledger_entries"))
                assert await _state(conn, claims) == ({}, {})
    finally:
        await db.dispose()
