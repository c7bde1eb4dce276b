"""Installments over time (R5, R6, R9, R10, R14): the monthly draws, their outcomes, and plans that complete,
lapse or lose a claim to collection — run as idempotent sweeps by the worker (``gateway worker``).

Exactly once, whatever runs how often: every installment (and every bill enrolled directly) has one draw,
keyed uniquely in the ledger (``draws.draw_key``); the provider's idempotency key and reference are derived
from it; an outcome is applied under the draw's row lock and only when it moves the draw on (versions and
``domain.draws``' transitions), so a charge is posted once; notices and caseworkers' items have unique keys.
Any number of workers may sweep at the same time, and a sweep may stop anywhere: the next one finishes.

The order of a sweep: claims that went to collection leave their plans first (no draw for them), then draws
are created and handed to the provider, outcomes are fetched for draws whose date has passed (webhooks
normally bring them first), unpaid invoices are marked missed, and plans complete or lapse.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import structlog

from gateway.domain.bankdays import add_bank_days
from gateway.domain.clock import today as danish_today
from gateway.domain.clock import utcnow
from gateway.domain.draws import (
    DrawStatus,
    ReportOutcome,
    classify_mobilepay_charge,
    collection_date,
    draw_amount,
    from_mobilepay_charge,
    when_to_create,
)
from gateway.domain.installments import InstallmentLine, installments_paid
from gateway.domain.plan_states import PlanStatus, is_live, should_complete, should_default
from gateway.domain.plan_states import transition as plan_transition
from gateway.domain.plans import build_schedule
from gateway.usecases.enrolments import Enrolments
from gateway.usecases.ports import (
    CollectionStatuses,
    CollectionStatusUnavailable,
    Ledger,
    LedgerTx,
    PaymentProvider,
    ProviderCharge,
    ProviderRejected,
    ProviderUnavailable,
    Row,
)
from gateway.usecases.posting import post_to_claims

log = structlog.get_logger(__name__)

INVOICE = "INVOICE"
# What the citizen's statement says for a draw's money.
DRAW_TEXT = {
    "MOBILEPAY_SUBSCRIPTION": "Afdrag trukket via MobilePay-abonnement",
    "BETALINGSSERVICE": "Afdrag trukket via Betalingsservice",
}
# How far ahead installments are looked at (calendar days; the lead times are bank days, at most 30).
HORIZON_DAYS = 60


@dataclass(frozen=True)
class DrawPolicy:
    """When draws are made and plans lapse (settings ``GATEWAY_DRAW_*``, ``GATEWAY_PLAN_DEFAULT_GRACE_DAYS``)."""

    lead_bank_days: int = 5
    invoice_lead_bank_days: int = 10
    retry_days: int = 3
    grace_days: int = 14
    collection_check_batch: int = 500  # claims whose collection status one sweep asks about (least recently first)


@dataclass
class SweepReport:
    """What one sweep did (the worker logs it; ``gateway simulate`` tabulates it)."""

    charges: int = 0
    instructions: int = 0
    invoices: int = 0
    submitted: int = 0
    charged: int = 0
    failed: int = 0
    missed_invoices: int = 0
    completed: int = 0
    defaulted: int = 0
    claims_left: int = 0
    statuses_recorded: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: SweepReport) -> None:
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class Event:
    """Something the citizen is told about, once (``key``), and what it concerns."""

    code: str
    key: str
    citizen_id: int
    plan_id: int | None
    draw_id: int | None
    claim_id: int | None


async def _tell_both(tx: LedgerTx, event: Event, item_kind: str, now: datetime) -> bool:
    """Tell the citizen, and put an item in the caseworkers' queue; False when that happened before."""
    about = {"plan_id": event.plan_id, "draw_id": event.draw_id, "claim_id": event.claim_id}
    told = await tx.notify_citizen(citizen_id=event.citizen_id, code=event.code, dedupe_key=event.key, now=now, **about)
    await tx.add_caseworker_item(kind=item_kind, dedupe_key=event.key, citizen_id=event.citizen_id, now=now, **about)
    return told


def draw_reference(provider_key: str) -> str:
    """The provider's reference for a draw (also how a webhook that beats our own write finds it): the draw's own
    random key, never its id, so two ledgers on one provider account never collide."""
    return f"RK-DRW-{provider_key}"


def provider_key_from_reference(reference: str) -> str | None:
    tail = reference.removeprefix("RK-DRW-") if reference.startswith("RK-DRW-") else ""
    return tail if re.fullmatch(r"[0-9a-f]{32}", tail) else None


def _lines(installments: Sequence[Row], paid_total: int) -> list[InstallmentLine]:
    paid = installments_paid([r.amount_oere for r in installments], paid_total)
    return [InstallmentLine(r.due_on, r.amount_oere, p) for r, p in zip(installments, paid, strict=True)]


async def unpaid_oere(tx: LedgerTx, draw: Row) -> int:
    """What is still unpaid of what a draw was for: its installment (paid ones fill installments in order), or
    the bill it drew."""
    if draw.plan_id is None:
        claim = next(iter(await tx.claims_with_outstanding([draw.claim_id])), None)
        return max(claim.outstanding_oere, 0) if claim is not None else 0
    installments = await tx.plan_installments(draw.plan_id)
    lines = _lines(installments, await tx.paid_into_plan(draw.plan_id))
    return sum(line.unpaid_oere for i, line in zip(installments, lines, strict=True) if i.id == draw.installment_id)


class Draws:
    def __init__(
        self,
        ledger: Ledger,
        provider: PaymentProvider,
        collection: CollectionStatuses,
        enrolments: Enrolments,
        policy: DrawPolicy,
    ) -> None:
        self.ledger = ledger
        self.provider = provider
        self.collection = collection
        self.enrolments = enrolments
        self.policy = policy

    async def sweep(self) -> SweepReport:
        """Everything that is due today, once."""
        today = danish_today()
        report = SweepReport()
        await self.claims_to_collection(report)
        await self.check_collection_statuses(report)
        await self.create_due(today, report)
        await self.submit(today, report)
        await self.poll(today, report)
        await self.invoices_overdue(today, report)
        await self.lifecycle(today, report)
        return report

    # --- 1. claims that Gældsstyrelsen took leave their plans (R14) ------------------------------------

    async def claims_to_collection(self, report: SweepReport) -> None:
        async with self.ledger.read() as tx:
            held = await tx.live_plan_claims()
        if not held:
            return
        try:
            statuses = await self.collection.statuses(sorted({r.reference for r in held}))
        except CollectionStatusUnavailable:
            report.errors.append("collection status unavailable")
            return  # the next sweep asks again; nothing is drawn for a plan meanwhile that should not be
        await self._record(held, statuses, report)
        for row in held:
            if statuses.get(row.reference) == "AT_COLLECTION" and await self._release(row.plan_id, row.claim_id):
                report.claims_left += 1

    async def check_collection_statuses(self, report: SweepReport) -> None:
        """Ask Gældsstyrelsen about a batch of claims, those never asked about or asked about longest ago first,
        and keep what it says: the caseworkers' portfolio counts claims by this last known status. Every claim is
        reached within ⌈claims ÷ batch⌉ sweeps; one batched call per sweep."""
        async with self.ledger.read() as tx:
            batch = await tx.claims_to_check(limit=self.policy.collection_check_batch)
        if not batch:
            return
        try:
            statuses = await self.collection.statuses([r.reference for r in batch])
        except CollectionStatusUnavailable:
            report.errors.append("collection status unavailable")
            return
        await self._record(batch, statuses, report)

    async def _record(self, rows: Sequence[Any], statuses: Mapping[str, str], report: SweepReport) -> None:
        """Keep what was heard about these claims (rows with ``claim_id`` and ``reference``)."""
        heard = {r.claim_id: statuses[r.reference] for r in rows if statuses.get(r.reference, "UNKNOWN") != "UNKNOWN"}
        if heard:
            async with self.ledger.transaction() as tx:
                await tx.record_collection_statuses(heard, now=utcnow())
            report.statuses_recorded += len(heard)

    async def _release(self, plan_id: int, claim_id: int) -> bool:
        now, today = utcnow(), danish_today()
        async with self.ledger.transaction() as tx:
            plan = await tx.plan_for_update(plan_id)
            if plan is None or not is_live(plan.status):
                return False
            live = await tx.plan_live_claim_ids(plan_id)
            if claim_id not in live:
                return False  # another worker was first
            await tx.release_claim(plan_id, claim_id, reason="AT_COLLECTION", now=now)
            remaining = [c for c in live if c != claim_id]
            await _tell_both(
                tx,
                Event("CLAIM_LEFT_PLAN", f"left:{plan_id}:{claim_id}", plan.citizen_id, plan_id, None, claim_id),
                "CLAIM_LEFT_PLAN",
                now,
            )
            open_draws = await tx.open_draws_of_plan(plan_id)
            for draw in open_draws:  # drawn for the old set of claims: cancelled, and drawn anew below
                await tx.update_draw(draw.id, status=DrawStatus.CANCELLED.value, updated_at=now)
            owed = sum(max(c.outstanding_oere, 0) for c in await tx.claims_with_outstanding(remaining, lock=True))
            if not remaining or owed <= 0:
                ended = plan_transition(plan.status, PlanStatus.CANCELLED)
                await tx.end_plan(plan_id, status=ended, reason="NO_CLAIMS_LEFT", now=now)
            elif plan.status == PlanStatus.ACTIVE:
                schedule = build_schedule(owed, plan.monthly_amount_oere, plan.day_of_month, today)
                await tx.reschedule_undrawn(plan_id, schedule)
        for draw in open_draws:
            await self._cancel_at_provider(draw)
        if not remaining or owed <= 0:
            await self._stop_enrolment(plan_id)
        return True

    # --- 2. draws for what falls due ----------------------------------------------------------------

    async def create_due(self, today: date, report: SweepReport) -> None:
        horizon = today + timedelta(days=HORIZON_DAYS)
        async with self.ledger.read() as tx:
            installments = await tx.installments_without_draw(due_until=horizon)
            bills = await tx.bills_without_draw(due_until=horizon)
        by_plan: dict[int, list[Row]] = defaultdict(list)
        for row in installments:
            by_plan[row.plan_id].append(row)
        for plan_id, rows in by_plan.items():
            # The longer of the two leads: whether it is a charge or an invoice is decided in _draw_plan.
            if any(self._time_to_look(r.due_on, today) for r in rows):
                await self._draw_plan(plan_id, today, report)
        if bills:
            await self._draw_bills(bills, today, report)

    def _time_to_look(self, due_on: date, today: date) -> bool:
        lead = max(self.policy.lead_bank_days, self.policy.invoice_lead_bank_days)
        return when_to_create(due_on, lead) <= today

    def _time_to_create(self, due_on: date, today: date, *, provider: bool) -> bool:
        lead = self.policy.lead_bank_days if provider else self.policy.invoice_lead_bank_days
        return when_to_create(due_on, lead) <= today

    def _collect_on(self, due_on: date, today: date, channel: str) -> date:
        """The collection date; for the provider at least one bank day ahead (a late sweep draws on the next
        possible day rather than never)."""
        day = collection_date(due_on)
        if channel != INVOICE and day <= today:
            day = add_bank_days(today, 1)
        return day

    async def _draw_plan(self, plan_id: int, today: date, report: SweepReport) -> None:
        now = utcnow()
        async with self.ledger.transaction() as tx:
            plan = await tx.plan_for_update(plan_id)
            if plan is None or plan.status != PlanStatus.ACTIVE:
                return
            installments = await tx.plan_installments(plan_id)
            lines = _lines(installments, await tx.paid_into_plan(plan_id))
            claims = await tx.claims_with_outstanding(await tx.plan_live_claim_ids(plan_id), lock=True)
            # Owed by the plan's claims, less what open draws will take already: never draw more than is owed.
            open_draws = await tx.open_draws_of_plan(plan_id)
            owed = sum(max(c.outstanding_oere, 0) for c in claims) - sum(d.amount_oere for d in open_draws)
            enrolment = next(iter(await tx.live_enrolments_of_plan(plan_id)), None)
            channel = enrolment.kind if enrolment is not None and enrolment.status == "ACTIVE" else INVOICE
            drawn = await tx.drawn_installment_ids(plan_id)
            for inst, line in zip(installments, lines, strict=True):
                if inst.id in drawn or not self._time_to_create(inst.due_on, today, provider=channel != INVOICE):
                    continue
                amount = draw_amount(inst.amount_oere, line.paid_oere, owed)
                if amount <= 0:
                    continue  # covered by a one-off payment, or nothing is owed: nothing to draw
                draw_id = await tx.insert_draw(
                    draw_key=f"installment:{inst.id}",
                    citizen_id=plan.citizen_id,
                    plan_id=plan_id,
                    installment_id=inst.id,
                    enrolment_id=enrolment.id if channel != INVOICE and enrolment is not None else None,
                    claim_id=None,
                    channel=channel,
                    status=(DrawStatus.INVOICED if channel == INVOICE else DrawStatus.SCHEDULED).value,
                    amount_oere=amount,
                    due_on=self._collect_on(inst.due_on, today, channel),
                    now=now,
                )
                if draw_id is None:
                    continue
                owed -= amount
                await self._tell_about_new_draw(tx, draw_id, plan.citizen_id, channel, plan_id=plan_id, now=now)
                self._count(report, channel)

    async def _draw_bills(self, bills: Sequence[Row], today: date, report: SweepReport) -> None:
        """Bills enrolled directly: one draw each, of what is owed, unless Gældsstyrelsen holds the claim."""
        due = [b for b in bills if self._time_to_create(b.due_on, today, provider=b.status == "ACTIVE")]
        if not due:
            return
        try:
            statuses = await self.collection.statuses(sorted({b.reference for b in due}))
        except CollectionStatusUnavailable:
            report.errors.append("collection status unavailable")
            return
        now = utcnow()
        for bill in due:
            if statuses.get(bill.reference) != "NOT_AT_COLLECTION" and statuses.get(bill.reference) != "RETURNED":
                continue  # at collection (R14), or unknown: not drawn by us
            channel = bill.kind if bill.status == "ACTIVE" else INVOICE
            async with self.ledger.transaction() as tx:
                claim = next(iter(await tx.claims_with_outstanding([bill.claim_id], lock=True)), None)
                if claim is None or claim.outstanding_oere <= 0:
                    continue
                draw_id = await tx.insert_draw(
                    draw_key=f"bill:{bill.enrolment_id}:{bill.claim_id}",
                    citizen_id=bill.citizen_id,
                    plan_id=None,
                    installment_id=None,
                    enrolment_id=bill.enrolment_id if channel != INVOICE else None,
                    claim_id=bill.claim_id,
                    channel=channel,
                    status=(DrawStatus.INVOICED if channel == INVOICE else DrawStatus.SCHEDULED).value,
                    amount_oere=claim.outstanding_oere,
                    due_on=self._collect_on(bill.due_on, today, channel),
                    now=now,
                )
                if draw_id is not None:
                    await self._tell_about_new_draw(tx, draw_id, bill.citizen_id, channel, plan_id=None, now=now)
                    self._count(report, channel)

    @staticmethod
    def _count(report: SweepReport, channel: str) -> None:
        if channel == INVOICE:
            report.invoices += 1
        elif channel == "BETALINGSSERVICE":
            report.instructions += 1
        else:
            report.charges += 1

    @staticmethod
    async def _tell_about_new_draw(
        tx: LedgerTx, draw_id: int, citizen_id: int, channel: str, *, plan_id: int | None, now: datetime
    ) -> None:
        # R10: an invoice is in Digital Post; R6: check that the draw is taken from the account.
        code = "CHECK_DIGITAL_POST" if channel == INVOICE else "CHECK_DRAW"
        await tx.notify_citizen(
            citizen_id=citizen_id,
            code=code,
            dedupe_key=f"{code}:{draw_id}",
            plan_id=plan_id,
            draw_id=draw_id,
            now=now,
        )

    # --- 3. handing draws to the provider -----------------------------------------------------------

    async def submit(self, today: date, report: SweepReport) -> None:
        async with self.ledger.read() as tx:
            pending = await tx.draws_to_submit()
        for draw in pending:
            try:
                if await self._submit(draw, today):
                    report.submitted += 1
            except ProviderUnavailable:
                report.errors.append("payment provider unavailable")
                return  # the next sweep tries again, with the same idempotency keys

    async def _submit(self, draw: Row, today: date) -> bool:
        now = utcnow()
        if draw.enrolment != "ACTIVE" or draw.agreement_ref is None:
            # The agreement stopped after the draw was made: the installment is invoiced instead (R10).
            await self._to_invoice(draw.id, now)
            return False
        due = draw.due_on if draw.due_on > today else add_bank_days(today, 1)
        try:
            charge = await self.provider.create_charge(
                draw.agreement_ref,
                idempotency_key=f"draw-{draw.provider_key}-{due.isoformat()}",  # the draw's own key: never repeats
                amount_oere=draw.amount_oere,
                due=due,
                retry_days=self.policy.retry_days,
                description="Randers Kommune, afdrag",
                reference=draw_reference(draw.provider_key),
            )
        except ProviderRejected as exc:
            if exc.code == "DUPLICATE_REFERENCE":
                found = await self._find_charge(draw)  # an earlier attempt did reach the provider
                if found is None:
                    raise ProviderUnavailable from exc
                charge = found
            elif exc.code == "AGREEMENT_NOT_ACTIVE":
                await self._to_invoice(draw.id, now)
                return False
            else:
                log.warning("draw.refused", draw=draw.id, code=exc.code)
                raise ProviderUnavailable from exc
        async with self.ledger.transaction() as tx:
            current = await tx.draw_for_update(draw.id)
            if current is not None and current.provider_ref is None:
                await tx.update_draw(draw.id, provider_ref=charge.id, due_on=due, updated_at=now)
        await self.apply_charge(draw.id, charge)
        return True

    async def _find_charge(self, draw: Row) -> ProviderCharge | None:
        for charge in await self.provider.list_charges(draw.agreement_ref):
            if charge.reference == draw_reference(draw.provider_key):
                return charge
        return None

    async def _to_invoice(self, draw_id: int, now: datetime) -> None:
        async with self.ledger.transaction() as tx:
            draw = await tx.draw_for_update(draw_id)
            if draw is None or draw.status != DrawStatus.SCHEDULED or draw.provider_ref is not None:
                return
            await tx.update_draw(draw_id, status=DrawStatus.INVOICED.value, channel=INVOICE, updated_at=now)
            await self._tell_about_new_draw(tx, draw_id, draw.citizen_id, INVOICE, plan_id=draw.plan_id, now=now)

    # --- 4. outcomes ----------------------------------------------------------------------------------

    async def find_draw(self, charge: ProviderCharge) -> int | None:
        async with self.ledger.read() as tx:
            found = await tx.draw_id_by_provider_ref(charge.id)
            # A webhook can beat our own write of the provider's id: the reference names the draw's key too.
            key = provider_key_from_reference(charge.reference)
            if found is None and key is not None:
                found = await tx.draw_id_by_provider_key(key)
        return found

    async def apply_charge(self, draw_id: int, charge: ProviderCharge) -> str:
        """The provider's news about a draw's charge, applied once and in order. Returns the draw's status."""
        now = utcnow()
        tell_failure = False
        async with self.ledger.transaction() as tx:
            draw = await tx.draw_for_update(draw_id)
            if draw is None:
                log.warning("draw.unknown_charge")
                return "UNKNOWN"
            if draw.provider_ref is not None and draw.provider_ref != charge.id:
                log.warning("draw.provider_mismatch", draw=draw_id)
                return str(draw.status)
            try:
                report = classify_mobilepay_charge(
                    draw.status, charge.state, version=charge.version, stored_version=draw.provider_sequence
                )
            except ValueError:
                log.warning("draw.unknown_state", draw=draw_id, state=charge.state)
                return str(draw.status)
            if report is not ReportOutcome.MOVE:
                if report is ReportOutcome.IMPOSSIBLE:
                    log.warning("draw.impossible_report", draw=draw_id, status=draw.status, reported=charge.state)
                return str(draw.status)
            new = from_mobilepay_charge(charge.state)
            values: dict[str, object] = {
                "status": new.value,
                "provider_sequence": charge.version,
                "provider_ref": charge.id,
                "updated_at": now,
            }
            if new is DrawStatus.CHARGED:
                await self._post(tx, draw, charge.captured_oere or draw.amount_oere, now)
                values["settled_at"] = now
            elif new is DrawStatus.FAILED:
                values["failure_reason"] = (charge.failure_reason or "FAILED")[:60]
                values["settled_at"] = now
                tell_failure = True
            await tx.update_draw(draw_id, **values)
            if tell_failure:
                await self._tell_missed(tx, draw, now, kind="DRAW_FAILED")
            log.info("draw.state", draw=draw_id, status=new.value)
            return new.value

    async def _post(self, tx: LedgerTx, draw: Row, amount: int, now: datetime) -> None:
        claim_ids = await tx.plan_live_claim_ids(draw.plan_id) if draw.plan_id is not None else [draw.claim_id]
        unallocated = await post_to_claims(
            tx,
            claim_ids,
            amount,
            text=DRAW_TEXT.get(draw.channel, "Afdrag"),
            now=now,
            draw_id=draw.id,
        )
        if unallocated:
            # The claims owed less than was drawn (paid some other way meanwhile): Betalingskontoret refunds it.
            log.warning("draw.unallocated", draw=draw.id, oere=unallocated)
            await tx.add_caseworker_item(
                kind="REFUND_DUE",
                dedupe_key=f"refund:{draw.id}",
                citizen_id=draw.citizen_id,
                plan_id=draw.plan_id,
                draw_id=draw.id,
                now=now,
            )

    @staticmethod
    async def _tell_missed(tx: LedgerTx, draw: Row, now: datetime, *, kind: str) -> bool:
        """A missed installment: the citizen is told (with what happens if it stays unpaid), and caseworkers
        get an item. False when that happened before."""
        event = Event("DRAW_MISSED", f"missed:{draw.id}", draw.citizen_id, draw.plan_id, draw.id, draw.claim_id)
        return await _tell_both(tx, event, kind, now)

    async def poll(self, today: date, report: SweepReport) -> None:
        """Ask the provider about draws whose date has passed without an outcome (lost webhooks)."""
        async with self.ledger.read() as tx:
            rows = await tx.open_draws(due_before=today + timedelta(days=1))
        for draw in rows:
            try:
                status = await self.apply_charge(draw.id, await self.provider.get_charge(draw.provider_ref))
            except ProviderUnavailable:
                report.errors.append("payment provider unavailable")
                return
            except ProviderRejected as exc:
                log.warning("draw.poll_refused", draw=draw.id, code=exc.code)
                continue
            if status == DrawStatus.CHARGED:
                report.charged += 1
            elif status == DrawStatus.FAILED:
                report.failed += 1

    async def invoices_overdue(self, today: date, report: SweepReport) -> None:
        """An invoice still unpaid after its date: missed (told once, with an item for caseworkers)."""
        async with self.ledger.read() as tx:
            invoices = await tx.overdue_invoices(due_before=today)
        now = utcnow()
        for draw in invoices:
            async with self.ledger.transaction() as tx:
                if await self._unpaid(tx, draw):
                    await self._tell_missed(tx, draw, now, kind="INVOICE_UNPAID")
                    report.missed_invoices += 1

    @staticmethod
    async def _unpaid(tx: LedgerTx, draw: Row) -> bool:
        if draw.plan_id is None:
            claim = next(iter(await tx.claims_with_outstanding([draw.claim_id])), None)
            return claim is not None and claim.outstanding_oere > 0
        installments = await tx.plan_installments(draw.plan_id)
        lines = _lines(installments, await tx.paid_into_plan(draw.plan_id))
        return any(
            i.id == draw.installment_id and not line.is_paid for i, line in zip(installments, lines, strict=True)
        )

    # --- 5. plans that are paid off or not kept -------------------------------------------------------

    async def lifecycle(self, today: date, report: SweepReport) -> None:
        async with self.ledger.read() as tx:
            plans = await tx.live_plans(statuses=(PlanStatus.ACTIVE.value,))
        for plan in plans:
            outcome = await self._decide(plan.id, today)
            if outcome is PlanStatus.COMPLETED:
                report.completed += 1
            elif outcome is PlanStatus.DEFAULTED:
                report.defaulted += 1
            if outcome is not None:
                await self._stop_enrolment(plan.id)

    async def _decide(self, plan_id: int, today: date) -> PlanStatus | None:
        now = utcnow()
        async with self.ledger.transaction() as tx:
            plan = await tx.plan_for_update(plan_id)
            if plan is None or plan.status != PlanStatus.ACTIVE:
                return None
            installments = await tx.plan_installments(plan_id)
            lines = _lines(installments, await tx.paid_into_plan(plan_id))
            claims = await tx.claims_with_outstanding(await tx.plan_live_claim_ids(plan_id))
            open_draws = await tx.open_draws_of_plan(plan_id)
            paid_off = should_complete(plan.status, lines) or (
                bool(claims) and all(c.outstanding_oere <= 0 for c in claims)
            )
            if paid_off and not open_draws:
                await tx.end_plan(
                    plan_id, status=plan_transition(plan.status, PlanStatus.COMPLETED), reason="PAID", now=now
                )
                await tx.notify_citizen(
                    citizen_id=plan.citizen_id,
                    code="PLAN_COMPLETED",
                    dedupe_key=f"completed:{plan_id}",
                    plan_id=plan_id,
                    now=now,
                )
                return PlanStatus.COMPLETED
            if should_default(plan.status, lines, today, self.policy.grace_days):
                lapsed = plan_transition(plan.status, PlanStatus.DEFAULTED)
                await tx.end_plan(plan_id, status=lapsed, reason="INSTALLMENT_UNPAID", now=now)
                for draw in open_draws:
                    await tx.update_draw(draw.id, status=DrawStatus.CANCELLED.value, updated_at=now)
                event = Event("PLAN_DEFAULTED", f"defaulted:{plan_id}", plan.citizen_id, plan_id, None, None)
                await _tell_both(tx, event, "PLAN_DEFAULTED", now)
                cancelled = open_draws
            else:
                return None
        for draw in cancelled:
            await self._cancel_at_provider(draw)
        return PlanStatus.DEFAULTED

    # --- helpers ------------------------------------------------------------------------------------

    async def _cancel_at_provider(self, draw: Row) -> None:
        if draw.provider_ref is None:
            return
        try:
            await self.provider.cancel_charge(draw.provider_ref, idempotency_key=f"cancel-draw-{draw.provider_key}")
        except (ProviderUnavailable, ProviderRejected) as exc:
            # Already charged (its outcome is applied to what is still owed) or the provider is down (the
            # agreement's stop cancels it too).
            log.warning("draw.cancel_failed", draw=draw.id, error=type(exc).__name__)

    async def _stop_enrolment(self, plan_id: int) -> None:
        try:
            await self.enrolments.stop_for_plan(plan_id)
        except Exception as exc:  # noqa: BLE001 - the next sweep or a caseworker finishes it; the plan has ended
            log.warning("plan.enrolment_stop_failed", plan=plan_id, error=type(exc).__name__)
