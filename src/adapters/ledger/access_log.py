"""The access log: who looked at whose data (a citizen may ask to see it). Every write of it lives here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger.versions import bump


class AccessLogStatements:
    """Writes of the access log, on the connection of the caller's transaction."""

    conn: AsyncConnection

    async def log_access(
        self,
        *,
        caseworker_id: str,
        citizen_ids: Iterable[int | None],
        operation: str,
        request_id: str | None,
        now: datetime,
        actor_name: str | None = None,
        actor_unit: str | None = None,
        purpose: str | None = None,
    ) -> None:
        """One row per citizen (duplicates dropped; None for a look-up that found nobody), in one statement;
        the citizens' data version is raised because their ``accessLog`` changed. ``actor_name`` and
        ``actor_unit`` say who, for people; ``purpose`` why a caseworker acted on the citizen's behalf."""
        unique = list(dict.fromkeys(citizen_ids))
        if not unique:
            return
        rows = [
            {
                "at": now,
                "actor_kind": "CASEWORKER",
                "actor_id": caseworker_id,
                "citizen_id": cid,
                "operation": operation,
                "request_id": request_id,
                "detail": None,
                "actor_name": actor_name,
                "actor_unit": actor_unit,
                "purpose": purpose,
            }
            for cid in unique
        ]
        await self.conn.execute(insert(m.AccessLogEntry), rows)
        await bump(self.conn, citizens=unique)
