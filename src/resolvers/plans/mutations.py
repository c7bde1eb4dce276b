"""Installment plans (afdragsordning) in GraphQL: preview, create, the individual assessment (approve, reject,
counter-offer; the citizen accepts or declines a counter-offer), cancel, and the caseworkers' queue.

Thin: decode the input, call ``gateway.usecases.plans``, and shape the answer (R11, R13, R14 live there).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import strawberry

from gateway.domain.errors import ErrorCode, GatewayError
from gateway.domain.plans import MAX_MONTHS, MIN_MONTHLY_OERE, PlanEvaluation
from gateway.usecases.idempotency import Outcome, Problems
from gateway.usecases.plans import AssessmentRequest, PlanTerms
from resolvers.common import ids
from resolvers.common.acting import actor_of
from resolvers.common.errors import UserError, user_errors
from resolvers.common.types import Connection, Money, check_page, money, paginate
from resolvers.context import Context, Info
from resolvers.plans.types import InstallmentPlan, InstallmentPlanStatus

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
    terms_version: str | None = strawberry.field(
        default=None, description="The version of planTerms shown; checked with acceptTerms, as create would."
    )


@strawberry.input
class CreateInstallmentPlanInput:
    claim_ids: list[strawberry.ID]
    monthly_amount: str = strawberry.field(description='Decimal string in kroner, e.g. "350.00".')
    day_of_month: int
    accept_terms: bool
    idempotency_key: str
    request_assessment: bool = False
    terms_version: str | None = strawberry.field(
        default=None,
        description="The version of planTerms the citizen was shown and accepted; another than the current one is "
        "TERMS_VERSION_OUTDATED. Omitted (older clients): the current version is recorded.",
    )
    assessment_reason: str | None = strawberry.field(
        default=None,
        description="With requestAssessment: why the citizen asks for a longer plan (at most 2,000 characters).",
    )


@strawberry.input
class ApproveInstallmentPlanInput:
    plan_id: strawberry.ID
    note: str = strawberry.field(description="For colleagues only; never shown to the citizen.")
    idempotency_key: str
    message_to_citizen: str | None = strawberry.field(
        default=None, description="Shown to the citizen with the notice that the plan was approved."
    )


@strawberry.input(description="The assessment says no: the plan ends REJECTED and its claims are free again.")
class RejectInstallmentPlanInput:
    plan_id: strawberry.ID
    note: str = strawberry.field(description="For colleagues only; never shown to the citizen.")
    message_to_citizen: str = strawberry.field(description="The reasons, shown to the citizen (required).")
    idempotency_key: str


@strawberry.input(
    description="The assessment offers other terms: a monthly amount, or a number of months (exactly one); at least "
    "350.00 DKK a month either way."
)
class CounterOfferInstallmentPlanInput:
    plan_id: strawberry.ID
    note: str = strawberry.field(description="For colleagues only; never shown to the citizen.")
    message_to_citizen: str = strawberry.field(description="The reasons, shown to the citizen (required).")
    idempotency_key: str
    monthly_amount: str | None = strawberry.field(default=None, description='Decimal string in kroner, e.g. "500.00".')
    months: int | None = strawberry.field(default=None, description="Or: how many months the plan may take.")


@strawberry.input(description="The citizen accepts a counter-offer: the plan becomes ACTIVE on its terms.")
class AcceptCounterOfferInput:
    plan_id: strawberry.ID
    accept_terms: bool
    idempotency_key: str
    terms_version: str | None = strawberry.field(default=None, description="The version of planTerms accepted.")


@strawberry.input(description="The citizen declines a counter-offer: the plan ends and its claims are free again.")
class DeclineCounterOfferInput:
    plan_id: strawberry.ID
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


def _claim_pks(claim_ids: Sequence[str]) -> list[int | None]:
    """The claims' primary keys in input order; None where an ID is not a claim's."""
    return [ids.decode_or_none(gid, "Claim") for gid in claim_ids]


def _check_size(claim_ids: Sequence[str]) -> None:
    if len(claim_ids) > MAX_CLAIMS_PER_PLAN:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_INPUT")


def _range(evaluation: PlanEvaluation) -> PlanRange:
    r = evaluation.range
    return PlanRange(
        minimum_monthly_amount=money(MIN_MONTHLY_OERE),
        lowest_monthly_amount_within_max_months=money(r.min_monthly_oere),
        max_months_without_assessment=MAX_MONTHS,
        months_at_minimum=r.max_months_at_minimum,
        options=[PlanOption(monthly_amount=money(o.monthly_oere), months=o.months) for o in r.options],
    )


def plan_terms_of(input: InstallmentPlanInput | CreateInstallmentPlanInput) -> PlanTerms:
    """What the citizen asks for, from the preview's or create's input (the size of the claim list checked)."""
    _check_size(input.claim_ids)
    return PlanTerms(
        claim_ids=_claim_pks(input.claim_ids),
        monthly_amount=input.monthly_amount,
        day_of_month=input.day_of_month,
        accept_terms=bool(input.accept_terms),
        request_assessment=input.request_assessment,
        terms_version=input.terms_version,
        assessment_reason=input.assessment_reason if isinstance(input, CreateInstallmentPlanInput) else None,
    )


async def preview_for(
    ctx: Context, citizen_id: int | None, input: InstallmentPlanInput, problems: Problems | None = None
) -> InstallmentPlanPreview:
    """The preview of ``input`` for the citizen ``citizen_id`` (their own, or a caseworker's on their behalf);
    ``problems`` found before (a caseworker's missing purpose) come first and make it not allowed."""
    preview = await ctx.services.plans.preview(
        citizen_id, plan_terms_of(input), check_terms=input.accept_terms is not None
    )
    evaluation, monthly = preview.evaluation, preview.monthly_oere
    problems = problems or []
    allowed = preview.allowed and not problems
    return InstallmentPlanPreview(
        allowed=allowed,
        status=InstallmentPlanStatus(evaluation.status) if allowed and evaluation.status else None,
        needs_assessment=evaluation.needs_assessment and monthly is not None,
        principal=money(evaluation.principal_oere),
        monthly_amount=money(monthly) if monthly is not None else None,
        months=evaluation.months if monthly is not None else 0,
        installments=[
            ScheduledInstallment(number=s.number, due_on=s.due_on, amount=money(s.amount_oere))
            for s in (evaluation.schedule if monthly is not None else ())
        ],
        excludes_future_interest=evaluation.excludes_future_interest,
        violations=user_errors([*problems, *preview.errors], ctx.language),
        range=_range(evaluation),
    )


async def preview_installment_plan(info: Info, input: InstallmentPlanInput) -> InstallmentPlanPreview:
    ctx = info.context
    ctx.require_citizen()
    return await preview_for(ctx, await ctx.viewer_citizen_id(), input)


def create_payload_of(input: CreateInstallmentPlanInput) -> dict[str, Any]:
    """The input as the idempotency key's fingerprint sees it."""
    return {
        "claimIds": list(input.claim_ids),
        "monthlyAmount": input.monthly_amount,
        "dayOfMonth": input.day_of_month,
        "acceptTerms": input.accept_terms,
        "requestAssessment": input.request_assessment,
        "termsVersion": input.terms_version,
        "assessmentReason": input.assessment_reason,
    }


async def create_installment_plan(info: Info, input: CreateInstallmentPlanInput) -> InstallmentPlanPayload:
    ctx = info.context
    viewer = ctx.require_citizen()
    outcome = await ctx.services.plans.create(
        actor=viewer.actor_key,
        citizen_id=await ctx.viewer_citizen_id(),
        terms=plan_terms_of(input),
        idempotency_key=input.idempotency_key,
        payload=create_payload_of(input),
    )
    return await plan_payload(ctx, outcome)


def _assessment_of(
    ctx: Context,
    input: ApproveInstallmentPlanInput | RejectInstallmentPlanInput | CounterOfferInstallmentPlanInput,
    fingerprint: dict[str, Any] | None = None,
) -> AssessmentRequest:
    """A caseworker's decision as the use-case takes it: the caseworker, the plan, the note (trimmed) and the message
    to the citizen; ``fingerprint`` adds the decision's own fields to the idempotency key's fingerprint."""
    caseworker = ctx.caseworker()
    note = input.note.strip()
    return AssessmentRequest(
        caseworker_id=caseworker.caseworker_id,
        actor=caseworker.actor_key,
        plan_id=ids.decode_or_none(input.plan_id, "InstallmentPlan"),
        note=note,
        message_to_citizen=input.message_to_citizen,
        idempotency_key=input.idempotency_key,
        payload={
            "planId": input.plan_id,
            "note": note,
            "messageToCitizen": input.message_to_citizen,
            **(fingerprint or {}),
        },
        request_id=ctx.request_id,
        who=actor_of(caseworker),
    )


async def approve_installment_plan(info: Info, input: ApproveInstallmentPlanInput) -> InstallmentPlanPayload:
    """A caseworker's approval after an individual assessment (R11)."""
    ctx = info.context
    outcome = await ctx.services.plans.approve(_assessment_of(ctx, input))
    return await plan_payload(ctx, outcome)


async def reject_installment_plan(info: Info, input: RejectInstallmentPlanInput) -> InstallmentPlanPayload:
    ctx = info.context
    outcome = await ctx.services.plans.reject(_assessment_of(ctx, input))
    return await plan_payload(ctx, outcome)


async def counter_offer_installment_plan(info: Info, input: CounterOfferInstallmentPlanInput) -> InstallmentPlanPayload:
    ctx = info.context
    outcome = await ctx.services.plans.counter_offer(
        _assessment_of(ctx, input, {"monthlyAmount": input.monthly_amount, "months": input.months}),
        monthly_amount=input.monthly_amount,
        months=input.months,
    )
    return await plan_payload(ctx, outcome)


async def accept_counter_offer(info: Info, input: AcceptCounterOfferInput) -> InstallmentPlanPayload:
    ctx = info.context
    viewer = ctx.require_citizen()
    outcome = await ctx.services.plans.accept_counter_offer(
        actor=viewer.actor_key,
        citizen_id=await ctx.viewer_citizen_id(),
        plan_id=ids.decode_or_none(input.plan_id, "InstallmentPlan"),
        accept_terms=input.accept_terms,
        terms_version=input.terms_version,
        idempotency_key=input.idempotency_key,
        payload={"planId": input.plan_id, "acceptTerms": input.accept_terms, "termsVersion": input.terms_version},
    )
    return await plan_payload(ctx, outcome)


async def decline_counter_offer(info: Info, input: DeclineCounterOfferInput) -> InstallmentPlanPayload:
    ctx = info.context
    viewer = ctx.require_citizen()
    outcome = await ctx.services.plans.decline_counter_offer(
        actor=viewer.actor_key,
        citizen_id=await ctx.viewer_citizen_id(),
        plan_id=ids.decode_or_none(input.plan_id, "InstallmentPlan"),
        idempotency_key=input.idempotency_key,
        payload={"planId": input.plan_id},
    )
    return await plan_payload(ctx, outcome)


async def cancel_installment_plan(info: Info, input: CancelInstallmentPlanInput) -> InstallmentPlanPayload:
    """The citizen's own cancellation (a caseworker uses cancelInstallmentPlanOnBehalf, with a purpose)."""
    ctx = info.context
    viewer = ctx.require_citizen()
    outcome = await ctx.services.plans.cancel(
        actor=viewer.actor_key,
        citizen_id=await ctx.viewer_citizen_id(),
        plan_id=ids.decode_or_none(input.plan_id, "InstallmentPlan"),
        idempotency_key=input.idempotency_key,
        payload={"planId": input.plan_id},
    )
    return await plan_payload(ctx, outcome)


async def plan_payload(ctx: Context, outcome: Outcome) -> InstallmentPlanPayload:
    plan = None
    if outcome.ok and "plan" in outcome.result:
        row = await ctx.loaders.plan.load(int(outcome.result["plan"]))
        plan = InstallmentPlan.from_row(row) if row is not None else None
    return InstallmentPlanPayload(plan=plan, user_errors=user_errors(outcome.errors, ctx.language))


async def plans_awaiting_approval(info: Info, first: int | None, after: str | None) -> Connection[InstallmentPlan]:
    ctx = info.context
    caseworker = ctx.caseworker()
    limit, offset = check_page(info, first, after)
    rows = await ctx.services.plans.awaiting_approval()
    page = paginate([InstallmentPlan.from_row(r) for r in rows], limit, offset)
    # The queue shows whose plans they are: a look-up of each of those citizens, logged like any other.
    await ctx.services.access_log.record(
        caseworker_id=caseworker.caseworker_id,
        citizen_ids=[plan.citizen_pk for plan in page.nodes],
        operation="installmentPlansAwaitingApproval",
        request_id=ctx.request_id,
        actor=actor_of(caseworker),
    )
    return page
