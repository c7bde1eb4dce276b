"""The access log (R: citizens may see who looked at their data): every caseworker look-up is recorded."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.domain.clock import utcnow
from gateway.usecases.ports import Ledger


class AccessLog:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def record(
        self, *, caseworker_id: str, citizen_ids: Iterable[int | None], operation: str, request_id: str | None
    ) -> None:
        """One row per citizen shown to a caseworker (None: a look-up that found nobody), in its own transaction."""
        ids = list(citizen_ids)
        if not ids:
            return
        async with self.ledger.transaction() as tx:
            await tx.log_access(
                caseworker_id=caseworker_id, citizen_ids=ids, operation=operation, request_id=request_id, now=utcnow()
            )
