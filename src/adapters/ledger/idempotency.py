"""Idempotency records: a mutation's key, the fingerprint of its input and the result it stood for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from gateway.usecases.ports import IdempotencyRecord

_records = m.table(m.IdempotencyRecord)


class IdempotencyStatements:
    """Reads and writes of idempotency records, on the caller's connection."""

    conn: AsyncConnection

    async def idempotency_record(self, actor: str, key: str) -> IdempotencyRecord | None:
        row = (
            await self.conn.execute(
                select(_records.c.operation, _records.c.request_hash, _records.c.response).where(
                    _records.c.actor == actor, _records.c.key == key
                )
            )
        ).first()
        return IdempotencyRecord(row.operation, row.request_hash, dict(row.response)) if row is not None else None

    async def claim_idempotency_key(
        self, actor: str, key: str, *, operation: str, request_hash: str, now: datetime
    ) -> None:
        """Insert the key with an empty result. A concurrent request with the same key blocks on this row
        (PostgreSQL) or the database lock (SQLite) until the first commits, or fails with a unique violation."""
        await self.conn.execute(
            insert(_records).values(
                actor=actor, key=key, operation=operation, request_hash=request_hash, response={}, created_at=now
            )
        )

    async def store_idempotent_result(self, actor: str, key: str, result: dict[str, Any]) -> None:
        await self.conn.execute(
            update(_records).where(_records.c.actor == actor, _records.c.key == key).values(response=result)
        )
