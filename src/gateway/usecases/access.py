"""The access log (R: citizens may see who looked at their data): every caseworker look-up is recorded, and every
action a caseworker takes on a citizen's behalf, with its purpose, in that action's own transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from gateway.domain.acting import Acting, Actor
from gateway.domain.clock import utcnow
from gateway.usecases.ports import Ledger, LedgerTx


async def log_acting(tx: LedgerTx, acting: Acting, citizen_id: int, operation: str, now: datetime) -> None:
    """One access-log row for an action on the citizen's behalf, inside the action's transaction (so the action
    and its log row are written together or not at all)."""
    await tx.log_access(
        caseworker_id=acting.actor.caseworker_id,
        citizen_ids=[citizen_id],
        operation=operation,
        request_id=acting.request_id,
        now=now,
        actor_name=acting.actor.name,
        actor_unit=acting.actor.unit,
        purpose=acting.purpose,
    )


async def log_decision(
    tx: LedgerTx,
    *,
    caseworker_id: str,
    who: Actor | None,
    citizen_id: int,
    operation: str,
    request_id: str | None,
    now: datetime,
) -> None:
    """One access-log row for a caseworker's own decision about the citizen's case (an assessment, a work queue's
    item marked resolved), inside the decision's transaction; ``who`` names them for the citizen. No purpose: a
    decision is the caseworker's job, not something done on the citizen's behalf."""
    await tx.log_access(
        caseworker_id=caseworker_id,
        citizen_ids=[citizen_id],
        operation=operation,
        request_id=request_id,
        now=now,
        actor_name=who.name if who is not None else None,
        actor_unit=who.unit if who is not None else None,
    )


class AccessLog:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def record(
        self,
        *,
        caseworker_id: str,
        citizen_ids: Iterable[int | None],
        operation: str,
        request_id: str | None,
        actor: Actor | None = None,
        purpose: str | None = None,
    ) -> None:
        """One row per citizen shown to a caseworker (None: a look-up that found nobody), in its own transaction.
        ``actor`` gives the caseworker's name and unit, for the citizen's view of the log."""
        ids = list(citizen_ids)
        if not ids:
            return
        async with self.ledger.transaction() as tx:
            await tx.log_access(
                caseworker_id=caseworker_id,
                citizen_ids=ids,
                operation=operation,
                request_id=request_id,
                now=utcnow(),
                actor_name=actor.name if actor is not None else None,
                actor_unit=actor.unit if actor is not None else None,
                purpose=purpose,
            )
