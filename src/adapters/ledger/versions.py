"""What a write changed, for those who keep copies: ``bump`` raises ``citizens.data_version`` for every citizen
whose visible data a write changes (the response cache), and ``StatusChanges`` collects the payments', enrolments'
and plans' new statuses of a transaction (the subscriptions; ``store.SqlLedger`` publishes them once it has
committed).

``bump`` is called inside the writing transaction, by every write function in the ledger adapters. Keyed by
whatever the write has at hand (citizen, claim, plan, payment or enrolment ids), in one UPDATE. Every write that
sets one of those statuses records it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from gateway.usecases.ports import StatusChange, StatusKind

_citizens = m.table(m.Citizen)


async def bump(
    conn: AsyncConnection,
    *,
    citizens: Iterable[int | None] = (),
    claims: Iterable[int] = (),
    plans: Iterable[int] = (),
    payments: Iterable[int] = (),
    enrolments: Iterable[int] = (),
) -> None:
    conditions: list[ColumnElement[bool]] = []
    citizen_ids = [c for c in citizens if c is not None]
    if citizen_ids:
        conditions.append(_citizens.c.id.in_(citizen_ids))
    for model, ids in (
        (m.Claim, list(claims)),
        (m.InstallmentPlan, list(plans)),
        (m.Payment, list(payments)),
        (m.Enrolment, list(enrolments)),
    ):
        if ids:
            conditions.append(_citizens.c.id.in_(select(model.citizen_id).where(model.id.in_(ids))))
    if conditions:
        await conn.execute(update(_citizens).where(or_(*conditions)).values(data_version=_citizens.c.data_version + 1))


async def bump_all(conn: AsyncConnection) -> None:
    """For changes every citizen can see (a department's name or contact details)."""
    await conn.execute(update(_citizens).values(data_version=_citizens.c.data_version + 1))


class StatusChanges:
    """The status changes of one transaction, in the order written (a read connection records none)."""

    def __init__(self) -> None:
        self.items: list[StatusChange] = []

    def record(self, kind: StatusKind, key: int, status: str) -> None:
        self.items.append(StatusChange(kind, key, str(status)))
