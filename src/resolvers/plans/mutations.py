"""Installment plans (afdragsordning): preview, create, approve, cancel, and the caseworker queue (R11, R13, R14)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.gaeldst.client import GaeldstUnavailable
from adapters.ledger import plans as store
from adapters.ledger.payments import claims_with_outstanding, update_enrolment
from adapters.ledger.queries import live_enrolments_by_plan_ids
from adapters.payments.client import PaymentsRejected, PaymentsUnavailable
from gateway.domain.claims import ClaimKind
from gateway.domain.clock import today, utcnow
from gateway.domain.collection import status_from_agency_state
from gateway.domain.errors import ErrorCode, GatewayError, payments_unavailable
from gateway.domain.money import InvalidAmount, parse_oere
from gateway.domain.plans import (
    FIELD_CLAIM_IDS,
    MAX_MONTHS,
    MIN_MONTHLY_OERE,
    PlanClaim,
    PlanEvaluation,
    build_schedule,
    evaluate_plan,
)
from gateway.domain.viewers import CaseworkerViewer
from resolvers.citizens import write_access_log
from resolvers.common import ids
from resolvers.common.errors import UserError, UserErrorCode, user_error
from resolvers.context import Context, Info
from resolvers.mutations import Outcome, run_idempotent
from resolvers.types import Connection, InstallmentPlan, InstallmentPlanStatus, Money, check_page, money, paginate

MAX_CLAIMS_PER_PLAN = 100


@strawberry.input(description="The plan a citizen is considering (the same fields as createInstallmentPlan).")
class InstallmentPlanInput:
    claim_ids: list[strawberry.ID]
    monthly_amount: str = strawberry.field(description='Decimal string in kroner, e.g. "350.00".')
    day_of_month: int = strawberry.field(description="1–31; clamped to the month's last day.")
    request_assessment: bool = strawberry.field(
        default=False, description="Ask a caseworker for an individual assessment of a plan over 18 months."
    )
    accept_terms: bool | None = strawberry.field(
        default=None, description="Optional: when given, the preview also checks it, as create would."
    )


@strawberry.input
class CreateInstallmentPlanInput:
    claim_ids: list[strawberry.ID]
    monthly_amount: str = strawberry.field(description='Decimal string in kroner, e.g. "350.00".')
    day_of_month: int
    accept_terms: bool
    idempotency_key: str
    request_assessment: bool = False


@strawberry.input
class ApproveInstallmentPlanInput:
    plan_id: strawberry.ID
    note: str
    idempotency_key: str


@strawberry.input
class CancelInstallmentPlanInput:
    plan_id: strawberry.ID
    idempotency_key: str


@strawberry.type
class InstallmentPlanPayload:
    plan: InstallmentPlan | None
    user_errors: list[UserError]


@strawberry.type(description="One installment of a previewed plan.")
class ScheduledInstallment:
    number: int
    due_on: date
    amount: Money


@strawberry.type(description="A monthly amount and how many months it would take.")
class PlanOption:
    monthly_amount: Money
    months: int


@strawberry.type(description="What the citizen can choose between for these claims (as HMRC's payment-plan service).")
class PlanRange:
    minimum_monthly_amount: Money = strawberry.field(description="350.00 DKK; never less (R11).")
    lowest_monthly_amount_within_max_months: Money = strawberry.field(
        description="The lowest monthly amount that repays the claims within 18 months."
    )
    max_months_without_assessment: int
    months_at_minimum: int = strawberry.field(description="How long the plan takes at 350.00 DKK a month.")
    options: list[PlanOption]


@strawberry.type(description="The plan a citizen would get: schedule, whether it is allowed, and why not.")
class InstallmentPlanPreview:
    allowed: bool
    status: InstallmentPlanStatus | None = strawberry.field(
        description="ACTIVE, or PENDING_APPROVAL when it waits for an individual assessment; null when not allowed."
    )
    needs_assessment: bool
    principal: Money
    monthly_amount: Money | None
    months: int
    installments: list[ScheduledInstallment]
    excludes_future_interest: bool
    violations: list[UserError]
    range: PlanRange


# --- shared evaluation -------------------------------------------------------------------------------------


class _Selection:
    """The claims a request names, decoded and loaded, with the problems found on the way."""

    def __init__(self) -> None:
        self.pks: list[int | None] = []
        self.errors: list[tuple[UserErrorCode, list[str] | None]] = []


def _decode_claims(claim_ids: Sequence[str]) -> _Selection:
    sel = _Selection()
    for i, gid in enumerate(claim_ids):
        try:
            sel.pks.append(ids.decode_as(gid, "Claim"))
        except ids.InvalidGlobalId:
            sel.pks.append(None)
            sel.errors.append((UserErrorCode.CLAIM_NOT_FOUND, [*FIELD_CLAIM_IDS, str(i)]))
    return sel


def _parse_terms(monthly_amount: str) -> tuple[int | None, list[tuple[UserErrorCode, list[str] | None]]]:
    try:
        return parse_oere(monthly_amount), []
    except InvalidAmount:
        return None, [(UserErrorCode.INVALID_AMOUNT, ["input", "monthlyAmount"])]


async def _own_references(conn: AsyncConnection, sel: _Selection, citizen_id: int | None) -> list[str]:
    """The references of the selected claims that are the citizen's (only those are asked about)."""
    known = [pk for pk in sel.pks if pk is not None]
    rows = await claims_with_outstanding(conn, known) if known else []
    return [r.reference for r in rows if r.citizen_id == citizen_id]


async def _collection_states(ctx: Context, references: Sequence[str]) -> dict[str, str] | None:
    """Gældsstyrelsen's status per reference as our CollectionStatus names, or None when it cannot be asked."""
    if not references:
        return {}
    try:
        states = await ctx.services.gaeldst.fetch_states(list(references))
    except GaeldstUnavailable:
        return None
    return {ref: status_from_agency_state(s.state.value).value for ref, s in states.items()}


async def _evaluate(
    ctx: Context,
    conn: AsyncConnection,
    sel: _Selection,
    *,
    citizen_id: int | None,
    monthly_oere: int,
    day_of_month: int,
    accept_terms: bool,
    request_assessment: bool,
    check_terms: bool,
    lock: bool,
    collection: dict[str, str] | None,
) -> tuple[PlanEvaluation, list[tuple[UserErrorCode, list[str] | None]], dict[int, Any]]:
    known = [pk for pk in sel.pks if pk is not None]
    rows = {r.id: r for r in await claims_with_outstanding(conn, known, lock=lock)} if known else {}
    errors = list(sel.errors)
    plan_claims: list[PlanClaim] = []
    for i, pk in enumerate(sel.pks):
        row = rows.get(pk) if pk is not None else None
        if row is None or row.citizen_id != citizen_id:
            if pk is not None:  # foreign claims look exactly like unknown ones
                errors.append((UserErrorCode.CLAIM_NOT_FOUND, [*FIELD_CLAIM_IDS, str(i)]))
            continue
        status = "UNKNOWN" if collection is None else collection.get(row.reference, "UNKNOWN")
        plan_claims.append(
            PlanClaim(
                claim_id=str(row.id),
                outstanding_oere=row.outstanding_oere,
                is_open=row.outstanding_oere > 0,
                collection=status,  # type: ignore[arg-type]
                in_active_plan=row.live_plan_id is not None,
                is_resident_deposit_loan=row.kind == ClaimKind.BEBOERINDSKUDSLAAN.value,
            )
        )
    evaluation = evaluate_plan(
        plan_claims if not errors or plan_claims else [],
        monthly_oere=monthly_oere,
        day_of_month=day_of_month,
        accept_terms=accept_terms,
        request_assessment=request_assessment,
        today=today(),
        check_terms=check_terms,
    )
    # Claim indexes in the rule's field paths refer to the claims it saw; map them back to the input's.
    seen_index = [
        i for i, pk in enumerate(sel.pks) if pk is not None and pk in rows and rows[pk].citizen_id == citizen_id
    ]
    for v in evaluation.violations:
        if v.code.value == "NO_CLAIMS_SELECTED" and errors:
            continue  # the claims were named, just not found
        field = list(v.field)
        if len(field) == 3 and field[:2] == list(FIELD_CLAIM_IDS) and field[2].isdigit():
            field[2] = str(seen_index[int(field[2])])
        errors.append((UserErrorCode(v.code.value), field))
    return evaluation, errors, rows


def _range(evaluation: PlanEvaluation) -> PlanRange:
    r = evaluation.range
    return PlanRange(
        minimum_monthly_amount=money(MIN_MONTHLY_OERE),
        lowest_monthly_amount_within_max_months=money(r.min_monthly_oere),
        max_months_without_assessment=MAX_MONTHS,
        months_at_minimum=r.max_months_at_minimum,
        options=[PlanOption(monthly_amount=money(o.monthly_oere), months=o.months) for o in r.options],
    )


# --- preview ------------------------------------------------------------------------------------------------


async def preview_installment_plan(info: Info, input: InstallmentPlanInput) -> InstallmentPlanPreview:
    ctx = info.context
    ctx.require_citizen()
    if len(input.claim_ids) > MAX_CLAIMS_PER_PLAN:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_INPUT")
    citizen_id = await ctx.viewer_citizen_id()
    sel = _decode_claims(input.claim_ids)
    monthly, term_errors = _parse_terms(input.monthly_amount)
    async with ctx.db.read() as conn:
        collection = await _collection_states(ctx, await _own_references(conn, sel, citizen_id))
        evaluation, errors, _ = await _evaluate(
            ctx,
            conn,
            sel,
            citizen_id=citizen_id,
            monthly_oere=monthly or MIN_MONTHLY_OERE,
            day_of_month=input.day_of_month,
            accept_terms=bool(input.accept_terms),
            request_assessment=input.request_assessment,
            check_terms=input.accept_terms is not None,
            lock=False,
            collection=collection,
        )
    if monthly is None:
        errors = term_errors + [e for e in errors if e[0] is not UserErrorCode.MONTHLY_AMOUNT_BELOW_MINIMUM]
    allowed = not errors and evaluation.status is not None
    return InstallmentPlanPreview(
        allowed=allowed,
        status=InstallmentPlanStatus(evaluation.status) if allowed and evaluation.status else None,
        needs_assessment=evaluation.needs_assessment,
        principal=money(evaluation.principal_oere),
        monthly_amount=money(monthly) if monthly is not None else None,
        months=evaluation.months if monthly is not None else 0,
        installments=[
            ScheduledInstallment(number=s.number, due_on=s.due_on, amount=money(s.amount_oere))
            for s in (evaluation.schedule if monthly is not None else ())
        ],
        excludes_future_interest=evaluation.excludes_future_interest,
        violations=[user_error(code, ctx.language, field) for code, field in errors],
        range=_range(evaluation),
    )


# --- create -------------------------------------------------------------------------------------------------


async def create_installment_plan(info: Info, input: CreateInstallmentPlanInput) -> InstallmentPlanPayload:
    ctx = info.context
    viewer = ctx.require_citizen()
    if len(input.claim_ids) > MAX_CLAIMS_PER_PLAN:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_INPUT")
    citizen_id = await ctx.viewer_citizen_id()
    sel = _decode_claims(input.claim_ids)
    monthly, term_errors = _parse_terms(input.monthly_amount)
    payload = {
        "claimIds": list(input.claim_ids),
        "monthlyAmount": input.monthly_amount,
        "dayOfMonth": input.day_of_month,
        "acceptTerms": input.accept_terms,
        "requestAssessment": input.request_assessment,
    }
    # Gældsstyrelsen is asked before the transaction, so no lock is held during the HTTP call.
    async with ctx.db.read() as conn:
        refs = await _own_references(conn, sel, citizen_id)
    collection = await _collection_states(ctx, refs)

    async def work(conn: AsyncConnection) -> Outcome:
        if monthly is None:
            return Outcome(errors=term_errors)
        evaluation, errors, rows = await _evaluate(
            ctx,
            conn,
            sel,
            citizen_id=citizen_id,
            monthly_oere=monthly,
            day_of_month=input.day_of_month,
            accept_terms=input.accept_terms,
            request_assessment=input.request_assessment,
            check_terms=True,
            lock=True,
            collection=collection,
        )
        if errors or evaluation.status is None or citizen_id is None:
            return Outcome(errors=errors or [(UserErrorCode.NOT_ALLOWED, None)])
        claim_pks = list(dict.fromkeys(pk for pk in sel.pks if pk is not None))
        plan_id = await store.insert_plan(
            conn,
            citizen_id=citizen_id,
            status=evaluation.status,
            claims=[(pk, rows[pk].outstanding_oere) for pk in claim_pks],
            principal_oere=evaluation.principal_oere,
            monthly_oere=monthly,
            day_of_month=input.day_of_month,
            schedule=evaluation.schedule,
            excludes_future_interest=evaluation.excludes_future_interest,
            assessment_requested=input.request_assessment,
            created_by=viewer.actor_key,
            now=utcnow(),
        )
        return Outcome(result={"plan": plan_id})

    outcome = await run_idempotent(ctx, "createInstallmentPlan", input.idempotency_key, payload, work)
    return await _payload(ctx, outcome)


async def _payload(ctx: Context, outcome: Outcome) -> InstallmentPlanPayload:
    plan = None
    if outcome.ok and "plan" in outcome.result:
        row = await ctx.loaders.plan.load(int(outcome.result["plan"]))
        plan = InstallmentPlan.from_row(row) if row is not None else None
    return InstallmentPlanPayload(
        plan=plan, user_errors=[user_error(code, ctx.language, field) for code, field in outcome.errors]
    )


# --- approve and cancel -------------------------------------------------------------------------------------


def _plan_pk(global_id: str) -> int | None:
    try:
        return ids.decode_as(global_id, "InstallmentPlan")
    except ids.InvalidGlobalId:
        return None


async def approve_installment_plan(info: Info, input: ApproveInstallmentPlanInput) -> InstallmentPlanPayload:
    """A caseworker's approval after an individual assessment (R11)."""
    ctx = info.context
    caseworker = ctx.require_caseworker()
    plan_pk = _plan_pk(input.plan_id)
    note = input.note.strip()
    payload = {"planId": input.plan_id, "note": note}
    # Gældsstyrelsen is asked before the transaction, so no lock is held during the HTTP call.
    collection: dict[str, str] | None = {}
    if plan_pk is not None:
        async with ctx.db.read() as conn:
            references = [c.reference for c in await store.plan_claim_rows(conn, plan_pk)]
        collection = await _collection_states(ctx, references)

    async def work(conn: AsyncConnection) -> Outcome:
        if plan_pk is None:
            return Outcome(errors=[(UserErrorCode.PLAN_NOT_FOUND, ["input", "planId"])])
        if not note or len(note) > 2000:
            return Outcome(errors=[(UserErrorCode.INVALID_INPUT, ["input", "note"])])
        plan = await store.plan_for_update(conn, plan_pk)
        if plan is None:
            return Outcome(errors=[(UserErrorCode.PLAN_NOT_FOUND, ["input", "planId"])])
        if plan.status != "PENDING_APPROVAL":
            return Outcome(errors=[(UserErrorCode.PLAN_NOT_PENDING, ["input", "planId"])])
        claims = await claims_with_outstanding(conn, [c.claim_id for c in await store.plan_claim_rows(conn, plan_pk)])
        if collection is None:
            return Outcome(errors=[(UserErrorCode.COLLECTION_STATUS_UNAVAILABLE, ["input", "planId"])])
        if any(collection.get(c.reference) == "AT_COLLECTION" for c in claims):
            return Outcome(errors=[(UserErrorCode.CLAIM_AT_COLLECTION, ["input", "planId"])])
        # What is owed now: payments made while the plan waited for approval reduce it.
        principal = sum(max(c.outstanding_oere, 0) for c in claims)
        if principal <= 0:
            return Outcome(errors=[(UserErrorCode.CLAIM_NOT_OPEN, ["input", "planId"])])
        now = utcnow()
        # The schedule starts from the approval, so no installment falls due before the plan is in force.
        schedule = build_schedule(principal, plan.monthly_amount_oere, plan.day_of_month, today())
        await store.replace_schedule(conn, plan_pk, schedule)
        await store.approve(
            conn,
            plan_pk,
            by=caseworker.caseworker_id,
            note=note,
            now=now,
            principal_oere=principal,
            months=len(schedule),
        )
        await write_access_log(ctx, [plan.citizen_id], "approveInstallmentPlan", conn)
        return Outcome(result={"plan": plan_pk})

    outcome = await run_idempotent(ctx, "approveInstallmentPlan", input.idempotency_key, payload, work)
    return await _payload(ctx, outcome)


async def cancel_installment_plan(info: Info, input: CancelInstallmentPlanInput) -> InstallmentPlanPayload:
    ctx = info.context
    viewer = ctx.require_viewer()
    plan_pk = _plan_pk(input.plan_id)
    citizen_id = await ctx.viewer_citizen_id()

    async def work(conn: AsyncConnection) -> Outcome:
        plan = await store.plan_for_update(conn, plan_pk) if plan_pk is not None else None
        if plan is None or (not isinstance(viewer, CaseworkerViewer) and plan.citizen_id != citizen_id):
            return Outcome(errors=[(UserErrorCode.PLAN_NOT_FOUND, ["input", "planId"])])
        if plan.status not in ("PENDING_APPROVAL", "ACTIVE"):
            return Outcome(errors=[(UserErrorCode.PLAN_NOT_CANCELLABLE, ["input", "planId"])])
        await store.cancel(conn, plan.id, by=viewer.actor_key, now=utcnow())
        await write_access_log(ctx, [plan.citizen_id], "cancelInstallmentPlan", conn)  # caseworkers only
        return Outcome(result={"plan": plan.id})

    outcome = await run_idempotent(ctx, "cancelInstallmentPlan", input.idempotency_key, {"planId": input.plan_id}, work)
    if outcome.ok:
        # Also on a replay: a cancelled plan's automatic payment must stop, and a retry finishes the job.
        await _stop_plan_enrolment(ctx, int(outcome.result["plan"]))
    return await _payload(ctx, outcome)


async def _stop_plan_enrolment(ctx: Context, plan_id: int) -> None:
    async with ctx.db.read() as conn:
        live = await live_enrolments_by_plan_ids(conn, [plan_id])
    for enrolment in live:
        try:
            if enrolment.provider_ref is not None:
                await ctx.services.payflow.stop_agreement(enrolment.id, enrolment.provider_ref)
            async with ctx.db.transaction() as conn:
                await update_enrolment(conn, enrolment.id, live=False, status="STOPPED", ended_at=utcnow())
        except (PaymentsUnavailable, PaymentsRejected):
            raise payments_unavailable() from None


# --- caseworker queue -------------------------------------------------------------------------------------


async def plans_awaiting_approval(info: Info, first: int | None, after: str | None) -> Connection[InstallmentPlan]:
    ctx = info.context
    ctx.require_caseworker()
    limit, offset = check_page(info, first, after)
    async with ctx.db.read() as conn:
        rows = await store.pending_plans(conn)
    page = paginate([InstallmentPlan.from_row(r) for r in rows], limit, offset)
    # The queue shows whose plans they are: a look-up of each of those citizens, logged like any other.
    await write_access_log(ctx, [plan.citizen_pk for plan in page.nodes], "installmentPlansAwaitingApproval")
    return page
