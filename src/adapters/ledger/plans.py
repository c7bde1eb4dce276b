"""Writes and locked reads for installment plans (inside the caller's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger.versions import StatusChanges, bump
from gateway.domain.plans import ScheduledInstallment

_claims = m.table(m.Claim)
_entries = m.table(m.LedgerEntry)
_plans = m.table(m.InstallmentPlan)
_plan_claims = m.table(m.PlanClaim)
_installments = m.table(m.Installment)


class PlanStatements:
    """Installment plans' writes and locked reads, on the connection of the caller's transaction."""

    conn: AsyncConnection
    changes: StatusChanges

    async def insert_plan(
        self,
        *,
        citizen_id: int,
        status: str,
        claims: Sequence[tuple[int, int]],
        principal_oere: int,
        monthly_oere: int,
        day_of_month: int,
        schedule: Sequence[ScheduledInstallment],
        excludes_future_interest: bool,
        assessment_requested: bool,
        created_by: str,
        now: datetime,
        terms_version: str | None = None,
        terms_accepted_via: str | None = None,
        assessment_reason: str | None = None,
    ) -> int:
        plan_id = (
            await self.conn.execute(
                insert(_plans)
                .values(
                    citizen_id=citizen_id,
                    status=status,
                    principal_oere=principal_oere,
                    monthly_amount_oere=monthly_oere,
                    months=len(schedule),
                    day_of_month=day_of_month,
                    excludes_future_interest=excludes_future_interest,
                    assessment_requested=assessment_requested,
                    terms_accepted_at=now,
                    terms_version=terms_version,
                    terms_accepted_via=terms_accepted_via,
                    assessment_reason=assessment_reason,
                    created_by=created_by,
                    created_at=now,
                )
                .returning(_plans.c.id)
            )
        ).scalar_one()
        await self.conn.execute(
            insert(_plan_claims),
            [
                {"plan_id": plan_id, "claim_id": cid, "outstanding_oere": amount, "live_claim_id": cid}
                for cid, amount in claims
            ],
        )
        await self.replace_schedule(plan_id, schedule)
        await bump(self.conn, citizens=[citizen_id])
        return int(plan_id)

    async def replace_schedule(self, plan_id: int, schedule: Sequence[ScheduledInstallment]) -> None:
        await self.conn.execute(delete(_installments).where(_installments.c.plan_id == plan_id))
        await self.conn.execute(
            insert(_installments),
            [
                {
                    "plan_id": plan_id,
                    "number": s.number,
                    "due_on": s.due_on,
                    "amount_oere": s.amount_oere,
                    "paid_oere": 0,
                }
                for s in schedule
            ],
        )
        await bump(self.conn, plans=[plan_id])

    async def plan_for_update(self, plan_id: int) -> Row[Any] | None:
        return (await self.conn.execute(select(_plans).where(_plans.c.id == plan_id).with_for_update())).first()

    async def plan_claim_rows(self, plan_id: int) -> list[Row[Any]]:
        stmt = (
            select(_plan_claims.c.claim_id, _plan_claims.c.outstanding_oere, _claims.c.reference)
            .select_from(_plan_claims.join(_claims, _claims.c.id == _plan_claims.c.claim_id))
            .where(_plan_claims.c.plan_id == plan_id)
        )
        return list(await self.conn.execute(stmt))

    async def approve(
        self,
        plan_id: int,
        *,
        by: str,
        note: str,
        now: datetime,
        principal_oere: int,
        months: int,
        message_to_citizen: str | None = None,
    ) -> None:
        await self._move(
            plan_id,
            "ACTIVE",
            approved_by=by,
            approved_at=now,
            approval_note=note,
            principal_oere=principal_oere,
            months=months,
            assessment_outcome="APPROVED",
            assessed_by=by,
            assessed_at=now,
            message_to_citizen=message_to_citizen,
        )

    async def reject(self, plan_id: int, *, by: str, note: str, message_to_citizen: str, now: datetime) -> None:
        """The assessment said no: the plan ends REJECTED and its claims are free again."""
        await self._move(
            plan_id,
            "REJECTED",
            free_claims=True,
            approval_note=note,
            assessment_outcome="REJECTED",
            assessed_by=by,
            assessed_at=now,
            message_to_citizen=message_to_citizen,
            ended_at=now,
            end_reason="REJECTED",
        )

    async def counter_offer(
        self,
        plan_id: int,
        *,
        by: str,
        note: str,
        message_to_citizen: str,
        monthly_oere: int,
        months: int,
        now: datetime,
    ) -> None:
        """The assessment offers other terms; the plan keeps its claims while the citizen considers them."""
        await self._move(
            plan_id,
            "COUNTER_OFFERED",
            approval_note=note,
            assessment_outcome="COUNTER_OFFERED",
            assessed_by=by,
            assessed_at=now,
            message_to_citizen=message_to_citizen,
            counter_offer_monthly_oere=monthly_oere,
            counter_offer_months=months,
        )

    async def accept_counter_offer(
        self,
        plan_id: int,
        *,
        now: datetime,
        principal_oere: int,
        monthly_oere: int,
        months: int,
        terms_version: str,
        terms_accepted_via: str,
    ) -> None:
        """The citizen accepted the counter-offer: its terms become the plan's, in force from now."""
        await self._move(
            plan_id,
            "ACTIVE",
            principal_oere=principal_oere,
            monthly_amount_oere=monthly_oere,
            months=months,
            terms_version=terms_version,
            terms_accepted_via=terms_accepted_via,
            terms_accepted_at=now,
        )

    async def cancel(self, plan_id: int, *, by: str, now: datetime, reason: str | None = None) -> None:
        await self._move(plan_id, "CANCELLED", free_claims=True, cancelled_at=now, cancelled_by=by, end_reason=reason)

    async def _move(self, plan_id: int, status: str, *, free_claims: bool = False, **values: Any) -> None:
        """Set the plan's status and ``values``; free its claims where it ended; bump its version and record the
        change for the subscribers (published after commit)."""
        await self.conn.execute(update(_plans).where(_plans.c.id == plan_id).values(status=status, **values))
        if free_claims:
            await self._free_claims(plan_id)
        await bump(self.conn, plans=[plan_id])
        self.changes.record("plan", plan_id, status)

    async def _free_claims(self, plan_id: int) -> None:
        """The plan's claims are free for a new plan again."""
        await self.conn.execute(
            update(_plan_claims).where(_plan_claims.c.plan_id == plan_id).values(live_claim_id=None)
        )

    async def pending_plans(self) -> list[Row[Any]]:
        stmt = select(_plans).where(_plans.c.status == "PENDING_APPROVAL").order_by(_plans.c.created_at, _plans.c.id)
        return list(await self.conn.execute(stmt))
