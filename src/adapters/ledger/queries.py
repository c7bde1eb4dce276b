"""Read queries on the ledger, each batched over many keys (the DataLoaders call these).

Every function takes a connection and a list of keys and issues exactly one SQL statement. What comes back is
SQLAlchemy's own rows, typed by the protocols below (one per shape: the columns the statement selects). They are
read by attribute and never copied: a cast costs nothing, a dataclass per row would cost the overview its speed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Protocol, TypeVar
from typing import cast as typed

from sqlalchemy import BigInteger, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m

K = TypeVar("K")
R = TypeVar("R")

# The shape of every batched read below: a connection and the keys in, the rows out, in one statement.
BatchQuery = Callable[[AsyncConnection, Sequence[K]], Awaitable[list[R]]]

# --- row shapes (read-only, so a NamedTuple or a dataclass fits them too) -------------------------------


class CitizenRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def cpr(self) -> str: ...
    @property
    def name(self) -> str: ...


class CitizenVersionRow(CitizenRow, Protocol):
    """A citizen with what the response cache keys on."""

    @property
    def created_at(self) -> datetime: ...
    @property
    def data_version(self) -> int: ...


class ClaimRow(Protocol):
    """A claim with its outstanding amount (the sum of its entries)."""

    @property
    def id(self) -> int: ...
    @property
    def reference(self) -> str: ...
    @property
    def citizen_id(self) -> int: ...
    @property
    def department_id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def issued_on(self) -> date: ...
    @property
    def due_on(self) -> date: ...
    @property
    def original_amount_oere(self) -> int: ...
    @property
    def outstanding_oere(self) -> int: ...


class DepartmentRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def web(self) -> str | None: ...
    @property
    def phone_hours(self) -> list[dict[str, str]]: ...


class EntryRow(Protocol):
    """A posting on a claim's statement."""

    @property
    def id(self) -> int: ...
    @property
    def claim_id(self) -> int: ...
    @property
    def posted_on(self) -> date: ...
    @property
    def kind(self) -> str: ...
    @property
    def component(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def amount_oere(self) -> int: ...
    @property
    def payment_id(self) -> int | None: ...


class PlanRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def citizen_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def principal_oere(self) -> int: ...
    @property
    def monthly_amount_oere(self) -> int: ...
    @property
    def months(self) -> int: ...
    @property
    def day_of_month(self) -> int: ...
    @property
    def excludes_future_interest(self) -> bool: ...
    @property
    def assessment_requested(self) -> bool: ...
    @property
    def terms_accepted_at(self) -> datetime: ...
    @property
    def created_by(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def approved_by(self) -> str | None: ...
    @property
    def approved_at(self) -> datetime | None: ...
    @property
    def approval_note(self) -> str | None: ...
    @property
    def cancelled_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def end_reason(self) -> str | None: ...
    @property
    def cancelled_by(self) -> str | None: ...
    @property
    def terms_version(self) -> str | None: ...
    @property
    def terms_accepted_via(self) -> str | None: ...
    @property
    def assessment_reason(self) -> str | None: ...
    @property
    def assessment_outcome(self) -> str | None: ...
    @property
    def assessed_by(self) -> str | None: ...
    @property
    def assessed_at(self) -> datetime | None: ...
    @property
    def message_to_citizen(self) -> str | None: ...
    @property
    def counter_offer_monthly_oere(self) -> int | None: ...
    @property
    def counter_offer_months(self) -> int | None: ...


class PlanClaimRow(Protocol):
    """A claim in a plan, with what was outstanding on it when the plan was made."""

    @property
    def plan_id(self) -> int: ...
    @property
    def claim_id(self) -> int: ...
    @property
    def outstanding_oere(self) -> int: ...


class LivePlanClaimRow(Protocol):
    """A claim and the live plan it is in."""

    @property
    def claim_id(self) -> int: ...
    @property
    def plan_id(self) -> int: ...


class InstallmentRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def plan_id(self) -> int: ...
    @property
    def number(self) -> int: ...
    @property
    def due_on(self) -> date: ...
    @property
    def amount_oere(self) -> int: ...
    @property
    def paid_oere(self) -> int: ...


class PaidIntoPlanRow(Protocol):
    @property
    def plan_id(self) -> int: ...
    @property
    def paid_oere(self) -> int: ...


class DrawRow(Protocol):
    """One collection of an installment or a bill: a charge, a Betalingsservice instruction or an invoice."""

    @property
    def id(self) -> int: ...
    @property
    def citizen_id(self) -> int: ...
    @property
    def plan_id(self) -> int | None: ...
    @property
    def installment_id(self) -> int | None: ...
    @property
    def enrolment_id(self) -> int | None: ...
    @property
    def claim_id(self) -> int | None: ...
    @property
    def channel(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def amount_oere(self) -> int: ...
    @property
    def due_on(self) -> date: ...
    @property
    def failure_reason(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def settled_at(self) -> datetime | None: ...


class CitizenNoticeRow(Protocol):
    """Something that happened and that the citizen is told about (a missed draw, an invoice, a plan ended)."""

    @property
    def id(self) -> int: ...
    @property
    def citizen_id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def plan_id(self) -> int | None: ...
    @property
    def draw_id(self) -> int | None: ...
    @property
    def claim_id(self) -> int | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def payment_request_id(self) -> int | None: ...


class PaymentRequestRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def citizen_id(self) -> int: ...
    @property
    def requested_by(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


class PaymentRequestClaimRow(Protocol):
    @property
    def request_id(self) -> int: ...
    @property
    def claim_id(self) -> int: ...


class CaseworkerItemRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def citizen_id(self) -> int: ...
    @property
    def plan_id(self) -> int | None: ...
    @property
    def draw_id(self) -> int | None: ...
    @property
    def claim_id(self) -> int | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def resolved_at(self) -> datetime | None: ...


class EnrolmentRow(Protocol):
    """An automatic-payment enrolment (Betalingsservice or a MobilePay subscription)."""

    @property
    def id(self) -> int: ...
    @property
    def citizen_id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def mobilepay_account_id(self) -> int | None: ...
    @property
    def plan_id(self) -> int | None: ...
    @property
    def live_plan_id(self) -> int | None: ...
    @property
    def provider_ref(self) -> str | None: ...
    @property
    def provider_sequence(self) -> int: ...
    @property
    def confirmation_url(self) -> str | None: ...
    @property
    def requested_at(self) -> datetime: ...
    @property
    def activated_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...


class EnrolmentClaimRow(Protocol):
    @property
    def enrolment_id(self) -> int: ...
    @property
    def claim_id(self) -> int: ...


class MobilePayAccountRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def citizen_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def masked_number(self) -> str: ...
    @property
    def provider_ref(self) -> str: ...
    @property
    def is_default(self) -> bool: ...


class PaymentRow(Protocol):
    """A one-off payment by card or MobilePay."""

    @property
    def id(self) -> int: ...
    @property
    def citizen_id(self) -> int: ...
    @property
    def method(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def amount_oere(self) -> int: ...
    @property
    def provider_ref(self) -> str | None: ...
    @property
    def provider_sequence(self) -> int: ...
    @property
    def redirect_url(self) -> str | None: ...
    @property
    def return_url(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def captured_at(self) -> datetime | None: ...


class PaymentClaimRow(Protocol):
    @property
    def payment_id(self) -> int: ...
    @property
    def claim_id(self) -> int: ...


class AllocationRow(Protocol):
    """A payment's share of one claim (a negative entry), and the component it settled."""

    @property
    def payment_id(self) -> int: ...
    @property
    def claim_id(self) -> int: ...
    @property
    def component(self) -> str | None: ...
    @property
    def amount_oere(self) -> int: ...


class AccessLogRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor_kind(self) -> str: ...
    @property
    def actor_id(self) -> str: ...
    @property
    def citizen_id(self) -> int | None: ...
    @property
    def operation(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    @property
    def detail(self) -> str | None: ...
    @property
    def actor_name(self) -> str | None: ...
    @property
    def actor_unit(self) -> str | None: ...
    @property
    def purpose(self) -> str | None: ...


# --- claims, departments, statements ---------------------------------------------------------------

_claims = m.table(m.Claim)
_entries = m.table(m.LedgerEntry)

# A claim's outstanding amount: the sum of its entries, as a correlated subquery so that it is computed for the
# selected claims only, through the (claim_id, posted_on, id) index — never a GROUP BY over the whole ledger.
# PostgreSQL's SUM(bigint) is NUMERIC; cast back so amounts stay Python ints (never Decimal or float).
_outstanding = (
    select(cast(func.coalesce(func.sum(_entries.c.amount_oere), 0), BigInteger))
    .where(_entries.c.claim_id == _claims.c.id)
    .correlate(_claims)
    .scalar_subquery()
    .label("outstanding_oere")
)

_CLAIM_COLUMNS = (
    _claims.c.id,
    _claims.c.reference,
    _claims.c.citizen_id,
    _claims.c.department_id,
    _claims.c.title,
    _claims.c.kind,
    _claims.c.issued_on,
    _claims.c.due_on,
    _claims.c.original_amount_oere,
    _outstanding,
)


async def citizens_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[CitizenRow]:
    t = m.table(m.Citizen)
    stmt = select(t.c.id, t.c.cpr, t.c.name).where(t.c.id.in_(ids))
    return typed("list[CitizenRow]", list(await conn.execute(stmt)))


async def citizen_version(conn: AsyncConnection, cpr: str) -> CitizenVersionRow | None:
    """The citizen row with its data version (the response cache's key), by CPR."""
    t = m.table(m.Citizen)
    stmt = select(t.c.id, t.c.cpr, t.c.name, t.c.created_at, t.c.data_version).where(t.c.cpr == cpr)
    return typed("CitizenVersionRow | None", (await conn.execute(stmt)).first())


async def citizens_by_cprs(conn: AsyncConnection, cprs: Sequence[str]) -> list[CitizenRow]:
    t = m.table(m.Citizen)
    stmt = select(t.c.id, t.c.cpr, t.c.name).where(t.c.cpr.in_(cprs))
    return typed("list[CitizenRow]", list(await conn.execute(stmt)))


async def claims_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[ClaimRow]:
    """All claims of these citizens with their outstanding sums, oldest due date first."""
    stmt = select(*_CLAIM_COLUMNS).where(_claims.c.citizen_id.in_(citizen_ids)).order_by(_claims.c.due_on, _claims.c.id)
    return typed("list[ClaimRow]", list(await conn.execute(stmt)))


async def claims_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[ClaimRow]:
    return typed("list[ClaimRow]", list(await conn.execute(select(*_CLAIM_COLUMNS).where(_claims.c.id.in_(ids)))))


async def departments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[DepartmentRow]:
    t = m.table(m.Department)
    return typed("list[DepartmentRow]", list(await conn.execute(select(t).where(t.c.id.in_(ids)))))


async def all_departments(conn: AsyncConnection) -> list[DepartmentRow]:
    t = m.table(m.Department)
    return typed("list[DepartmentRow]", list(await conn.execute(select(t).order_by(t.c.name))))


async def entries_by_claim_ids(conn: AsyncConnection, claim_ids: Sequence[int]) -> list[EntryRow]:
    e = _entries
    stmt = (
        select(e.c.id, e.c.claim_id, e.c.posted_on, e.c.kind, e.c.component, e.c.text, e.c.amount_oere, e.c.payment_id)
        .where(e.c.claim_id.in_(claim_ids))
        .order_by(e.c.claim_id, e.c.posted_on, e.c.id)
    )
    return typed("list[EntryRow]", list(await conn.execute(stmt)))


# --- installment plans -------------------------------------------------------------------------------

_plans = m.table(m.InstallmentPlan)
_plan_claims = m.table(m.PlanClaim)
_installments = m.table(m.Installment)


async def plans_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[PlanRow]:
    return typed("list[PlanRow]", list(await conn.execute(select(_plans).where(_plans.c.id.in_(ids)))))


async def plans_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[PlanRow]:
    stmt = (
        select(_plans)
        .where(_plans.c.citizen_id.in_(citizen_ids))
        .order_by(_plans.c.created_at.desc(), _plans.c.id.desc())
    )
    return typed("list[PlanRow]", list(await conn.execute(stmt)))


async def live_plan_claims_by_claim_ids(conn: AsyncConnection, claim_ids: Sequence[int]) -> list[LivePlanClaimRow]:
    stmt = select(_plan_claims.c.claim_id, _plan_claims.c.plan_id).where(_plan_claims.c.live_claim_id.in_(claim_ids))
    return typed("list[LivePlanClaimRow]", list(await conn.execute(stmt)))


async def plan_claims_by_plan_ids(conn: AsyncConnection, plan_ids: Sequence[int]) -> list[PlanClaimRow]:
    stmt = (
        select(_plan_claims.c.plan_id, _plan_claims.c.claim_id, _plan_claims.c.outstanding_oere)
        .where(_plan_claims.c.plan_id.in_(plan_ids), _plan_claims.c.left_at.is_(None))  # not those that left (R14)
        .order_by(_plan_claims.c.plan_id, _plan_claims.c.claim_id)
    )
    return typed("list[PlanClaimRow]", list(await conn.execute(stmt)))


async def installments_by_plan_ids(conn: AsyncConnection, plan_ids: Sequence[int]) -> list[InstallmentRow]:
    stmt = (
        select(_installments)
        .where(_installments.c.plan_id.in_(plan_ids))
        .order_by(_installments.c.plan_id, _installments.c.number)
    )
    return typed("list[InstallmentRow]", list(await conn.execute(stmt)))


def paid_into_plans_select() -> Select[tuple[int, int]]:
    """Per plan, what was paid on its claims since the plan was made (payments are negative entries): the
    statement for every plan, narrowed by the caller (here to some plans; the caseworkers' aggregates join it)."""
    e = _entries
    return (
        select(
            _plan_claims.c.plan_id,
            cast(-func.sum(e.c.amount_oere), BigInteger).label("paid_oere"),
        )
        .select_from(
            _plan_claims.join(_plans, _plans.c.id == _plan_claims.c.plan_id).join(
                e, e.c.claim_id == _plan_claims.c.claim_id
            )
        )
        .where(e.c.kind == "PAYMENT", e.c.created_at >= _plans.c.created_at)
        .group_by(_plan_claims.c.plan_id)
    )


async def paid_into_plans(conn: AsyncConnection, plan_ids: Sequence[int]) -> list[PaidIntoPlanRow]:
    stmt = paid_into_plans_select().where(_plan_claims.c.plan_id.in_(plan_ids))
    return typed("list[PaidIntoPlanRow]", list(await conn.execute(stmt)))


async def installments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[InstallmentRow]:
    return typed(
        "list[InstallmentRow]", list(await conn.execute(select(_installments).where(_installments.c.id.in_(ids))))
    )


# --- automatic payment, MobilePay accounts, payments ----------------------------------------------------

_enrolments = m.table(m.Enrolment)
_enrolment_claims = m.table(m.EnrolmentClaim)
_accounts = m.table(m.MobilePayAccount)
_payments = m.table(m.Payment)
_payment_claims = m.table(m.PaymentClaim)


async def enrolments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[EnrolmentRow]:
    return typed("list[EnrolmentRow]", list(await conn.execute(select(_enrolments).where(_enrolments.c.id.in_(ids)))))


async def enrolments_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[EnrolmentRow]:
    stmt = (
        select(_enrolments)
        .where(_enrolments.c.citizen_id.in_(citizen_ids))
        .order_by(_enrolments.c.requested_at.desc(), _enrolments.c.id.desc())
    )
    return typed("list[EnrolmentRow]", list(await conn.execute(stmt)))


async def live_enrolments_by_plan_ids(conn: AsyncConnection, plan_ids: Sequence[int]) -> list[EnrolmentRow]:
    return typed(
        "list[EnrolmentRow]",
        list(await conn.execute(select(_enrolments).where(_enrolments.c.live_plan_id.in_(plan_ids)))),
    )


async def live_enrolment_claims_by_claim_ids(
    conn: AsyncConnection, claim_ids: Sequence[int]
) -> list[EnrolmentClaimRow]:
    stmt = select(_enrolment_claims.c.claim_id, _enrolment_claims.c.enrolment_id).where(
        _enrolment_claims.c.live_claim_id.in_(claim_ids)
    )
    return typed("list[EnrolmentClaimRow]", list(await conn.execute(stmt)))


async def enrolment_claims_by_enrolment_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[EnrolmentClaimRow]:
    stmt = (
        select(_enrolment_claims.c.enrolment_id, _enrolment_claims.c.claim_id)
        .where(_enrolment_claims.c.enrolment_id.in_(ids))
        .order_by(_enrolment_claims.c.enrolment_id, _enrolment_claims.c.claim_id)
    )
    return typed("list[EnrolmentClaimRow]", list(await conn.execute(stmt)))


async def accounts_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[MobilePayAccountRow]:
    return typed(
        "list[MobilePayAccountRow]", list(await conn.execute(select(_accounts).where(_accounts.c.id.in_(ids))))
    )


async def accounts_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[MobilePayAccountRow]:
    stmt = select(_accounts).where(_accounts.c.citizen_id.in_(citizen_ids)).order_by(_accounts.c.id)
    return typed("list[MobilePayAccountRow]", list(await conn.execute(stmt)))


async def payments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[PaymentRow]:
    return typed("list[PaymentRow]", list(await conn.execute(select(_payments).where(_payments.c.id.in_(ids)))))


async def payments_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[PaymentRow]:
    stmt = (
        select(_payments)
        .where(_payments.c.citizen_id.in_(citizen_ids))
        .order_by(_payments.c.created_at.desc(), _payments.c.id.desc())
    )
    return typed("list[PaymentRow]", list(await conn.execute(stmt)))


async def payment_claims_by_payment_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[PaymentClaimRow]:
    stmt = (
        select(_payment_claims.c.payment_id, _payment_claims.c.claim_id)
        .where(_payment_claims.c.payment_id.in_(ids))
        .order_by(_payment_claims.c.payment_id, _payment_claims.c.claim_id)
    )
    return typed("list[PaymentClaimRow]", list(await conn.execute(stmt)))


async def allocations_by_payment_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[AllocationRow]:
    e = _entries
    stmt = (
        select(e.c.payment_id, e.c.claim_id, e.c.component, e.c.amount_oere)
        .where(e.c.payment_id.in_(ids))
        .order_by(e.c.payment_id, e.c.id)
    )
    return typed("list[AllocationRow]", list(await conn.execute(stmt)))


# --- access log ------------------------------------------------------------------------------------------

_access = m.table(m.AccessLogEntry)


async def access_log_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[AccessLogRow]:
    stmt = (
        select(_access).where(_access.c.citizen_id.in_(citizen_ids)).order_by(_access.c.at.desc(), _access.c.id.desc())
    )
    return typed("list[AccessLogRow]", list(await conn.execute(stmt)))


async def access_log_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[AccessLogRow]:
    return typed("list[AccessLogRow]", list(await conn.execute(select(_access).where(_access.c.id.in_(ids)))))


async def live_mobilepay_agreements(conn: AsyncConnection) -> list[str]:
    """The provider references of active MobilePay subscriptions (the simulation injects failures on them)."""
    stmt = select(_enrolments.c.provider_ref).where(
        _enrolments.c.kind == "MOBILEPAY_SUBSCRIPTION",
        _enrolments.c.status == "ACTIVE",
        _enrolments.c.provider_ref.is_not(None),
    )
    return [str(r.provider_ref) for r in await conn.execute(stmt)]


# --- installments over time: draws, notices, caseworkers' items ------------------------------------------------

_draws = m.table(m.Draw)
_notices = m.table(m.CitizenNotice)
_items = m.table(m.CaseworkerItem)


async def draws_by_plan_ids(conn: AsyncConnection, plan_ids: Sequence[int]) -> list[DrawRow]:
    """A plan's draws, by due date."""
    stmt = select(_draws).where(_draws.c.plan_id.in_(plan_ids)).order_by(_draws.c.due_on, _draws.c.id)
    return typed("list[DrawRow]", list(await conn.execute(stmt)))


async def draws_by_enrolment_ids(conn: AsyncConnection, enrolment_ids: Sequence[int]) -> list[DrawRow]:
    """The draws taken through an enrolment, by due date."""
    stmt = select(_draws).where(_draws.c.enrolment_id.in_(enrolment_ids)).order_by(_draws.c.due_on, _draws.c.id)
    return typed("list[DrawRow]", list(await conn.execute(stmt)))


async def draws_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[DrawRow]:
    return typed("list[DrawRow]", list(await conn.execute(select(_draws).where(_draws.c.id.in_(ids)))))


async def notices_by_citizen_ids(
    conn: AsyncConnection, citizen_ids: Sequence[int], *, since: datetime
) -> list[CitizenNoticeRow]:
    """Citizens' notices since ``since``, newest first."""
    stmt = (
        select(_notices)
        .where(_notices.c.citizen_id.in_(citizen_ids), _notices.c.created_at >= since)
        .order_by(_notices.c.created_at.desc(), _notices.c.id.desc())
    )
    return typed("list[CitizenNoticeRow]", list(await conn.execute(stmt)))


async def payment_requests_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[PaymentRequestRow]:
    t = m.table(m.PaymentRequest)
    return typed("list[PaymentRequestRow]", list(await conn.execute(select(t).where(t.c.id.in_(ids)))))


async def payment_request_claims_by_request_ids(
    conn: AsyncConnection, request_ids: Sequence[int]
) -> list[PaymentRequestClaimRow]:
    """The claims a caseworker asked the citizen to pay, per payment request."""
    t = m.table(m.PaymentRequestClaim)
    stmt = (
        select(t.c.request_id, t.c.claim_id)
        .where(t.c.request_id.in_(request_ids))
        .order_by(t.c.request_id, t.c.claim_id)
    )
    return typed("list[PaymentRequestClaimRow]", list(await conn.execute(stmt)))


async def open_caseworker_items(
    conn: AsyncConnection, *, kinds: Sequence[str] | None, after_id: int, limit: int
) -> list[CaseworkerItemRow]:
    """Open items, oldest first, after the item ``after_id`` (a stable cursor: ids only grow)."""
    stmt = select(_items).where(_items.c.resolved_at.is_(None), _items.c.id > after_id)
    if kinds:
        stmt = stmt.where(_items.c.kind.in_(list(kinds)))
    stmt = stmt.order_by(_items.c.id).limit(limit)
    return typed("list[CaseworkerItemRow]", list(await conn.execute(stmt)))


async def count_open_caseworker_items(conn: AsyncConnection, *, kinds: Sequence[str] | None) -> int:
    stmt = select(func.count()).select_from(_items).where(_items.c.resolved_at.is_(None))
    if kinds:
        stmt = stmt.where(_items.c.kind.in_(list(kinds)))
    return int((await conn.execute(stmt)).scalar_one())


async def caseworker_items_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[CaseworkerItemRow]:
    return typed("list[CaseworkerItemRow]", list(await conn.execute(select(_items).where(_items.c.id.in_(ids)))))
