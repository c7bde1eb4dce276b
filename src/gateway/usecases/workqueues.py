"""Betalingskontoret's work queues: a caseworker marks an item resolved (``gateway.domain.workqueues``).

The item must be in its queue as the queue shows it now (a failed payment still failed, a lapsed plan still
lapsed), not marked already, and not one only a decision closes; the note for colleagues is required. The mark and
the citizen's access-log row are written in one transaction, under an idempotency key, like every mutation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gateway.domain.acting import Actor
from gateway.domain.clock import today, utcnow
from gateway.domain.errors import UserErrorCode
from gateway.domain.workqueues import Queue, can_be_marked_resolved
from gateway.usecases.access import log_decision
from gateway.usecases.idempotency import Outcome, refused, run_idempotent
from gateway.usecases.plans import text_problem
from gateway.usecases.ports import Ledger, LedgerTx

ITEM_FIELD = ("input", "itemId")
OPERATION = "resolveWorkQueueItem"


@dataclass(frozen=True)
class ResolveRequest:
    """A caseworker marks an item resolved: who (``caseworker_id`` for the mark and the access log, ``actor`` for
    the idempotency key, ``who`` as the citizen's access log names them), which item (its queue and keys; None: the
    id named none), the note, and the idempotency key with the input's fingerprint (``payload``)."""

    caseworker_id: str
    actor: str
    queue: Queue | None
    keys: tuple[int, int] | None
    note: str
    idempotency_key: str
    payload: dict[str, Any]
    request_id: str | None
    who: Actor | None = None


class WorkQueues:
    def __init__(self, ledger: Ledger, *, enrolment_pending_days: int) -> None:
        self.ledger = ledger
        self.enrolment_pending_days = enrolment_pending_days

    async def resolve(self, request: ResolveRequest) -> Outcome:
        """Mark the item resolved; the result names it (``workQueueItem``: its queue and keys)."""
        if request.queue is None or request.keys is None:
            return refused(UserErrorCode.WORK_QUEUE_ITEM_NOT_FOUND, *ITEM_FIELD)
        queue, (key1, key2) = request.queue, request.keys
        if not can_be_marked_resolved(queue):
            return refused(UserErrorCode.WORK_QUEUE_ITEM_DECIDED_ELSEWHERE, *ITEM_FIELD)
        if problems := text_problem(request.note, "note", required=True):
            return Outcome(errors=problems)

        async def work(tx: LedgerTx) -> Outcome:
            now = utcnow()
            item = await tx.work_queue_item(
                queue,
                key1,
                key2,
                today=today(),
                pending_before=now - timedelta(days=self.enrolment_pending_days),
            )
            if item is None:
                return refused(UserErrorCode.WORK_QUEUE_ITEM_NOT_FOUND, *ITEM_FIELD)
            if item.resolved_at is not None:
                return refused(UserErrorCode.WORK_QUEUE_ITEM_ALREADY_RESOLVED, *ITEM_FIELD)
            await tx.mark_work_queue_item_resolved(
                queue=queue,
                key1=key1,
                key2=key2,
                citizen_id=item.citizen_id,
                by=request.caseworker_id,
                name=request.who.name if request.who is not None else None,
                note=request.note,
                now=now,
            )
            await log_decision(
                tx,
                caseworker_id=request.caseworker_id,
                who=request.who,
                citizen_id=item.citizen_id,
                operation=OPERATION,
                request_id=request.request_id,
                now=now,
            )
            return Outcome(result={"workQueueItem": [queue.value, key1, key2]})

        return await run_idempotent(
            self.ledger, request.actor, OPERATION, request.idempotency_key, request.payload, work
        )
