"""INSERT … ON CONFLICT DO NOTHING on both databases: how "exactly once" is written (unique keys decide)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection


async def insert_once(
    conn: AsyncConnection, table: Table, values: Mapping[str, Any], unique: Sequence[str]
) -> int | None:
    """Insert a row unless one with the same ``unique`` columns exists; the new row's id, or None when it
    existed already (then nothing was written)."""
    dialect_insert: Any = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = dialect_insert(table).values(**values).on_conflict_do_nothing(index_elements=list(unique))
    if "id" in table.c:
        row = (await conn.execute(stmt.returning(table.c.id))).first()
        return int(row[0]) if row is not None else None
    result = await conn.execute(stmt)
    return 1 if result.rowcount else None
