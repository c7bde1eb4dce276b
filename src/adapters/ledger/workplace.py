"""The caseworkers' reads over the whole ledger (issue 12): the portfolio's aggregates, the work queues' pages
and citizen search.

Every figure is computed by the database (GROUP BY, SUM, a window function for what has been paid on each
installment), never by loading ledger rows into Python: each function is one statement whose answer is a handful
of group rows or one page. Sums are cast to BIGINT (PostgreSQL's SUM(bigint) is NUMERIC), so amounts stay Python
ints; a sum over the whole ledger does not fit GraphQL's 32-bit Int, which the GraphQL layer deals with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol
from typing import cast as typed

from sqlalchemy import BigInteger, ColumnElement, Select, and_, case, cast, func, insert, literal, null, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from adapters.ledger.db import lower_text
from adapters.ledger.queries import CitizenRow, paid_into_plans_select
from gateway.domain.workqueues import Queue

_citizens = m.table(m.Citizen)
_claims = m.table(m.Claim)
_plans = m.table(m.InstallmentPlan)
_plan_claims = m.table(m.PlanClaim)
_installments = m.table(m.Installment)
_draws = m.table(m.Draw)
_enrolments = m.table(m.Enrolment)
_payments = m.table(m.Payment)
_statuses = m.table(m.ClaimCollectionStatus)
_balances = m.table(m.ClaimBalance)
_resolutions = m.table(m.WorkQueueResolution)

# Plans whose installments fall due (were or are in force): not one waiting for approval, not a cancelled one.
IN_FORCE = ("ACTIVE", "COMPLETED", "DEFAULTED")
DRAW_IN_PROGRESS = ("SCHEDULED", "PENDING")
INSTALLMENT_MEASURES = (
    "due",
    "drawn",
    "invoiced",
    "missed",
    "overdue",
)  # the provider is collecting it (and retries a failed attempt)


def _total(column: Any) -> ColumnElement[int]:
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


# --- the portfolio ---------------------------------------------------------------------------------------


class ClaimTotalRow(Protocol):
    @property
    def department_id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def collection_status(self) -> str: ...
    @property
    def claims(self) -> int: ...
    @property
    def outstanding_oere(self) -> int: ...
    @property
    def oldest_check(self) -> datetime | None: ...


class StatusTotalRow(Protocol):
    """A count, and a sum where the thing has an amount (0 otherwise), per status (and kind, for enrolments)."""

    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def amount_oere(self) -> int: ...


class InstallmentTotalsRow(Protocol):
    """Per measure (due, drawn, invoiced, missed, overdue): ``<measure>_count`` and ``<measure>_oere``."""

    def __getattr__(self, name: str) -> int: ...


async def open_claim_totals(conn: AsyncConnection) -> list[ClaimTotalRow]:
    """Open claims (outstanding above zero), counted and summed per department, kind and last known collection
    status (UNKNOWN: never asked about), with the oldest check among them: each claim's outstanding amount is its
    balance (``claim_balances``, the sum of its entries kept by the database in the entries' own statements), so
    this reads one row per claim, not the ledger; what comes back is one row per (department, kind, status)."""
    b = _balances
    status = func.coalesce(_statuses.c.status, "UNKNOWN")
    stmt = (
        select(
            _claims.c.department_id,
            _claims.c.kind,
            status.label("collection_status"),
            func.count().label("claims"),
            _total(b.c.outstanding_oere).label("outstanding_oere"),
            func.min(_statuses.c.checked_at).label("oldest_check"),
        )
        .select_from(
            b.join(_claims, _claims.c.id == b.c.claim_id).outerjoin(_statuses, _statuses.c.claim_id == b.c.claim_id)
        )
        .where(b.c.outstanding_oere > 0)
        .group_by(_claims.c.department_id, _claims.c.kind, status)
        .order_by(_claims.c.department_id, _claims.c.kind, status)
    )
    return typed("list[ClaimTotalRow]", list(await conn.execute(stmt)))


async def plan_totals(conn: AsyncConnection) -> list[StatusTotalRow]:
    """Plans per status, with the sum of their principals."""
    stmt = (
        select(
            literal("PLAN").label("kind"),
            _plans.c.status,
            func.count().label("count"),
            _total(_plans.c.principal_oere).label("amount_oere"),
        )
        .group_by(_plans.c.status)
        .order_by(_plans.c.status)
    )
    return typed("list[StatusTotalRow]", list(await conn.execute(stmt)))


async def enrolment_totals(conn: AsyncConnection) -> list[StatusTotalRow]:
    stmt = (
        select(
            _enrolments.c.kind,
            _enrolments.c.status,
            func.count().label("count"),
            literal(0).label("amount_oere"),
        )
        .group_by(_enrolments.c.kind, _enrolments.c.status)
        .order_by(_enrolments.c.kind, _enrolments.c.status)
    )
    return typed("list[StatusTotalRow]", list(await conn.execute(stmt)))


async def payment_totals(conn: AsyncConnection) -> list[StatusTotalRow]:
    stmt = (
        select(
            literal("PAYMENT").label("kind"),
            _payments.c.status,
            func.count().label("count"),
            _total(_payments.c.amount_oere).label("amount_oere"),
        )
        .group_by(_payments.c.status)
        .order_by(_payments.c.status)
    )
    return typed("list[StatusTotalRow]", list(await conn.execute(stmt)))


def installment_lines(today: date, *, due_between: tuple[date, date] | None = None) -> Any:
    """Every installment of a plan in force with what is still unpaid on it and its draw, and whether it is
    *missed* (its automatic draw failed) or *overdue* (its date passed unpaid, with no draw being taken and none
    failed): together the installments ``gateway.domain.installments.installment_status`` calls MISSED.

    What has been paid on a plan's claims since it was made fills its installments in order (as
    ``installments_paid``): an installment's unpaid part is its running total minus what was paid, between 0 and
    its amount — a window function over the plan's installments, so nothing is spread in Python. The window needs
    a plan's earlier installments too, so ``due_between`` narrows to the plans with an installment in the period
    (the caller still filters the lines)."""
    paid = paid_into_plans_select().subquery()
    i, p, d = _installments, _plans, _draws
    plans_in_scope = [p.c.status.in_(IN_FORCE)]
    if due_between is not None:
        inner = _installments.alias("in_period")
        plans_in_scope.append(p.c.id.in_(select(inner.c.plan_id).where(inner.c.due_on.between(*due_between))))
    running = (
        select(
            i.c.id,
            i.c.plan_id,
            p.c.citizen_id,
            p.c.status.label("plan_status"),
            i.c.due_on,
            i.c.amount_oere,
            (
                func.sum(i.c.amount_oere).over(partition_by=i.c.plan_id, order_by=i.c.number)
                - func.coalesce(paid.c.paid_oere, 0)
            ).label("owed_through"),
        )
        .select_from(i.join(p, p.c.id == i.c.plan_id).outerjoin(paid, paid.c.plan_id == i.c.plan_id))
        .where(*plans_in_scope)
        .subquery()
    )
    r = running.c
    unpaid = case((r.owed_through <= 0, 0), (r.owed_through >= r.amount_oere, r.amount_oere), else_=r.owed_through)
    active_unpaid = and_(r.plan_status == "ACTIVE", unpaid > 0)
    missed = and_(active_unpaid, d.c.status == "FAILED")
    overdue = and_(
        active_unpaid,
        r.due_on < today,
        or_(d.c.status.is_(None), d.c.status.not_in(("FAILED", *DRAW_IN_PROGRESS))),
    )
    return (
        select(
            r.id,
            r.plan_id,
            r.citizen_id,
            r.due_on,
            r.amount_oere,
            cast(unpaid, BigInteger).label("unpaid_oere"),
            d.c.id.label("draw_id"),
            d.c.status.label("draw_status"),
            d.c.channel.label("draw_channel"),
            d.c.amount_oere.label("draw_amount_oere"),
            missed.label("missed"),
            overdue.label("overdue"),
        )
        .select_from(running.outerjoin(d, d.c.installment_id == r.id))
        .subquery()
    )


async def installment_totals(conn: AsyncConnection, *, start: date, end: date, today: date) -> InstallmentTotalsRow:
    """Installments falling due from ``start`` to ``end`` (inclusive): due (of plans in force), drawn (an
    automatic draw CHARGED), invoiced (an invoice sent), missed and overdue (the unpaid part) — counts and sums."""
    lines = installment_lines(today, due_between=(start, end))
    c = lines.c
    in_period = c.due_on.between(start, end)
    drawn = and_(c.draw_status == "CHARGED", c.draw_channel != "INVOICE")
    invoiced = c.draw_channel == "INVOICE"

    def measure(name: str, condition: Any, amount: Any) -> list[Any]:
        return [
            func.count(case((condition, 1))).label(f"{name}_count"),
            _total(case((condition, amount), else_=0)).label(f"{name}_oere"),
        ]

    measures = {
        "due": (literal(True), c.amount_oere),
        "drawn": (drawn, c.draw_amount_oere),
        "invoiced": (invoiced, c.draw_amount_oere),
        "missed": (c.missed, c.unpaid_oere),
        "overdue": (c.overdue, c.unpaid_oere),
    }
    assert tuple(measures) == INSTALLMENT_MEASURES
    stmt = select(*(col for name, (cond, amount) in measures.items() for col in measure(name, cond, amount))).where(
        in_period
    )
    return typed("InstallmentTotalsRow", (await conn.execute(stmt)).one())


# --- work queues -----------------------------------------------------------------------------------------


# Queues ordered by a date (an installment's or a draw's due date); the others by a timestamp.
DATE_ORDERED = frozenset({Queue.MISSED_INSTALLMENTS, Queue.FAILED_DRAWS})


class QueueItemRow(Protocol):
    """One item of a work queue: its position (``since``, ``key1``, ``key2``), whose it is, and what it is about."""

    @property
    def since(self) -> datetime | date: ...
    @property
    def key1(self) -> int: ...
    @property
    def key2(self) -> int: ...
    @property
    def citizen_id(self) -> int: ...
    @property
    def plan_id(self) -> int | None: ...
    @property
    def installment_id(self) -> int | None: ...
    @property
    def draw_id(self) -> int | None: ...
    @property
    def payment_id(self) -> int | None: ...
    @property
    def enrolment_id(self) -> int | None: ...
    @property
    def claim_id(self) -> int | None: ...
    @property
    def amount_oere(self) -> int | None: ...
    # The caseworker's mark, on items marked resolved (None on open items):
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def resolved_by(self) -> str | None: ...
    @property
    def resolver_name(self) -> str | None: ...
    @property
    def resolution_note(self) -> str | None: ...


@dataclass(frozen=True)
class QueueQuery:
    queue: Queue
    today: date
    pending_before: datetime  # PENDING_ENROLMENTS: requested before this
    citizen_id: int | None = None
    since_from: datetime | date | None = None  # inclusive
    since_until: datetime | date | None = None  # exclusive
    resolved: bool = False  # False: the open items; True: those a caseworker marked resolved


def _none() -> ColumnElement[Any]:
    return cast(null(), BigInteger)


def _item(
    since: Any,
    key1: Any,
    citizen_id: Any,
    *,
    key2: Any = None,
    plan_id: Any = None,
    installment_id: Any = None,
    draw_id: Any = None,
    payment_id: Any = None,
    enrolment_id: Any = None,
    claim_id: Any = None,
    amount_oere: Any = None,
) -> list[Any]:
    """The columns every queue selects, in one shape."""
    values = {
        "since": since,
        "key1": key1,
        "key2": key2 if key2 is not None else literal(0),
        "citizen_id": citizen_id,
        "plan_id": plan_id,
        "installment_id": installment_id,
        "draw_id": draw_id,
        "payment_id": payment_id,
        "enrolment_id": enrolment_id,
        "claim_id": claim_id,
        "amount_oere": amount_oere,
    }
    return [(v if v is not None else _none()).label(k) for k, v in values.items()]


def _queue_select(q: QueueQuery) -> Select[Any]:
    p, d, e, pay, pc = _plans, _draws, _enrolments, _payments, _plan_claims
    match q.queue:
        case Queue.AWAITING_ASSESSMENT:
            cols = _item(p.c.created_at, p.c.id, p.c.citizen_id, plan_id=p.c.id, amount_oere=p.c.principal_oere)
            return select(*cols).where(p.c.status == "PENDING_APPROVAL")
        case Queue.MISSED_INSTALLMENTS:
            lines = installment_lines(q.today)
            c = lines.c
            cols = _item(
                c.due_on,
                c.id,
                c.citizen_id,
                plan_id=c.plan_id,
                installment_id=c.id,
                draw_id=c.draw_id,
                amount_oere=c.unpaid_oere,
            )
            return select(*cols).where(or_(c.missed, c.overdue))
        case Queue.PENDING_ENROLMENTS:
            cols = _item(e.c.requested_at, e.c.id, e.c.citizen_id, plan_id=e.c.plan_id, enrolment_id=e.c.id)
            return select(*cols).where(
                e.c.kind == "BETALINGSSERVICE", e.c.status == "PENDING", e.c.requested_at < q.pending_before
            )
        case Queue.CLAIMS_AT_COLLECTION:
            cols = _item(
                pc.c.left_at,
                pc.c.plan_id,
                p.c.citizen_id,
                key2=pc.c.claim_id,
                plan_id=pc.c.plan_id,
                claim_id=pc.c.claim_id,
                amount_oere=pc.c.outstanding_oere,
            )
            return (
                select(*cols)
                .select_from(pc.join(p, p.c.id == pc.c.plan_id))
                .where(pc.c.left_reason == "AT_COLLECTION", pc.c.left_at.is_not(None))
            )
        case Queue.DEFAULTED_PLANS:
            cols = _item(p.c.ended_at, p.c.id, p.c.citizen_id, plan_id=p.c.id, amount_oere=p.c.principal_oere)
            return select(*cols).where(p.c.status == "DEFAULTED", p.c.ended_at.is_not(None))
        case Queue.FAILED_PAYMENTS:
            cols = _item(
                pay.c.updated_at, pay.c.id, pay.c.citizen_id, payment_id=pay.c.id, amount_oere=pay.c.amount_oere
            )
            return select(*cols).where(pay.c.status == "FAILED")
        case Queue.FAILED_DRAWS:
            cols = _item(
                d.c.due_on,
                d.c.id,
                d.c.citizen_id,
                plan_id=d.c.plan_id,
                installment_id=d.c.installment_id,
                draw_id=d.c.id,
                enrolment_id=d.c.enrolment_id,
                claim_id=d.c.claim_id,
                amount_oere=d.c.amount_oere,
            )
            return select(*cols).where(d.c.status == "FAILED")


def _filtered(q: QueueQuery, *, open_or_resolved: bool = False) -> Any:
    """The queue's items with the caseworker's mark where there is one, and the conditions of the query: open or
    resolved, one citizen's, a period."""
    inner = _queue_select(q).subquery()
    r = _resolutions
    marked = and_(r.c.queue == q.queue.value, r.c.key1 == inner.c.key1, r.c.key2 == inner.c.key2)
    items = (
        select(
            inner,
            r.c.resolved_at,
            r.c.resolved_by,
            r.c.resolver_name,
            r.c.note.label("resolution_note"),
        )
        .select_from(inner.outerjoin(r, marked))
        .subquery()
    )
    conditions: list[ColumnElement[bool]] = []
    if not open_or_resolved:
        conditions.append(items.c.resolved_at.is_not(None) if q.resolved else items.c.resolved_at.is_(None))
    if q.citizen_id is not None:
        conditions.append(items.c.citizen_id == q.citizen_id)
    if q.since_from is not None:
        conditions.append(items.c.since >= q.since_from)
    if q.since_until is not None:
        conditions.append(items.c.since < q.since_until)
    return items, conditions


async def queue_page(
    conn: AsyncConnection, q: QueueQuery, *, after: tuple[datetime | date, int, int] | None, limit: int
) -> list[QueueItemRow]:
    """A page of the queue, oldest first, after the position ``after`` (keyset paging: items added or removed
    elsewhere never shift a page)."""
    items, conditions = _filtered(q)
    c = items.c
    if after is not None:
        since, k1, k2 = after
        conditions.append(
            or_(
                c.since > since,
                and_(c.since == since, or_(c.key1 > k1, and_(c.key1 == k1, c.key2 > k2))),
            )
        )
    stmt = select(items).where(*conditions).order_by(c.since, c.key1, c.key2).limit(limit)
    return typed("list[QueueItemRow]", list(await conn.execute(stmt)))


async def queue_count(conn: AsyncConnection, q: QueueQuery) -> int:
    items, conditions = _filtered(q)
    return int((await conn.execute(select(func.count()).select_from(items).where(*conditions))).scalar_one())


async def queue_item(conn: AsyncConnection, q: QueueQuery, key1: int, key2: int) -> QueueItemRow | None:
    """The item of the queue with these keys, open or marked resolved (None: it is not in the queue)."""
    items, conditions = _filtered(q, open_or_resolved=True)
    stmt = select(items).where(*conditions, items.c.key1 == key1, items.c.key2 == key2)
    return typed("QueueItemRow | None", (await conn.execute(stmt)).first())


class WorkQueueStatements:
    """The work queues' writes (a caseworker's mark), on the connection of the caller's transaction."""

    conn: AsyncConnection

    async def work_queue_item(
        self, queue: Queue, key1: int, key2: int, *, today: date, pending_before: datetime
    ) -> QueueItemRow | None:
        """The item as the queue shows it now, open or marked resolved; None when it is not (or no longer) there."""
        return await queue_item(self.conn, QueueQuery(queue, today, pending_before), key1, key2)

    async def mark_work_queue_item_resolved(
        self,
        *,
        queue: Queue,
        key1: int,
        key2: int,
        citizen_id: int,
        by: str,
        name: str | None,
        note: str,
        now: datetime,
    ) -> int:
        """Mark the item resolved; a second mark of the same item is a unique violation (the caller's retry then
        finds it resolved)."""
        stmt = (
            insert(_resolutions)
            .values(
                queue=queue.value,
                key1=key1,
                key2=key2,
                citizen_id=citizen_id,
                resolved_by=by,
                resolver_name=name,
                resolved_at=now,
                note=note,
            )
            .returning(_resolutions.c.id)
        )
        return int((await self.conn.execute(stmt)).scalar_one())


# --- search ----------------------------------------------------------------------------------------------


class SearchBy(StrEnum):
    CPR = "CPR"
    NAME = "NAME"
    CLAIM_REFERENCE = "CLAIM_REFERENCE"


def _like_escaped(fragment: str) -> str:
    return fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_condition(by: SearchBy, text: str) -> Any:
    c = _citizens.c
    match by:
        case SearchBy.CPR:
            return c.cpr == text
        case SearchBy.NAME:
            return lower_text(c.name).like(f"%{_like_escaped(text.lower())}%", escape="\\")
        case SearchBy.CLAIM_REFERENCE:
            return c.id.in_(select(_claims.c.citizen_id).where(_claims.c.reference == text))


async def search_citizens(
    conn: AsyncConnection, by: SearchBy, text: str, *, after_id: int, limit: int
) -> list[CitizenRow]:
    """Citizens matching ``text`` (an exact CPR, a fragment of the name, an exact claim reference), by id."""
    c = _citizens.c
    stmt = select(c.id, c.cpr, c.name).where(_search_condition(by, text), c.id > after_id).order_by(c.id).limit(limit)
    return typed("list[CitizenRow]", list(await conn.execute(stmt)))


async def count_search_citizens(conn: AsyncConnection, by: SearchBy, text: str) -> int:
    stmt = select(func.count()).select_from(_citizens).where(_search_condition(by, text))
    return int((await conn.execute(stmt)).scalar_one())
