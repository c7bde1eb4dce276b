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
def _scripts() -> tuple[frozenset[str], frozenset[str]]:
    """The latest revision(s) this code knows, and every revision it knows (read once per process)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(scripts.get_heads()), frozenset(r.revision for r in scripts.walk_revisions())


async def pending(db: Database) -> bool:
    """True when the database is behind this code: not migrated at all, or at a revision older than this code's
    latest. A database *ahead* of this code (a newer version ran ``gateway migrate`` during a rolling upgrade; its
    migrations add before they remove, docs/operations.md) is not pending: the old processes keep serving until
    they are replaced. One query, asked by every /readyz (Alembic's MigrationContext would log two INFO lines
    per probe)."""
    try:
        async with db.read() as conn:
            current = frozenset((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except DBAPIError:
        async with db.read() as conn:  # raises again if the database cannot be reached
            if await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
                raise
        return True  # never migrated
    latest, known = _scripts()
    return current != latest and current <= known
