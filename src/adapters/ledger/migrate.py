"""Run the Alembic migrations programmatically (``gateway migrate``, app start-up in development, tests)."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from adapters.ledger.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str = "") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with db.engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()


@functools.cache
def heads() -> frozenset[str]:
    """The latest revision(s) this code knows (read from the migration scripts once per process)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


async def pending(db: Database) -> bool:
    """True when the database is not at the latest migration (or has none at all). One query, asked by every
    /readyz: Alembic's own MigrationContext would log two INFO lines per probe."""
    try:
        async with db.read() as conn:
            current = frozenset((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except DBAPIError:
        async with db.read() as conn:  # raises again if the database cannot be reached
            if await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
                raise
        return True  # never migrated
    return current != heads()
