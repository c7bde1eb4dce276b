"""What the worker has left to do (the ``gateway_worker_backlog`` gauge; docs/operations.md's alerts)."""

from __future__ import annotations

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from gateway.domain.draws import DrawStatus
from gateway.domain.payment_states import PaymentStatus

BACKLOG_KINDS = ("scheduled", "pending", "open_payments")


async def worker_backlog(conn: AsyncConnection) -> dict[str, int]:
    """Draws not yet handed to the provider (scheduled), draws waiting for their outcome (pending) and
    one-off payments still open, counted in one statement. A backlog that keeps growing means the worker
    or the provider is not keeping up."""
    draws = (
        select(func.lower(m.Draw.status).label("kind"), func.count().label("n"))
        .where(m.Draw.status.in_([DrawStatus.SCHEDULED.value, DrawStatus.PENDING.value]))
        .group_by(m.Draw.status)
    )
    open_payments = select(literal("open_payments").label("kind"), func.count().label("n")).where(
        m.Payment.status.in_([PaymentStatus.CREATED.value, PaymentStatus.AUTHORIZED.value])
    )
    counted = dict.fromkeys(BACKLOG_KINDS, 0)
    for kind, n in await conn.execute(union_all(draws, open_payments)):
        counted[str(kind)] = int(n)
    return counted
