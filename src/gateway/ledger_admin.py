"""Ledger administration shared by the CLI and the dev server: migrate and seed."""

from __future__ import annotations

from gateway.settings import Settings


async def migrate_ledger(settings: Settings) -> None:
    """Apply the Alembic migrations to the configured ledger."""
    from adapters.ledger.db import Database
    from adapters.ledger.migrate import upgrade

    db = Database(settings.database_url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


async def seed_ledger(settings: Settings, citizens: int | None) -> str:
    """The demo citizens (replacing theirs), or ``citizens`` generated ones; says what it did."""
    from adapters.ledger.db import Database
    from adapters.ledger.seed import seed_bulk, seed_demo

    db = Database(settings.database_url)
    try:
        if citizens:
            added = await seed_bulk(db, citizens)
            return f"added {added} generated citizens"
        await seed_demo(db)
        return "seeded the demo citizens"
    finally:
        await db.dispose()
