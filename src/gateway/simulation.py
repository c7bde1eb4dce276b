"""Moving time forward (development and tests): ``gateway simulate --months 12`` takes the plans in the
configured ledger through the coming months against the simulators, day by day, and prints what happened.

Each simulated day moves this process's clock (``gateway.domain.clock``) and the payment simulator's clock
together, then runs the worker's sweep once — exactly what ``gateway worker`` does every day in production.
Running it again over the same months draws nothing twice: the sweep is idempotent.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx

from adapters.gaeldst.simulator import create_demo_app
from adapters.ledger.queries import (
    accounts_by_citizen_ids,
    citizens_by_cprs,
    claims_by_citizen_ids,
    live_mobilepay_agreements,
    plans_by_citizen_ids,
)
from adapters.payments.simulator import create_simulator_app
from adapters.simserver import ThreadedServer, port_of
from gateway.domain import clock
from gateway.domain.money import to_decimal_string
from gateway.domain.plans import MIN_MONTHLY_OERE
from gateway.services import Services, build_services
from gateway.settings import Settings
from gateway.usecases.draws import SweepReport, unpaid_oere
from gateway.usecases.plans import AssessmentRequest, PlanTerms

ANNA, DAVID = "1507804321", "1010005678"
DEMO_CASEWORKER = "cw-1001"
# Betalingsservice takes a while to take effect (R10); the simulation activates a mandate this many days after
# it was requested, as the citizen's bank would.
BETALINGSSERVICE_ACTIVATION_DAYS = 20
# A citizen told that a draw failed pays the installment this many days later (within the grace period).
CITIZEN_REACTS_DAYS = 3

COLUMNS = (
    ("month", 7),
    ("charges", 8),
    ("BS instr.", 9),
    ("invoices", 8),
    ("charged", 8),
    ("failed", 7),
    ("unpaid inv.", 11),
    ("completed", 9),
    ("defaulted", 9),
    ("claims left", 11),
)


@dataclass
class MonthRow:
    month: str
    report: SweepReport = field(default_factory=SweepReport)

    def cells(self) -> list[str]:
        r = self.report
        values = (r.charges, r.instructions, r.invoices, r.charged, r.failed, r.missed_invoices)
        return [self.month, *map(str, values), str(r.completed), str(r.defaulted), str(r.claims_left)]


def table(rows: Sequence[MonthRow]) -> str:
    """A plain-text table (as the closing note and the README show it)."""
    header = " | ".join(name.ljust(width) for name, width in COLUMNS)
    lines = [header, "-+-".join("-" * width for _, width in COLUMNS)]
    total = MonthRow("total")
    for row in rows:
        total.report.add(row.report)
        lines.append(" | ".join(cell.ljust(width) for cell, (_, width) in zip(row.cells(), COLUMNS, strict=True)))
    lines.append(" | ".join(cell.ljust(width) for cell, (_, width) in zip(total.cells(), COLUMNS, strict=True)))
    return "\n".join(lines)


class Simulation:
    """Days, one at a time, for this process and the payment simulator."""

    def __init__(self, services: Services, payments_admin: httpx.AsyncClient) -> None:
        self.services = services
        self.payments_admin = payments_admin  # base URL: the payment simulator
        self.fail_month: int | None = None  # 1-based: in that month, MobilePay charges fail (no money)
        self.citizens_pay = True  # invoices and missed draws are paid by the citizen (see _citizens_pay)

    async def sync_provider_clock(self) -> None:
        response = await self.payments_admin.get("/admin/clock")
        response.raise_for_status()
        theirs = date.fromisoformat(response.json()["today"])
        if theirs < clock.today():
            await self._set_provider_clock(clock.today())
        elif theirs > clock.today():
            clock.travel_to(theirs)  # the simulator was moved before (an earlier simulation): catch up

    async def _set_provider_clock(self, day: date) -> None:
        response = await self.payments_admin.post("/admin/clock", json={"today": day.isoformat()})
        response.raise_for_status()

    async def next_day(self) -> SweepReport:
        """Tomorrow: the provider processes what is due, then the worker's sweep runs once."""
        clock.advance(1)
        await self._set_provider_clock(clock.today())
        await self._banks_accept_mandates()
        report = await self.services.draws.sweep()
        await self.services.provider_events.poll_once(min_age_seconds=0)
        if self.citizens_pay:
            await self._citizens_pay()
        return report

    async def _citizens_pay(self) -> None:
        """Citizens pay an invoice on its due date, and a failed draw a few days after they were told (by card,
        through the payment provider, as ``startPayment`` does)."""
        today = clock.today()
        async with self.services.ledger.read() as tx:
            invoices = await tx.draws_by_status("INVOICED", due_before=today + timedelta(days=1))
            failed = await tx.draws_by_status("FAILED", due_before=today - timedelta(days=CITIZEN_REACTS_DAYS))
            owing = [(d, await unpaid_oere(tx, d)) for d in (*invoices, *failed)]
            claims = {d.id: await tx.plan_live_claim_ids(d.plan_id) if d.plan_id else [d.claim_id] for d, _ in owing}
        for draw, amount in owing:
            if amount <= 0 or not claims[draw.id]:
                continue
            outcome = await self.services.payments.start(
                actor=f"citizen:simulate-{draw.citizen_id}",
                citizen_id=draw.citizen_id,
                claim_ids=claims[draw.id],
                problems=[],
                method="CARD",
                return_url=self.services.enrolments.default_return_url,
                amount=to_decimal_string(amount),
                idempotency_key=f"simulate-pay-{draw.id}",
                payload={"draw": draw.id},
            )
            if not outcome.ok:
                continue
            payment = await self.services.payments.payment(int(outcome.result["payment"]))
            if payment is not None and payment.status == "CREATED" and payment.provider_ref is not None:
                response = await self.payments_admin.post(f"/admin/payments/{payment.provider_ref}/approve")
                response.raise_for_status()
        await self.services.provider_events.poll_once(min_age_seconds=0)

    async def _banks_accept_mandates(self) -> None:
        cutoff = clock.utcnow() - timedelta(days=BETALINGSSERVICE_ACTIVATION_DAYS)
        async with self.services.ledger.read() as tx:
            pending = await tx.pending_enrolments(older_than=cutoff)
        for enrolment in pending:
            if enrolment.provider_ref is not None and enrolment.kind == "BETALINGSSERVICE":
                response = await self.payments_admin.post(f"/admin/agreements/{enrolment.provider_ref}/activate")
                response.raise_for_status()

    async def _fail_charges(self, *, times: int) -> None:
        """The next charge on every active MobilePay subscription fails after the provider's retries."""
        async with self.services.db.read() as conn:
            rows = await live_mobilepay_agreements(conn)
        for provider_ref in rows:
            response = await self.payments_admin.post(
                f"/admin/agreements/{provider_ref}/fail-charges", json={"reason": "INSUFFICIENT_FUNDS", "times": times}
            )
            response.raise_for_status()

    async def months(self, count: int, on_day: Callable[[date, SweepReport], None] | None = None) -> list[MonthRow]:
        """``count`` calendar months from tomorrow, a row per month."""
        await self.sync_provider_clock()
        rows: list[MonthRow] = []
        start = clock.today()
        year, month = start.year, start.month
        for index in range(1, count + 1):
            if index == self.fail_month:
                await self._fail_charges(times=1)
            last = date(year, month, calendar.monthrange(year, month)[1])
            row = MonthRow(f"{year}-{month:02d}")
            while clock.today() < last:
                report = await self.next_day()
                row.report.add(report)
                if on_day is not None:
                    on_day(clock.today(), report)
            rows.append(row)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return rows


async def create_demo_plans(services: Services, payments_admin: httpx.AsyncClient) -> list[str]:
    """When the demo citizens have no live plan: the demo's two plans (as the README describes).

    - Anna Jensen: her open claims that are not at Gældsstyrelsen, repaid within 18 months, by a MobilePay
      subscription from the account she picks in MobilePay ("Budgetkonto").
    - David Larsen: 350.00 DKK a month (35 months) after a caseworker's individual assessment, enrolled in
      Betalingsservice, which takes effect some weeks later (until then installments are invoiced, R10).
    """
    async with services.db.read() as conn:
        citizens = {c.cpr: c for c in await citizens_by_cprs(conn, [ANNA, DAVID])}
        if len(citizens) < 2:
            return ["the demo citizens are not in this ledger (run `gateway seed`)"]
        existing = await plans_by_citizen_ids(conn, [c.id for c in citizens.values()])
        if any(p.status in ("ACTIVE", "PENDING_APPROVAL") for p in existing):
            return []
        claims = await claims_by_citizen_ids(conn, [c.id for c in citizens.values()])
        accounts = await accounts_by_citizen_ids(conn, [citizens[ANNA].id])
    said = []
    for cpr, assessment in ((ANNA, False), (DAVID, True)):
        citizen = citizens[cpr]
        own = [c.id for c in claims if c.citizen_id == citizen.id and c.outstanding_oere > 0]
        terms = PlanTerms(own, to_decimal_string(MIN_MONTHLY_OERE), 1, True, assessment)
        preview = await services.plans.preview(citizen.id, terms, check_terms=True)
        # Only the claims the rules allow (not those at Gældsstyrelsen, R14), at the lowest amount that repays
        # them within 18 months (Anna) or the minimum (David, with an individual assessment).
        allowed = [pk for i, pk in enumerate(own) if not any(f and f[-1] == str(i) for _, f in preview.errors)]
        monthly = MIN_MONTHLY_OERE if assessment else preview.evaluation.range.min_monthly_oere
        terms = PlanTerms(allowed, to_decimal_string(monthly), 1, True, assessment)
        actor = f"citizen:simulate-{citizen.id}"
        outcome = await services.plans.create(
            actor=actor, citizen_id=citizen.id, terms=terms, idempotency_key=f"simulate-plan-{citizen.id}", payload={}
        )
        if not outcome.ok:
            said.append(f"{citizen.name}: no plan ({', '.join(code for code, _ in outcome.errors)})")
            continue
        plan_id = int(outcome.result["plan"])
        if assessment:
            await services.plans.approve(
                AssessmentRequest(
                    caseworker_id=DEMO_CASEWORKER,
                    actor=f"caseworker:{DEMO_CASEWORKER}",
                    plan_id=plan_id,
                    note="Individuel vurdering: afdrag på 350 kr. om måneden godkendt (simulering).",
                    message_to_citizen=None,
                    idempotency_key=f"simulate-approve-{plan_id}",
                    payload={},
                    request_id="simulate",
                )
            )
        kind = "BETALINGSSERVICE" if assessment else "MOBILEPAY_SUBSCRIPTION"
        enrolled = await services.enrolments.enrol(
            actor=actor,
            citizen_id=citizen.id,
            kind=kind,
            claim_ids=[],
            plan_id=plan_id,
            account_id=None if assessment else next((a.id for a in accounts if a.is_default), accounts[0].id),
            return_url=services.enrolments.default_return_url,
            problems=[],
            idempotency_key=f"simulate-enrol-{plan_id}",
            payload={},
        )
        if enrolled.ok and not assessment:
            # The citizen approves in the MobilePay app, picking the budget account there (R4).
            row = await services.enrolments.enrolment(int(enrolled.result["paymentMethod"]))
            chosen = next((a.provider_ref for a in accounts if a.name == "Budgetkonto"), None)
            if row is not None and row.provider_ref is not None:
                response = await payments_admin.post(
                    f"/admin/agreements/{row.provider_ref}/activate",
                    json={"mobilePayAccountRef": chosen} if chosen else {},
                )
                response.raise_for_status()
                await services.provider_events.poll_once(min_age_seconds=0)
        said.append(f"{citizen.name}: plan {plan_id}, {to_decimal_string(monthly)} DKK a month, {kind}")
    return said


async def _reachable(client: httpx.AsyncClient, path: str) -> bool:
    try:
        return (await client.get(path)).status_code < 500
    except httpx.HTTPError:
        return False


async def simulate(settings: Settings, months: int, *, fail_month: int | None = None) -> str:
    """``gateway simulate``: start the simulators unless they run already, make the demo plans if there are
    none, move ``months`` months forward, and return the table of what happened."""
    started: list[ThreadedServer] = []
    settings = settings.model_copy(update={"payments_poll_min_age_seconds": 0.0, "gaeldst_cache_ttl_seconds": 3600})
    async with (
        httpx.AsyncClient(base_url=settings.payments_url, timeout=30) as payments_admin,
        httpx.AsyncClient(base_url=settings.gaeldst_url, timeout=30) as gaeldst_admin,
    ):
        if not await _reachable(payments_admin, "/admin/clock"):
            # No webhooks: the simulation learns every outcome by asking (the worker's status poll).
            app = create_simulator_app(webhook_secret=settings.payments_webhook_secret.get_secret_value().encode())
            started.append(ThreadedServer(app, port=port_of(settings.payments_url)).start())
        if not await _reachable(gaeldst_admin, "/admin/faults"):
            started.append(ThreadedServer(create_demo_app(), port=port_of(settings.gaeldst_url)).start())
        services = build_services(settings)
        try:
            said = await create_demo_plans(services, payments_admin)
            simulation = Simulation(services, payments_admin)
            if fail_month is not None:
                simulation.fail_month = fail_month
            rows = await simulation.months(months)
        finally:
            await services.aclose()
            for server in started:
                server.stop()
    notes = "".join(f"{line}\n" for line in said)
    return f"{notes}\n{table(rows)}\n\nThe ledger now holds these months; the clock is back to today.\n"
