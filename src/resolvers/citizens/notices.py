"""Notices: what a citizen must be told, from the rules (R6, R10, R13, R14, R15)."""

from __future__ import annotations

from enum import Enum

import strawberry

from gateway.domain.collection import CollectionStatus
from gateway.domain.contacts import COLLECTION_AGENCY, PAYMENTS_OFFICE, WAGE_GARNISHMENT_INFO_URL
from gateway.domain.enrolments import EnrolmentStatus
from gateway.domain.i18n import translate
from resolvers.claims.collection import collection_of
from resolvers.common.contacts import ContactDetails, contact_details
from resolvers.context import Context


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
