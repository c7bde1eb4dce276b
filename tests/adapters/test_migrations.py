"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from adapters.ledger.db import Database
from adapters.ledger.models import Base


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_equals_the_models(migrated: str) -> None:
    db = Database(migrated)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(_diff)
    finally:
        await db.dispose()
    assert diff == []
