"""Writes and locked reads for one-off payments and automatic-payment enrolments (in the caller's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Row, cast, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger import queries
from adapters.ledger.upsert import insert_once
from adapters.ledger.versions import StatusChanges, bump

_claims = m.table(m.Claim)
_entries = m.table(m.LedgerEntry)
_payments = m.table(m.Payment)
_payment_claims = m.table(m.PaymentClaim)
_enrolments = m.table(m.Enrolment)
_enrolment_claims = m.table(m.EnrolmentClaim)
_accounts = m.table(m.MobilePayAccount)
_plans = m.table(m.InstallmentPlan)
_events = m.table(m.WebhookEvent)
_plan_claims = m.table(m.PlanClaim)
_draws = m.table(m.Draw)
_requests = m.table(m.PaymentRequest)
_request_claims = m.table(m.PaymentRequestClaim)


class PaymentStatements:
    """Payments' and enrolments' writes and locked reads, on the connection of the caller's transaction."""

    conn: AsyncConnection
    changes: StatusChanges

    async def claims_with_outstanding(self, claim_ids: Sequence[int], *, lock: bool = False) -> list[Row[Any]]:
        """The claims with owner, outstanding sum and live plan (if any), for the write paths. ``lock`` takes row
        locks on PostgreSQL (SQLite serialises writers with BEGIN IMMEDIATE instead), so racing requests for the
        same claims (plans, payments, enrolments) queue on them."""
        ids = list(claim_ids)
        if lock:
            await self.conn.execute(
                select(_claims.c.id).where(_claims.c.id.in_(ids)).order_by(_claims.c.id).with_for_update()
            )
        sums = (
            select(_entries.c.claim_id, cast(func.sum(_entries.c.amount_oere), BigInteger).label("outstanding_oere"))
            .where(_entries.c.claim_id.in_(ids))
            .group_by(_entries.c.claim_id)
            .subquery()
        )
        stmt = (
            select(
                _claims.c.id,
                _claims.c.citizen_id,
                _claims.c.reference,
                _claims.c.kind,
                _claims.c.due_on,
                func.coalesce(sums.c.outstanding_oere, 0).label("outstanding_oere"),
                _plan_claims.c.plan_id.label("live_plan_id"),
            )
            .select_from(
                _claims.outerjoin(sums, sums.c.claim_id == _claims.c.id).outerjoin(
                    _plan_claims, _plan_claims.c.live_claim_id == _claims.c.id
                )
            )
            .where(_claims.c.id.in_(ids))
        )
        return list(await self.conn.execute(stmt))

    async def entries_for_claims(self, claim_ids: Sequence[int]) -> list[Row[Any]]:
        stmt = (
            select(_entries.c.claim_id, _entries.c.kind, _entries.c.component, _entries.c.amount_oere)
            .where(_entries.c.claim_id.in_(list(claim_ids)))
            .order_by(_entries.c.claim_id, _entries.c.posted_on, _entries.c.id)
        )
        return list(await self.conn.execute(stmt))

    # --- payments ----------------------------------------------------------------------------------------------

    async def insert_payment(
        self,
        *,
        citizen_id: int,
        method: str,
        amount_oere: int,
        return_url: str,
        claim_ids: Sequence[int],
        now: datetime,
    ) -> int:
        payment_id = (
            await self.conn.execute(
                insert(_payments)
                .values(
                    citizen_id=citizen_id,
                    method=method,
                    status="CREATED",
                    amount_oere=amount_oere,
                    return_url=return_url,
                    created_at=now,
                    updated_at=now,
                )
                .returning(_payments.c.id)
            )
        ).scalar_one()
        await self.conn.execute(insert(_payment_claims), [{"payment_id": payment_id, "claim_id": c} for c in claim_ids])
        await bump(self.conn, citizens=[citizen_id])
        return int(payment_id)

    async def insert_payment_request(
        self, *, citizen_id: int, requested_by: str, claim_ids: Sequence[int], now: datetime
    ) -> int:
        """A caseworker's request that the citizen pay these claims (the notice with the link is written apart)."""
        request_id = (
            await self.conn.execute(
                insert(_requests)
                .values(citizen_id=citizen_id, requested_by=requested_by, created_at=now)
                .returning(_requests.c.id)
            )
        ).scalar_one()
        await self.conn.execute(insert(_request_claims), [{"request_id": request_id, "claim_id": c} for c in claim_ids])
        await bump(self.conn, citizens=[citizen_id])
        return int(request_id)

    async def payment_request(self, request_id: int) -> Row[Any] | None:
        return (await self.conn.execute(select(_requests).where(_requests.c.id == request_id))).first()

    async def payment_for_update(self, payment_id: int) -> Row[Any] | None:
        return (
            await self.conn.execute(select(_payments).where(_payments.c.id == payment_id).with_for_update())
        ).first()

    async def payment_claim_ids(self, payment_id: int) -> list[int]:
        rows = await self.conn.execute(
            select(_payment_claims.c.claim_id).where(_payment_claims.c.payment_id == payment_id)
        )
        return [int(r[0]) for r in rows]

    async def set_payment_provider(self, payment_id: int, *, provider_ref: str, redirect_url: str | None) -> None:
        await self.conn.execute(
            update(_payments)
            .where(_payments.c.id == payment_id, _payments.c.provider_ref.is_(None))
            .values(provider_ref=provider_ref, redirect_url=redirect_url)
        )
        await bump(self.conn, payments=[payment_id])

    async def update_payment(self, payment_id: int, **values: Any) -> None:
        await self.conn.execute(update(_payments).where(_payments.c.id == payment_id).values(**values))
        await bump(self.conn, payments=[payment_id])
        if "status" in values:
            self.changes.record("payment", payment_id, values["status"])

    async def post_allocations(
        self,
        *,
        payment_id: int | None = None,
        draw_id: int | None = None,
        posted_on: date,
        text: str,
        allocations: Sequence[tuple[int, str, int]],
        now: datetime,
    ) -> None:
        """One PAYMENT entry per (claim, component, øre) allocation, negative, tagged with the one-off payment
        or the monthly draw that brought the money."""
        if not allocations:
            return
        await self.conn.execute(
            insert(_entries),
            [
                {
                    "claim_id": claim_id,
                    "posted_on": posted_on,
                    "kind": "PAYMENT",
                    "component": component,
                    "text": text,
                    "amount_oere": -amount,
                    "external_ref": None,
                    "payment_id": payment_id,
                    "draw_id": draw_id,
                    "created_at": now,
                }
                for claim_id, component, amount in allocations
            ],
        )
        await bump(self.conn, claims=[claim_id for claim_id, _, _ in allocations])

    async def payments_to_poll(self, *, older_than: datetime, now: datetime, limit: int) -> list[Row[Any]]:
        """Take the open payments (CREATED, AUTHORIZED) the poll asked about least recently (never asked: since
        created), at most ``limit``, and mark them asked ``now``. Every open payment is reached within
        ⌈open / limit⌉ rounds however many are open (the old order, by id, never reached a newer one once
        ``limit`` older ones stayed open). Rows another worker holds are skipped on PostgreSQL, so concurrent
        pollers take different batches (SQLite serialises them)."""
        last_asked = func.coalesce(_payments.c.polled_at, _payments.c.created_at)
        stmt = (
            select(
                _payments.c.id,
                _payments.c.status,
                _payments.c.provider_ref,
                _payments.c.provider_key,
                _payments.c.created_at,
            )
            .where(_payments.c.status.in_(("CREATED", "AUTHORIZED")), _payments.c.created_at < older_than)
            .order_by(last_asked, _payments.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows: list[Row[Any]] = list(await self.conn.execute(stmt))
        if rows:
            # Not a change the citizen can see: no data_version bump (the response cache stays valid).
            await self.conn.execute(
                update(_payments).where(_payments.c.id.in_([r.id for r in rows])).values(polled_at=now)
            )
        return rows

    async def note_payment_refusal(self, payment_id: int, *, refusals: int) -> None:
        """Count one more refusal by the provider (not visible to the citizen: no data_version bump)."""
        await self.conn.execute(
            update(_payments).where(_payments.c.id == payment_id).values(provider_refusals=refusals)
        )

    # --- enrolments --------------------------------------------------------------------------------------------

    async def account(self, account_id: int) -> Row[Any] | None:
        return (await self.conn.execute(select(_accounts).where(_accounts.c.id == account_id))).first()

    async def account_by_provider_ref(self, citizen_id: int, provider_ref: str) -> Row[Any] | None:
        stmt = select(_accounts).where(_accounts.c.citizen_id == citizen_id, _accounts.c.provider_ref == provider_ref)
        return (await self.conn.execute(stmt)).first()

    async def plan(self, plan_id: int) -> Row[Any] | None:
        return (await self.conn.execute(select(_plans).where(_plans.c.id == plan_id).with_for_update())).first()

    async def live_enrolment_conflicts(self, *, claim_ids: Sequence[int], plan_id: int | None) -> bool:
        """True if any claim covered (directly, or through the plan) already has a live enrolment, directly or
        through a live plan it is in: a claim is drawn by at most one automatic payment."""
        covered = set(claim_ids)
        if plan_id is not None:
            if (await self.conn.execute(select(_enrolments.c.id).where(_enrolments.c.live_plan_id == plan_id))).first():
                return True
            plan_claims = select(_plan_claims.c.claim_id).where(_plan_claims.c.plan_id == plan_id)
            covered |= {int(c) for c in (await self.conn.execute(plan_claims)).scalars()}
        if not covered:
            return False
        direct = select(_enrolment_claims.c.claim_id).where(_enrolment_claims.c.live_claim_id.in_(covered))
        if (await self.conn.execute(direct)).first() is not None:
            return True
        through_plan = (
            select(_plan_claims.c.claim_id)
            .join(_enrolments, _enrolments.c.live_plan_id == _plan_claims.c.plan_id)
            .where(_plan_claims.c.live_claim_id.in_(covered))
        )
        return (await self.conn.execute(through_plan)).first() is not None

    async def insert_enrolment(
        self,
        *,
        citizen_id: int,
        kind: str,
        account_id: int | None,
        plan_id: int | None,
        claim_ids: Sequence[int],
        now: datetime,
    ) -> int:
        enrolment_id = (
            await self.conn.execute(
                insert(_enrolments)
                .values(
                    citizen_id=citizen_id,
                    kind=kind,
                    status="PENDING",
                    mobilepay_account_id=account_id,
                    plan_id=plan_id,
                    live_plan_id=plan_id,
                    requested_at=now,
                    provider_sequence=0,
                )
                .returning(_enrolments.c.id)
            )
        ).scalar_one()
        if claim_ids:
            await self.conn.execute(
                insert(_enrolment_claims),
                [{"enrolment_id": enrolment_id, "claim_id": c, "live_claim_id": c} for c in claim_ids],
            )
        await bump(self.conn, citizens=[citizen_id])
        return int(enrolment_id)

    async def enrolment_for_update(self, enrolment_id: int) -> Row[Any] | None:
        return (
            await self.conn.execute(select(_enrolments).where(_enrolments.c.id == enrolment_id).with_for_update())
        ).first()

    async def set_enrolment_provider(
        self, enrolment_id: int, *, provider_ref: str, confirmation_url: str | None
    ) -> None:
        await self.conn.execute(
            update(_enrolments)
            .where(_enrolments.c.id == enrolment_id, _enrolments.c.provider_ref.is_(None))
            .values(provider_ref=provider_ref, confirmation_url=confirmation_url)
        )
        await bump(self.conn, enrolments=[enrolment_id])

    async def update_enrolment(self, enrolment_id: int, *, live: bool, **values: Any) -> None:
        if not live:
            values["live_plan_id"] = None
            await self.conn.execute(
                update(_enrolment_claims)
                .where(_enrolment_claims.c.enrolment_id == enrolment_id)
                .values(live_claim_id=None)
            )
        await self.conn.execute(update(_enrolments).where(_enrolments.c.id == enrolment_id).values(**values))
        await bump(self.conn, enrolments=[enrolment_id])
        if "status" in values:
            self.changes.record("enrolment", enrolment_id, values["status"])

    async def pending_enrolments(self, *, older_than: datetime, limit: int = 200) -> list[Row[Any]]:
        """PENDING enrolments, with the MobilePay account's provider reference (for ones never sent to the provider)."""
        stmt = (
            select(
                _enrolments.c.id,
                _enrolments.c.kind,
                _enrolments.c.provider_ref,
                _accounts.c.provider_ref.label("account_ref"),
            )
            .select_from(_enrolments.outerjoin(_accounts, _accounts.c.id == _enrolments.c.mobilepay_account_id))
            .where(_enrolments.c.status == "PENDING", _enrolments.c.requested_at < older_than)
            .order_by(_enrolments.c.id)
            .limit(limit)
        )
        return list(await self.conn.execute(stmt))

    async def enrolments_to_poll(self, *, older_than: datetime, now: datetime, limit: int) -> list[Row[Any]]:
        """PENDING enrolments the poll asked about least recently, at most ``limit``, marked asked ``now`` (as
        :meth:`payments_to_poll`), with the MobilePay account's provider reference (for ones never sent to the
        provider)."""
        last_asked = func.coalesce(_enrolments.c.polled_at, _enrolments.c.requested_at)
        stmt = (
            select(
                _enrolments.c.id,
                _enrolments.c.kind,
                _enrolments.c.provider_ref,
                _enrolments.c.provider_key,
                _accounts.c.provider_ref.label("account_ref"),
            )
            .select_from(_enrolments.outerjoin(_accounts, _accounts.c.id == _enrolments.c.mobilepay_account_id))
            .where(_enrolments.c.status == "PENDING", _enrolments.c.requested_at < older_than)
            .order_by(last_asked, _enrolments.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=_enrolments)
        )
        rows: list[Row[Any]] = list(await self.conn.execute(stmt))
        if rows:
            await self.conn.execute(
                update(_enrolments).where(_enrolments.c.id.in_([r.id for r in rows])).values(polled_at=now)
            )
        return rows

    # --- webhook events -------------------------------------------------------------------------------------------

    async def record_event(self, *, event_id: str, event_type: str, now: datetime) -> bool:
        """Remember a processed event; False when it was processed before (redelivery)."""
        values = {"event_id": event_id, "event_type": event_type, "received_at": now}
        return await insert_once(self.conn, _events, values, ["event_id"]) is not None

    async def event_seen(self, event_id: str) -> bool:
        return (
            await self.conn.execute(select(_events.c.event_id).where(_events.c.event_id == event_id))
        ).first() is not None

    async def payment_id_by_provider_ref(self, provider_ref: str) -> int | None:
        found = (
            await self.conn.execute(select(_payments.c.id).where(_payments.c.provider_ref == provider_ref))
        ).first()
        return int(found[0]) if found else None

    async def payment_id_by_provider_key(self, provider_key: str) -> int | None:
        found = (
            await self.conn.execute(select(_payments.c.id).where(_payments.c.provider_key == provider_key))
        ).first()
        return int(found[0]) if found else None

    async def draw_id_by_provider_key(self, provider_key: str) -> int | None:
        """The draw whose provider key this is (how a charge webhook that beats our own write finds its draw)."""
        found = (await self.conn.execute(select(_draws.c.id).where(_draws.c.provider_key == provider_key))).first()
        return int(found[0]) if found else None

    async def enrolment_id_by_provider_ref(self, provider_ref: str) -> int | None:
        found = (
            await self.conn.execute(select(_enrolments.c.id).where(_enrolments.c.provider_ref == provider_ref))
        ).first()
        return int(found[0]) if found else None

    async def payment_row(self, payment_id: int) -> Row[Any] | None:
        return (await self.conn.execute(select(_payments).where(_payments.c.id == payment_id))).first()

    async def enrolment_row(self, enrolment_id: int) -> Row[Any] | None:
        return (await self.conn.execute(select(_enrolments).where(_enrolments.c.id == enrolment_id))).first()

    async def live_enrolments_of_plan(self, plan_id: int) -> list[Any]:
        """The plan's live enrolment (at most one), with its provider reference (the read path's query)."""
        return list(await queries.live_enrolments_by_plan_ids(self.conn, [plan_id]))
