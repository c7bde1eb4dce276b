"""Citizen: the overview (R1), notices (R6, R10, R13, R14, R15), and caseworker look-ups with an access log."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from sqlalchemy import Row, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger.versions import bump
from gateway.domain.clock import utcnow
from gateway.domain.collection import CollectionStatus
from gateway.domain.contacts import COLLECTION_AGENCY, PAYMENTS_OFFICE, WAGE_GARNISHMENT_INFO_URL
from gateway.domain.cpr import Cpr, InvalidCpr
from gateway.domain.enrolments import EnrolmentStatus
from gateway.domain.errors import ErrorCode, GatewayError
from gateway.domain.i18n import translate
from gateway.domain.viewers import CaseworkerViewer
from resolvers.common import ids
from resolvers.context import Context, Info
from resolvers.types import (
    Claim,
    ClaimFilter,
    Connection,
    ContactDetails,
    InstallmentPlan,
    MobilePayAccount,
    Money,
    Node,
    Payment,
    PaymentMethod,
    check_page,
    collection_of,
    contact_details,
    money,
    paginate,
    prefetch_claims,
)


@strawberry.enum
class NoticeCode(Enum):
    CHECK_PAYMENTS = "CHECK_PAYMENTS"  # R6
    ENROLMENT_PENDING = "ENROLMENT_PENDING"  # R10
    FUTURE_INTEREST = "FUTURE_INTEREST"  # R13
    AT_COLLECTION = "AT_COLLECTION"  # R14
    WAGE_GARNISHMENT = "WAGE_GARNISHMENT"  # R15


@strawberry.enum
class NoticeSeverity(Enum):
    INFO = "INFO"
    WARNING = "WARNING"


@strawberry.type(description="Something the citizen must be told (reminders and warnings from the rules).")
class Notice:
    code: NoticeCode
    severity: NoticeSeverity
    message: str
    contact: ContactDetails | None
    link: str | None


@strawberry.enum
class ActorKind(Enum):
    CASEWORKER = "CASEWORKER"
    CITIZEN = "CITIZEN"
    SYSTEM = "SYSTEM"


@strawberry.type(description="Someone looked at or changed the citizen's data.")
class AccessLogEntry(Node):
    at: datetime
    actor_kind: ActorKind
    actor_id: str
    operation: str
    request_id: str

    @classmethod
    def from_row(cls, r: Row[Any]) -> AccessLogEntry:
        return cls(
            id=strawberry.ID(ids.encode("AccessLogEntry", r.id)),
            at=r.at,
            actor_kind=ActorKind(r.actor_kind),
            actor_id=r.actor_id,
            operation=r.operation,
            request_id=r.request_id,
        )


@strawberry.type(description="A citizen (borger) and their debt to the municipality.")
class Citizen(Node):
    cpr: str = strawberry.field(description="The citizen's CPR number, ten digits (R1).")
    name: str
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, r: Row[Any]) -> Citizen:
        return cls(id=strawberry.ID(ids.encode("Citizen", r.id)), cpr=r.cpr, name=r.name, pk=r.id)

    @strawberry.field(description="The citizen's claims, oldest due date first (R1).")
    async def claims(
        self, info: Info, first: int | None = None, after: str | None = None, filter: ClaimFilter | None = None
    ) -> Connection[Claim]:
        limit, offset = check_page(info, first, after)
        rows = await info.context.loaders.claims_by_citizen.load(self.pk)
        claims = [Claim.from_row(r) for r in rows]
        if filter is not None and filter.status:
            claims = [c for c in claims if c.status == filter.status]
        page = paginate(claims, limit, offset)
        await prefetch_claims(info, page.nodes)
        return page

    @strawberry.field(description="The sum outstanding on all open claims.")
    async def total_outstanding(self, info: Info) -> Money:
        rows = await info.context.loaders.claims_by_citizen.load(self.pk)
        return money(sum(max(r.outstanding_oere, 0) for r in rows))

    @strawberry.field
    async def installment_plans(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[InstallmentPlan]:
        limit, offset = check_page(info, first, after)
        rows = await info.context.loaders.plans_by_citizen.load(self.pk)
        return paginate([InstallmentPlan.from_row(r) for r in rows], limit, offset)

    @strawberry.field(description="Automatic-payment enrolments (Betalingsservice, MobilePay subscriptions).")
    async def payment_methods(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[PaymentMethod]:
        limit, offset = check_page(info, first, after)
        rows = await info.context.loaders.enrolments_by_citizen.load(self.pk)
        return paginate([PaymentMethod.from_row(r) for r in rows], limit, offset)

    @strawberry.field(description="One-off payments by card or MobilePay, newest first.")
    async def payments(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Payment]:
        limit, offset = check_page(info, first, after)
        rows = await info.context.loaders.payments_by_citizen.load(self.pk)
        return paginate([Payment.from_row(r) for r in rows], limit, offset)

    @strawberry.field(description="The citizen's MobilePay accounts, to choose from for a subscription (R4).")
    async def mobile_pay_accounts(self, info: Info) -> list[MobilePayAccount]:
        rows = await info.context.loaders.accounts_by_citizen.load(self.pk)
        return [MobilePayAccount.from_row(r) for r in rows]

    @strawberry.field(description="Who looked at this citizen's data, newest first.")
    async def access_log(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AccessLogEntry]:
        limit, offset = check_page(info, first, after)
        rows = await info.context.loaders.access_log_by_citizen.load(self.pk)
        return paginate([AccessLogEntry.from_row(r) for r in rows], limit, offset)

    @strawberry.field(description="Reminders and warnings for this citizen (R6, R10, R13, R14, R15).")
    async def notices(self, info: Info) -> list[Notice]:
        return await notices_for(info.context, self.pk)


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
    if any(p.excludes_future_interest and p.status in ("ACTIVE", "PENDING_APPROVAL") for p in plans):
        add(NoticeCode.FUTURE_INTEREST, "NOTICE_FUTURE_INTEREST", NoticeSeverity.INFO)
    return notices


async def write_access_log(
    ctx: Context, citizen_ids: list[int | None], operation: str, conn: AsyncConnection | None = None
) -> None:
    """Record a caseworker's look-up of citizens' data, one row per citizen, in one statement (inside the
    caller's transaction when given one)."""
    viewer = ctx.viewer
    if not isinstance(viewer, CaseworkerViewer) or not citizen_ids:
        return
    now = utcnow()
    rows = [
        {
            "at": now,
            "actor_kind": "CASEWORKER",
            "actor_id": viewer.caseworker_id,
            "citizen_id": cid,
            "operation": operation,
            "request_id": ctx.request_id,
            "detail": None,
        }
        for cid in dict.fromkeys(citizen_ids)
    ]
    if conn is not None:
        await conn.execute(insert(m.AccessLogEntry), rows)
        await bump(conn, citizens=citizen_ids)  # the citizen's accessLog changed
        return
    async with ctx.db.transaction() as own:
        await own.execute(insert(m.AccessLogEntry), rows)
        await bump(own, citizens=citizen_ids)


async def resolve_me(info: Info) -> Citizen | None:
    ctx = info.context
    citizen_id = await ctx.viewer_citizen_id()
    if citizen_id is None:
        return None
    return Citizen.from_row(await ctx.loaders.citizen.load(citizen_id))


async def resolve_citizen(info: Info, cpr: str) -> Citizen | None:
    ctx = info.context
    ctx.require_caseworker()
    try:
        parsed = Cpr(cpr)
    except InvalidCpr:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_CPR") from None
    row = await ctx.loaders.citizen_by_cpr.load(parsed.value)
    # Every look-up is logged, also one that finds nobody.
    await write_access_log(ctx, [row.id if row is not None else None], "citizen")
    return Citizen.from_row(row) if row is not None else None
