"""Notices: what a citizen must be told, from the rules (R6, R10, R13, R14, R15)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from urllib.parse import urlencode

import strawberry

from adapters.ledger.queries import PlanRow
from gateway.domain.collection import CollectionStatus
from gateway.domain.contacts import COLLECTION_AGENCY, PAYMENTS_OFFICE, WAGE_GARNISHMENT_INFO_URL
from gateway.domain.enrolments import EnrolmentStatus
from gateway.domain.i18n import format_day, format_months, translate
from gateway.domain.money import format_dkk
from gateway.domain.plan_states import is_live, lapse_date
from resolvers.claims.collection import collection_of
from resolvers.claims.types import Claim
from resolvers.common import ids
from resolvers.common.contacts import ContactDetails, contact_details
from resolvers.common.types import Money, money
from resolvers.context import Context
from resolvers.plans.draws import Draw
from resolvers.plans.types import InstallmentPlan


@strawberry.enum
class NoticeCode(Enum):
    CHECK_PAYMENTS = "CHECK_PAYMENTS"  # R6
    ENROLMENT_PENDING = "ENROLMENT_PENDING"  # R10
    FUTURE_INTEREST = "FUTURE_INTEREST"  # R13
    AT_COLLECTION = "AT_COLLECTION"  # R14
    WAGE_GARNISHMENT = "WAGE_GARNISHMENT"  # R15
    # What happened to a plan or a draw (kept for a while, newest first):
    CHECK_DRAW = "CHECK_DRAW"  # R6: a draw is coming, check the account
    CHECK_DIGITAL_POST = "CHECK_DIGITAL_POST"  # R10: an invoice was sent to Digital Post
    DRAW_MISSED = "DRAW_MISSED"
    PLAN_COMPLETED = "PLAN_COMPLETED"
    PLAN_DEFAULTED = "PLAN_DEFAULTED"
    CLAIM_LEFT_PLAN = "CLAIM_LEFT_PLAN"  # R14
    PAYMENT_FAILED = "PAYMENT_FAILED"  # a one-off payment could not be completed at the provider
    # The individual assessment's answer (R11), and a caseworker's link to pay ticked claims (issue 12):
    PLAN_APPROVED = "PLAN_APPROVED"
    PLAN_REJECTED = "PLAN_REJECTED"
    PLAN_COUNTER_OFFERED = "PLAN_COUNTER_OFFERED"
    PAYMENT_REQUESTED = "PAYMENT_REQUESTED"


@strawberry.enum
class NoticeSeverity(Enum):
    INFO = "INFO"
    WARNING = "WARNING"


@strawberry.type(
    description="Something the citizen must be told: reminders and warnings from the rules, then what happened "
    "to their plans and draws (newest first)."
)
class Notice:
    code: NoticeCode
    severity: NoticeSeverity
    message: str
    contact: ContactDetails | None
    link: str | None
    created_at: datetime | None = strawberry.field(default=None, description="When it happened (events only).")
    draw: Draw | None = strawberry.field(default=None, description="The draw it is about, if any.")
    installment_plan: InstallmentPlan | None = strawberry.field(default=None, description="The plan it is about.")
    payment_request: PaymentRequest | None = strawberry.field(
        default=None, description="PAYMENT_REQUESTED: the claims a caseworker asked the citizen to pay, with the link."
    )


@strawberry.type(
    description="A caseworker asked the citizen (on the phone) to pay ticked claims. The citizen pays in their own "
    "session, at `link`, with startPayment for `claims`; no payment exists until they do."
)
class PaymentRequest:
    claims: list[Claim]
    total_outstanding: Money = strawberry.field(description="What the claims owe now.")
    link: str = strawberry.field(
        description="The citizens' web page, with the claims ticked: `<public URL>/betal?krav=<claim IDs, comma "
        "separated>` (global IDs: no CPR)."
    )
    created_at: datetime


async def payment_request(ctx: Context, request_id: int) -> PaymentRequest | None:
    """A payment request with its claims, as the citizen (or the caseworker who sent it) sees it."""
    row = await ctx.loaders.payment_request.load(request_id)
    if row is None:
        return None
    links = await ctx.loaders.payment_request_claims.load(request_id)
    claims = [c for c in await ctx.loaders.claim.load_many([link.claim_id for link in links]) if c is not None]
    claim_ids = [ids.encode("Claim", c.id) for c in claims]
    return PaymentRequest(
        claims=[Claim.from_row(c) for c in claims],
        total_outstanding=money(sum(max(c.outstanding_oere, 0) for c in claims)),
        link=f"{ctx.services.settings.public_url}/betal?{urlencode({'krav': ','.join(claim_ids)}, safe=',')}",
        created_at=row.created_at,
    )


_EVENT_SEVERITY = {
    NoticeCode.CHECK_DRAW: NoticeSeverity.INFO,
    NoticeCode.PLAN_COMPLETED: NoticeSeverity.INFO,
    NoticeCode.PLAN_APPROVED: NoticeSeverity.INFO,
    NoticeCode.PLAN_COUNTER_OFFERED: NoticeSeverity.INFO,
    NoticeCode.PAYMENT_REQUESTED: NoticeSeverity.INFO,
}


_ASSESSMENT_NOTICES = frozenset({NoticeCode.PLAN_APPROVED, NoticeCode.PLAN_REJECTED, NoticeCode.PLAN_COUNTER_OFFERED})


async def notices_for(ctx: Context, citizen_pk: int) -> list[Notice]:
    lang = ctx.language
    notices: list[Notice] = []

    def add(
        code: NoticeCode,
        key: str,
        severity: NoticeSeverity,
        contact: ContactDetails | None = None,
        link: str | None = None,
    ) -> None:
        notices.append(Notice(code=code, severity=severity, message=translate(key, lang), contact=contact, link=link))

    claims = await ctx.loaders.claims_by_citizen.load(citizen_pk)
    open_claims = [c for c in claims if c.outstanding_oere > 0]
    statuses = [(await collection_of(ctx, c.reference, citizen_pk)).status for c in open_claims]
    if CollectionStatus.AT_COLLECTION in statuses:
        agency = contact_details(COLLECTION_AGENCY)
        add(NoticeCode.AT_COLLECTION, "NOTICE_AT_COLLECTION", NoticeSeverity.WARNING, agency, COLLECTION_AGENCY.web)
        add(
            NoticeCode.WAGE_GARNISHMENT,
            "NOTICE_WAGE_GARNISHMENT",
            NoticeSeverity.WARNING,
            agency,
            WAGE_GARNISHMENT_INFO_URL,
        )
    enrolments = await ctx.loaders.enrolments_by_citizen.load(citizen_pk)
    live = {e.status for e in enrolments}
    if EnrolmentStatus.PENDING.value in live:
        add(NoticeCode.ENROLMENT_PENDING, "NOTICE_ENROLMENT_PENDING", NoticeSeverity.WARNING)
    if EnrolmentStatus.ACTIVE.value in live:
        add(NoticeCode.CHECK_PAYMENTS, "NOTICE_CHECK_PAYMENTS", NoticeSeverity.INFO, contact_details(PAYMENTS_OFFICE))
    plans = await ctx.loaders.plans_by_citizen.load(citizen_pk)
    if any(p.excludes_future_interest and is_live(p.status) for p in plans):
        add(NoticeCode.FUTURE_INTEREST, "NOTICE_FUTURE_INTEREST", NoticeSeverity.INFO)
    return notices + await _events(ctx, citizen_pk, {p.id: p for p in plans})


async def _events(ctx: Context, citizen_pk: int, plans: dict[int, PlanRow]) -> list[Notice]:
    """What happened (recorded once by the worker): draws to check, invoices, misses, plans that ended."""
    rows = await ctx.loaders.recent_notices_by_citizen.load(citizen_pk)
    draw_ids = [r.draw_id for r in rows if r.draw_id is not None]
    draws = {d.id: d for d in await ctx.loaders.draw.load_many(draw_ids) if d is not None} if draw_ids else {}
    grace = ctx.services.settings.plan_default_grace_days
    events = []
    for r in rows:
        code = NoticeCode(r.code)
        draw = draws.get(r.draw_id) if r.draw_id is not None else None
        params: dict[str, object] = {}
        if draw is not None:
            params = {
                "amount": format_dkk(draw.amount_oere),
                "due_on": format_day(draw.due_on, ctx.language),
                "lapse_on": format_day(lapse_date(draw.due_on, grace), ctx.language),
            }
        plan = plans.get(r.plan_id) if r.plan_id is not None else None
        request = await payment_request(ctx, r.payment_request_id) if r.payment_request_id is not None else None
        if request is not None:
            params = {"count": len(request.claims), "amount": request.total_outstanding.formatted}
        if code is NoticeCode.PLAN_COUNTER_OFFERED and plan is not None and plan.counter_offer_monthly_oere:
            months = format_months(plan.counter_offer_months or 0, ctx.language)
            params = {"amount": format_dkk(plan.counter_offer_monthly_oere), "months": months}
        message = translate(f"NOTICE_{code.value}", ctx.language, **params)
        if code in _ASSESSMENT_NOTICES and plan is not None and plan.message_to_citizen:
            message += " " + translate("NOTICE_MESSAGE_FROM_OFFICE", ctx.language, message=plan.message_to_citizen)
        events.append(
            Notice(
                code=code,
                severity=_EVENT_SEVERITY.get(code, NoticeSeverity.WARNING),
                message=message,
                contact=contact_details(PAYMENTS_OFFICE),
                link=request.link if request is not None else None,
                created_at=r.created_at,
                draw=Draw.from_row(draw) if draw is not None else None,
                installment_plan=InstallmentPlan.from_row(plan) if plan is not None else None,
                payment_request=request,
            )
        )
    return events
