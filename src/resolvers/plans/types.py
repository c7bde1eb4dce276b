"""Installment plans (afdragsordning) in GraphQL: InstallmentPlan and its Installments."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from enum import Enum

import strawberry

from adapters.ledger.queries import CitizenRow, EnrolmentRow, PlanRow
from gateway.domain.clock import today
from gateway.domain.enrolments import EnrolmentStatus, installment_channel
from gateway.domain.installments import InstallmentStatus, installment_status, installments_paid
from gateway.domain.terms import CURRENT_TERMS_VERSION, terms_text
from gateway.domain.viewers import CaseworkerViewer
from resolvers.claims.types import Claim, load_claims
from resolvers.common import ids
from resolvers.common.lazy import LazyNode
from resolvers.common.types import Money, Node, money
from resolvers.context import Info
from resolvers.loaders.base import present
from resolvers.plans.draws import Draw, next_draw

# A plan shows its citizen and its automatic payment, whose packages are above this one.
_CITIZEN = LazyNode[CitizenRow]("resolvers.citizens.types", "Citizen")
_PAYMENT_METHOD = LazyNode[EnrolmentRow]("resolvers.payments.types", "PaymentMethod")

strawberry.enum(InstallmentStatus)


@strawberry.enum
class InstallmentPlanStatus(Enum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    DEFAULTED = "DEFAULTED"
    CANCELLED = "CANCELLED"
    COUNTER_OFFERED = "COUNTER_OFFERED"  # the assessment offered other terms; the citizen accepts or declines
    REJECTED = "REJECTED"  # the assessment said no; the claims are free again


@strawberry.enum(description="How the citizen accepted the plan's terms.")
class TermsChannel(Enum):
    ONLINE = "ONLINE"  # their own click
    PHONE = "PHONE"  # on the phone with a caseworker, who recorded it


@strawberry.enum(description="What the individual assessment decided.")
class AssessmentOutcome(Enum):
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    COUNTER_OFFERED = "COUNTER_OFFERED"


@strawberry.type(description="The terms of an installment plan, in the request's language (R11).")
class PlanTerms:
    version: str = strawberry.field(description="Stored with every plan made on these terms.")
    text: str
    current: bool = strawberry.field(description="Whether these are the terms a new plan is made on.")


@strawberry.type(description="What a caseworker offered instead of the plan the citizen asked for.")
class CounterOffer:
    monthly_amount: Money = strawberry.field(description="At least 350.00 DKK (R11).")
    months: int = strawberry.field(description="How long it takes on what the claims owed when it was offered.")


@strawberry.type(description="The individual assessment of a plan longer than 18 months (R11).")
class PlanAssessment:
    reason: str | None = strawberry.field(description="The citizen's reason for asking.")
    outcome: AssessmentOutcome | None = strawberry.field(description="Null while the plan waits for it.")
    decided_at: datetime | None
    decided_by: str | None = strawberry.field(description="The caseworker's id.")
    message_to_citizen: str | None = strawberry.field(
        description="The caseworker's message (and reasons) to the citizen."
    )
    counter_offer: CounterOffer | None
    note: strawberry.Private[str | None]

    @strawberry.field(
        description="The caseworkers' internal note for colleagues. Caseworkers only: null for the citizen."
    )
    def internal_note(self, info: Info) -> str | None:
        return self.note if isinstance(info.context.viewer, CaseworkerViewer) else None


@strawberry.enum
class InstallmentChannel(Enum):
    AUTOMATIC = "AUTOMATIC"
    INVOICE = "INVOICE"


@strawberry.type(description="One monthly installment of a plan.")
class Installment(Node):
    number: int
    due_on: date
    amount: Money
    paid: Money
    status: InstallmentStatus
    channel: InstallmentChannel = strawberry.field(
        description="AUTOMATIC when an ACTIVE enrolment covers the plan; otherwise an invoice in Digital Post (R10)."
    )
    draw: Draw | None = strawberry.field(description="How it is (being) collected, once that has started.")
    pk: strawberry.Private[int] = 0


@strawberry.type(description="An installment plan (afdragsordning).")
class InstallmentPlan(Node):
    status: InstallmentPlanStatus
    principal: Money
    monthly_amount: Money
    months: int
    day_of_month: int
    excludes_future_interest: bool = strawberry.field(
        description="True when a beboerindskudslån is included: interest accruing after the plan "
        "is not part of it (R13)."
    )
    assessment_requested: bool
    terms_accepted_at: datetime
    created_at: datetime
    created_by: str
    approved_by: str | None
    approved_at: datetime | None
    cancelled_at: datetime | None
    ended_at: datetime | None = strawberry.field(
        description="When it became COMPLETED or DEFAULTED, or ran out of claims."
    )
    terms_version: str | None = strawberry.field(
        description="The version of the terms (planTerms) the citizen accepted; null for plans made before terms "
        "were versioned."
    )
    terms_accepted_via: TermsChannel | None
    assessment: PlanAssessment | None = strawberry.field(
        description="The individual assessment, when one was asked for (or made)."
    )
    pk: strawberry.Private[int]
    citizen_pk: strawberry.Private[int]
    status_raw: strawberry.Private[str]
    note: strawberry.Private[str | None]

    @strawberry.field(
        description="The caseworkers' internal note on the assessment. Caseworkers only: null for the citizen "
        "(the citizen reads assessment.messageToCitizen).",
        deprecation_reason="Use assessment { internalNote messageToCitizen }.",
    )
    def approval_note(self, info: Info) -> str | None:
        return self.note if isinstance(info.context.viewer, CaseworkerViewer) else None

    @strawberry.field(description="The text of the terms the citizen accepted, in the request's language.")
    def terms(self, info: Info) -> PlanTerms | None:
        return plan_terms(self.terms_version, info) if self.terms_version else None

    @classmethod
    def from_row(cls, r: PlanRow) -> InstallmentPlan:
        return cls(
            id=strawberry.ID(ids.encode("InstallmentPlan", r.id)),
            status=InstallmentPlanStatus(r.status),
            principal=money(r.principal_oere),
            monthly_amount=money(r.monthly_amount_oere),
            months=r.months,
            day_of_month=r.day_of_month,
            excludes_future_interest=r.excludes_future_interest,
            assessment_requested=r.assessment_requested,
            terms_accepted_at=r.terms_accepted_at,
            created_at=r.created_at,
            created_by=r.created_by,
            approved_by=r.approved_by,
            approved_at=r.approved_at,
            cancelled_at=r.cancelled_at,
            ended_at=r.ended_at,
            terms_version=r.terms_version,
            terms_accepted_via=TermsChannel(r.terms_accepted_via) if r.terms_accepted_via else None,
            assessment=_assessment(r),
            pk=r.id,
            citizen_pk=r.citizen_id,
            status_raw=r.status,
            note=r.approval_note,
        )

    @strawberry.field(description="The citizen the plan belongs to.", graphql_type=_CITIZEN.graphql_type)
    async def citizen(self, info: Info) -> Node:
        return _CITIZEN.build(present(await info.context.loaders.citizen.load(self.citizen_pk)))

    @strawberry.field
    async def claims(self, info: Info) -> list[Claim]:
        links = await info.context.loaders.plan_claims.load(self.pk)
        return await load_claims(info, (link.claim_id for link in links))

    @strawberry.field(
        description="The live automatic-payment enrolment covering this plan (R9), if any.",
        graphql_type=_PAYMENT_METHOD.graphql_type | None,
    )
    async def payment_method(self, info: Info) -> Node | None:
        rows = await info.context.loaders.live_enrolment_by_plan.load(self.pk)
        return _PAYMENT_METHOD.build(rows[0]) if rows else None

    @strawberry.field
    async def installments(self, info: Info) -> list[Installment]:
        return await self.load_installments(info)

    @strawberry.field(description="Every collection of the plan's installments, by date (R6).")
    async def draws(self, info: Info) -> list[Draw]:
        return [Draw.from_row(r) for r in await info.context.loaders.draws_by_plan.load(self.pk)]

    @strawberry.field(description="The next collection to look for on the account (or invoice), if any (R6, R10).")
    async def next_draw(self, info: Info) -> Draw | None:
        # An invoice the citizen has paid already is nothing to look for any more.
        paid = {i.pk for i in await self.load_installments(info) if i.status is InstallmentStatus.PAID}
        rows = await info.context.loaders.draws_by_plan.load(self.pk)
        return next_draw([r for r in rows if r.installment_id not in paid], today())

    async def load_installments(self, info: Info) -> list[Installment]:
        loaders = info.context.loaders
        rows, enrolment, paid_rows, draw_rows = await asyncio.gather(
            loaders.installments_by_plan.load(self.pk),
            loaders.live_enrolment_by_plan.load(self.pk),
            loaders.paid_into_plan.load(self.pk),
            loaders.draws_by_plan.load(self.pk),
        )
        channel = InstallmentChannel(installment_channel(EnrolmentStatus(enrolment[0].status) if enrolment else None))
        draws = {d.installment_id: d for d in draw_rows if d.installment_id is not None}
        now = today()
        # What has been paid on the plan's claims since it was made fills its installments in order.
        paid = installments_paid([r.amount_oere for r in rows], paid_rows[0].paid_oere if paid_rows else 0)
        return [
            Installment(
                id=strawberry.ID(ids.encode("Installment", r.id)),
                number=r.number,
                due_on=r.due_on,
                amount=money(r.amount_oere),
                paid=money(p),
                status=installment_status(
                    self.status_raw, r.due_on, r.amount_oere, p, now, draws[r.id].status if r.id in draws else None
                ),
                channel=_channel(draws[r.id].channel) if r.id in draws else channel,
                draw=Draw.from_row(draws[r.id]) if r.id in draws else None,
                pk=r.id,
            )
            for r, p in zip(rows, paid, strict=True)
        ]


def plan_terms(version: str, info: Info) -> PlanTerms | None:
    """A published version of the terms in the request's language (None for one never published)."""
    text = terms_text(version, info.context.language)
    return PlanTerms(version=version, text=text, current=version == CURRENT_TERMS_VERSION) if text else None


def _assessment(r: PlanRow) -> PlanAssessment | None:
    if not r.assessment_requested and r.assessment_outcome is None:
        return None
    offer = None
    if r.counter_offer_monthly_oere is not None and r.counter_offer_months is not None:
        offer = CounterOffer(monthly_amount=money(r.counter_offer_monthly_oere), months=r.counter_offer_months)
    return PlanAssessment(
        reason=r.assessment_reason,
        outcome=AssessmentOutcome(r.assessment_outcome) if r.assessment_outcome else None,
        decided_at=r.assessed_at,
        decided_by=r.assessed_by,
        message_to_citizen=r.message_to_citizen,
        counter_offer=offer,
        note=r.approval_note,
    )


def _channel(draw_channel: str) -> InstallmentChannel:
    return InstallmentChannel.INVOICE if draw_channel == "INVOICE" else InstallmentChannel.AUTOMATIC
