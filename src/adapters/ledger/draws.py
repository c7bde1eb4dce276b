"""Installments over time: draws, plans that end, claims that leave a plan, citizens' notices and caseworkers'
items — writes and locked reads on the connection of the caller's transaction.

Every "exactly once" here is a unique key: ``draws.draw_key``, ``citizen_notices.dedupe_key``,
``caseworker_items.dedupe_key``; a second worker's insert finds the row and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, String, and_, cast, delete, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger import queries
from adapters.ledger.upsert import insert_once
from adapters.ledger.versions import StatusChanges, bump
from gateway.domain.plans import ScheduledInstallment

_claims = m.table(m.Claim)
_entries = m.table(m.LedgerEntry)
_plans = m.table(m.InstallmentPlan)
_plan_claims = m.table(m.PlanClaim)
_installments = m.table(m.Installment)
_draws = m.table(m.Draw)
_enrolments = m.table(m.Enrolment)
_enrolment_claims = m.table(m.EnrolmentClaim)
_notices = m.table(m.CitizenNotice)
_items = m.table(m.CaseworkerItem)


class DrawStatements:
    conn: AsyncConnection
    changes: StatusChanges

    # --- what is due ------------------------------------------------------------------------------------

    async def installments_without_draw(self, *, due_until: date, limit: int = 500) -> list[Row[Any]]:
        """Installments of ACTIVE plans falling due by ``due_until`` that have no draw yet (plan id, citizen id,
        installment id, number, due_on, amount_oere), oldest first."""
        stmt = (
            select(
                _installments.c.id,
                _installments.c.plan_id,
                _installments.c.number,
                _installments.c.due_on,
                _installments.c.amount_oere,
                _plans.c.citizen_id,
            )
            .select_from(
                _installments.join(_plans, _plans.c.id == _installments.c.plan_id).outerjoin(
                    _draws, _draws.c.installment_id == _installments.c.id
                )
            )
            .where(_plans.c.status == "ACTIVE", _installments.c.due_on <= due_until, _draws.c.id.is_(None))
            .order_by(_installments.c.due_on, _installments.c.id)
            .limit(limit)
        )
        return list(await self.conn.execute(stmt))

    async def bills_without_draw(self, *, due_until: date, limit: int = 500) -> list[Row[Any]]:
        """Claims enrolled directly (not through a plan) in a live enrolment, falling due by ``due_until``, that
        have no draw under that enrolment yet (enrolment id, kind, status, citizen id, claim id, reference,
        due_on)."""
        key = literal("bill:", String) + cast(_enrolments.c.id, String) + ":" + cast(_claims.c.id, String)
        stmt = (
            select(
                _enrolments.c.id.label("enrolment_id"),
                _enrolments.c.kind,
                _enrolments.c.status,
                _enrolments.c.provider_ref,
                _enrolments.c.citizen_id,
                _claims.c.id.label("claim_id"),
                _claims.c.reference,
                _claims.c.due_on,
            )
            .select_from(
                _enrolment_claims.join(_enrolments, _enrolments.c.id == _enrolment_claims.c.enrolment_id)
                .join(_claims, _claims.c.id == _enrolment_claims.c.claim_id)
                .outerjoin(_draws, _draws.c.draw_key == key)
            )
            .where(
                _enrolment_claims.c.live_claim_id.is_not(None),
                _enrolments.c.plan_id.is_(None),
                _claims.c.due_on <= due_until,
                _draws.c.id.is_(None),
            )
            .order_by(_claims.c.due_on, _claims.c.id)
            .limit(limit)
        )
        return list(await self.conn.execute(stmt))

    async def drawn_installment_ids(self, plan_id: int) -> set[int]:
        stmt = select(_draws.c.installment_id).where(_draws.c.plan_id == plan_id, _draws.c.installment_id.is_not(None))
        return {int(r.installment_id) for r in await self.conn.execute(stmt)}

    async def plan_installments(self, plan_id: int) -> list[Any]:
        """A plan's installments, by number (the read path's query, for one plan)."""
        return list(await queries.installments_by_plan_ids(self.conn, [plan_id]))

    async def plan_live_claim_ids(self, plan_id: int) -> list[int]:
        stmt = select(_plan_claims.c.claim_id).where(
            _plan_claims.c.plan_id == plan_id, _plan_claims.c.live_claim_id.is_not(None)
        )
        return [r.claim_id for r in await self.conn.execute(stmt)]

    async def paid_into_plan(self, plan_id: int) -> int:
        """What was paid on the plan's claims since the plan was made (the read path's query, for one plan)."""
        rows = await queries.paid_into_plans(self.conn, [plan_id])
        return rows[0].paid_oere if rows else 0

    async def live_plans(self, *, statuses: Sequence[str] = ("ACTIVE",)) -> list[Row[Any]]:
        stmt = select(_plans).where(_plans.c.status.in_(list(statuses))).order_by(_plans.c.id)
        return list(await self.conn.execute(stmt))

    async def live_plan_claims(self) -> list[Row[Any]]:
        """Every claim held by a live (pending or active) plan: plan id, citizen id, claim id, reference."""
        stmt = (
            select(_plan_claims.c.plan_id, _plans.c.citizen_id, _claims.c.id.label("claim_id"), _claims.c.reference)
            .select_from(
                _plan_claims.join(_plans, _plans.c.id == _plan_claims.c.plan_id).join(
                    _claims, _claims.c.id == _plan_claims.c.claim_id
                )
            )
            .where(_plan_claims.c.live_claim_id.is_not(None))
            .order_by(_plans.c.citizen_id, _plan_claims.c.plan_id, _plan_claims.c.claim_id)
        )
        return list(await self.conn.execute(stmt))

    # --- draws ------------------------------------------------------------------------------------------

    async def insert_draw(
        self,
        *,
        draw_key: str,
        citizen_id: int,
        plan_id: int | None,
        installment_id: int | None,
        enrolment_id: int | None,
        claim_id: int | None,
        channel: str,
        status: str,
        amount_oere: int,
        due_on: date,
        now: datetime,
    ) -> int | None:
        """The new draw's id, or None when the key was drawn already (by this or another worker)."""
        draw_id = await insert_once(
            self.conn,
            _draws,
            {
                "draw_key": draw_key,
                "citizen_id": citizen_id,
                "plan_id": plan_id,
                "installment_id": installment_id,
                "enrolment_id": enrolment_id,
                "claim_id": claim_id,
                "channel": channel,
                "status": status,
                "amount_oere": amount_oere,
                "due_on": due_on,
                "provider_sequence": 0,
                "created_at": now,
                "updated_at": now,
            },
            ["draw_key"],
        )
        if draw_id is not None:
            await bump(self.conn, citizens=[citizen_id])
        return draw_id

    async def draw_row(self, draw_id: int) -> Row[Any] | None:
        return (await self.conn.execute(select(_draws).where(_draws.c.id == draw_id))).first()

    async def draw_for_update(self, draw_id: int) -> Row[Any] | None:
        stmt = select(_draws).where(_draws.c.id == draw_id).with_for_update()
        return (await self.conn.execute(stmt)).first()

    async def draw_id_by_provider_ref(self, provider_ref: str) -> int | None:
        row = (await self.conn.execute(select(_draws.c.id).where(_draws.c.provider_ref == provider_ref))).first()
        return int(row.id) if row is not None else None

    async def update_draw(self, draw_id: int, **values: Any) -> None:
        citizen = (
            await self.conn.execute(
                update(_draws).where(_draws.c.id == draw_id).values(**values).returning(_draws.c.citizen_id)
            )
        ).first()
        if citizen is not None:
            await bump(self.conn, citizens=[citizen.citizen_id])

    async def draws_to_submit(self, *, limit: int = 500) -> list[Row[Any]]:
        """Draws created here but not (yet) accepted by the provider: it was down, or a worker stopped between
        the two steps. Submitting again is safe (the provider's idempotency key is the draw's)."""
        stmt = (
            select(_draws, _enrolments.c.provider_ref.label("agreement_ref"), _enrolments.c.status.label("enrolment"))
            .select_from(_draws.join(_enrolments, _enrolments.c.id == _draws.c.enrolment_id))
            .where(_draws.c.status == "SCHEDULED", _draws.c.provider_ref.is_(None))
            .order_by(_draws.c.due_on, _draws.c.id)
            .limit(limit)
        )
        return list(await self.conn.execute(stmt))

    async def open_draws(self, *, due_before: date, limit: int = 500) -> list[Row[Any]]:
        """Draws at the provider without an outcome whose collection date has passed (for the status poll)."""
        stmt = (
            select(_draws)
            .where(
                _draws.c.status.in_(["SCHEDULED", "PENDING"]),
                _draws.c.provider_ref.is_not(None),
                _draws.c.due_on < due_before,
            )
            .order_by(_draws.c.due_on, _draws.c.id)
            .limit(limit)
        )
        return list(await self.conn.execute(stmt))

    async def open_draws_of_plan(self, plan_id: int) -> list[Row[Any]]:
        stmt = select(_draws).where(_draws.c.plan_id == plan_id, _draws.c.status.in_(["SCHEDULED", "PENDING"]))
        return list(await self.conn.execute(stmt))

    async def overdue_invoices(self, *, due_before: date, limit: int = 500) -> list[Row[Any]]:
        """Invoices past their date, for bills or for plans still ACTIVE (when a plan has ended, its invoices are
        no longer what the citizen owes: the whole debt is)."""
        stmt = (
            select(_draws)
            .select_from(_draws.outerjoin(_plans, _plans.c.id == _draws.c.plan_id))
            .where(
                _draws.c.status == "INVOICED",
                _draws.c.due_on < due_before,
                or_(_draws.c.plan_id.is_(None), _plans.c.status == "ACTIVE"),
            )
            .order_by(_draws.c.due_on, _draws.c.id)
            .limit(limit)
        )
        return list(await self.conn.execute(stmt))

    async def draws_by_status(self, status: str, *, due_before: date, limit: int = 500) -> list[Row[Any]]:
        stmt = (
            select(_draws)
            .where(_draws.c.status == status, _draws.c.due_on < due_before)
            .order_by(_draws.c.due_on, _draws.c.id)
            .limit(limit)
        )
        return list(await self.conn.execute(stmt))

    # --- plans over time --------------------------------------------------------------------------------

    async def end_plan(self, plan_id: int, *, status: str, reason: str, now: datetime) -> None:
        """COMPLETED or DEFAULTED (or ended because nothing is left in it): its claims are free again."""
        await self.conn.execute(
            update(_plans).where(_plans.c.id == plan_id).values(status=status, ended_at=now, end_reason=reason)
        )
        await self.conn.execute(
            update(_plan_claims).where(_plan_claims.c.plan_id == plan_id).values(live_claim_id=None)
        )
        await bump(self.conn, plans=[plan_id])
        self.changes.record("plan", plan_id, status)

    async def release_claim(self, plan_id: int, claim_id: int, *, reason: str, now: datetime) -> None:
        """The claim leaves the plan (R14: Gældsstyrelsen took it); no further draw is for it."""
        await self.conn.execute(
            update(_plan_claims)
            .where(and_(_plan_claims.c.plan_id == plan_id, _plan_claims.c.claim_id == claim_id))
            .values(live_claim_id=None, left_at=now, left_reason=reason)
        )
        await bump(self.conn, plans=[plan_id])

    async def reschedule_undrawn(self, plan_id: int, schedule: Sequence[ScheduledInstallment]) -> None:
        """Replace the installments that have no draw yet, or only a cancelled one, with ``schedule`` (numbered
        after the drawn ones). A cancelled draw stays on record, detached from the installment it replaced."""
        installments = select(_installments.c.id).where(_installments.c.plan_id == plan_id).scalar_subquery()
        # The key is freed too (SQLite may give a new installment the id of a deleted one).
        await self.conn.execute(
            update(_draws)
            .where(_draws.c.installment_id.in_(installments), _draws.c.status == "CANCELLED")
            .values(installment_id=None, draw_key=_draws.c.draw_key + "#cancelled-" + cast(_draws.c.id, String))
        )
        drawn = select(_draws.c.installment_id).where(_draws.c.installment_id.is_not(None)).scalar_subquery()
        await self.conn.execute(
            delete(_installments).where(_installments.c.plan_id == plan_id, _installments.c.id.not_in(drawn))
        )
        last = (
            await self.conn.execute(
                select(func.coalesce(func.max(_installments.c.number), 0)).where(_installments.c.plan_id == plan_id)
            )
        ).scalar_one()
        if schedule:
            await self.conn.execute(
                insert(_installments),
                [
                    {
                        "plan_id": plan_id,
                        "number": int(last) + i,
                        "due_on": s.due_on,
                        "amount_oere": s.amount_oere,
                        "paid_oere": 0,
                    }
                    for i, s in enumerate(schedule, start=1)
                ],
            )
        months = (await self.conn.execute(select(func.count()).where(_installments.c.plan_id == plan_id))).scalar_one()
        await self.conn.execute(update(_plans).where(_plans.c.id == plan_id).values(months=int(months)))
        await bump(self.conn, plans=[plan_id])

    # --- telling people -------------------------------------------------------------------------------

    async def notify_citizen(
        self,
        *,
        citizen_id: int,
        code: str,
        dedupe_key: str,
        now: datetime,
        plan_id: int | None = None,
        draw_id: int | None = None,
        claim_id: int | None = None,
        payment_request_id: int | None = None,
    ) -> bool:
        """Record a notice once (False when it was recorded before)."""
        new = await insert_once(
            self.conn,
            _notices,
            {
                "citizen_id": citizen_id,
                "code": code,
                "dedupe_key": dedupe_key,
                "plan_id": plan_id,
                "draw_id": draw_id,
                "claim_id": claim_id,
                "payment_request_id": payment_request_id,
                "created_at": now,
            },
            ["dedupe_key"],
        )
        if new is not None:
            await bump(self.conn, citizens=[citizen_id])
        return new is not None

    async def add_caseworker_item(
        self,
        *,
        kind: str,
        dedupe_key: str,
        citizen_id: int,
        now: datetime,
        plan_id: int | None = None,
        draw_id: int | None = None,
        claim_id: int | None = None,
    ) -> bool:
        """Put an item in Betalingskontoret's queues once (False when it was there before)."""
        new = await insert_once(
            self.conn,
            _items,
            {
                "kind": kind,
                "dedupe_key": dedupe_key,
                "citizen_id": citizen_id,
                "plan_id": plan_id,
                "draw_id": draw_id,
                "claim_id": claim_id,
                "created_at": now,
            },
            ["dedupe_key"],
        )
        return new is not None
