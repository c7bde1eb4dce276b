"""The ledger's last known Gældsstyrelsen status per claim (``claim_collection_statuses``): which claims to ask
about next, and what was heard. Writes on the connection of the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m

_claims = m.table(m.Claim)
_statuses = m.table(m.ClaimCollectionStatus)


class CollectionStatements:
    conn: AsyncConnection

    async def claims_to_check(self, *, limit: int) -> list[Row[Any]]:
        """Claims never asked about first, then those asked about longest ago: ``claim_id`` and ``reference``."""
        stmt = (
            select(_claims.c.id.label("claim_id"), _claims.c.reference)
            .select_from(_claims.outerjoin(_statuses, _statuses.c.claim_id == _claims.c.id))
            .order_by(_statuses.c.checked_at.is_not(None), _statuses.c.checked_at, _claims.c.id)
            .limit(limit)
        )
        return list(await self.conn.execute(stmt))

    async def record_collection_statuses(self, statuses: Mapping[int, str], *, now: datetime) -> None:
        """Store what Gældsstyrelsen said about these claims (claim id -> status), replacing what was known."""
        if not statuses:
            return
        dialect_insert: Any = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        stmt = dialect_insert(_statuses).values(
            # In claim order: two workers writing overlapping batches lock the rows in the same order (no deadlock).
            [{"claim_id": claim_id, "status": statuses[claim_id], "checked_at": now} for claim_id in sorted(statuses)]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["claim_id"], set_={"status": stmt.excluded.status, "checked_at": stmt.excluded.checked_at}
        )
        await self.conn.execute(stmt)
