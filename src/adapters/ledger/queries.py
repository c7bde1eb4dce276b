"""Read queries on the ledger, each batched over many keys (the DataLoaders call these).

Every function takes a connection and a list of keys and issues exactly one SQL statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Row, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m

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


async def citizens_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    t = m.table(m.Citizen)
    return list(await conn.execute(select(t.c.id, t.c.cpr, t.c.name).where(t.c.id.in_(ids))))


async def citizen_version(conn: AsyncConnection, cpr: str) -> Any:
    """The citizen row with its data version (the response cache's key), by CPR."""
    t = m.table(m.Citizen)
    stmt = select(t.c.id, t.c.cpr, t.c.name, t.c.created_at, t.c.data_version).where(t.c.cpr == cpr)
    return (await conn.execute(stmt)).first()


async def citizens_by_cprs(conn: AsyncConnection, cprs: Sequence[str]) -> list[Row[Any]]:
    t = m.table(m.Citizen)
    return list(await conn.execute(select(t.c.id, t.c.cpr, t.c.name).where(t.c.cpr.in_(cprs))))


async def claims_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[Row[Any]]:
    """All claims of these citizens with their outstanding sums, oldest due date first."""
    stmt = select(*_CLAIM_COLUMNS).where(_claims.c.citizen_id.in_(citizen_ids)).order_by(_claims.c.due_on, _claims.c.id)
    return list(await conn.execute(stmt))


async def claims_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    return list(await conn.execute(select(*_CLAIM_COLUMNS).where(_claims.c.id.in_(ids))))


async def departments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    t = m.table(m.Department)
    return list(await conn.execute(select(t).where(t.c.id.in_(ids))))


async def all_departments(conn: AsyncConnection) -> list[Row[Any]]:
    t = m.table(m.Department)
    return list(await conn.execute(select(t).order_by(t.c.name)))


async def entries_by_claim_ids(conn: AsyncConnection, claim_ids: Sequence[int]) -> list[Row[Any]]:
    e = _entries
    stmt = (
        select(e.c.id, e.c.claim_id, e.c.posted_on, e.c.kind, e.c.component, e.c.text, e.c.amount_oere, e.c.payment_id)
        .where(e.c.claim_id.in_(claim_ids))
        .order_by(e.c.claim_id, e.c.posted_on, e.c.id)
    )
    return list(await conn.execute(stmt))


# --- installment plans -------------------------------------------------------------------------------

_plans = m.table(m.InstallmentPlan)
_plan_claims = m.table(m.PlanClaim)
_installments = m.table(m.Installment)


async def plans_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    return list(await conn.execute(select(_plans).where(_plans.c.id.in_(ids))))


async def plans_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[Row[Any]]:
    stmt = (
        select(_plans)
        .where(_plans.c.citizen_id.in_(citizen_ids))
        .order_by(_plans.c.created_at.desc(), _plans.c.id.desc())
    )
    return list(await conn.execute(stmt))


async def live_plan_claims_by_claim_ids(conn: AsyncConnection, claim_ids: Sequence[int]) -> list[Row[Any]]:
    stmt = select(_plan_claims.c.claim_id, _plan_claims.c.plan_id).where(_plan_claims.c.live_claim_id.in_(claim_ids))
    return list(await conn.execute(stmt))


async def plan_claims_by_plan_ids(conn: AsyncConnection, plan_ids: Sequence[int]) -> list[Row[Any]]:
    stmt = (
        select(_plan_claims.c.plan_id, _plan_claims.c.claim_id, _plan_claims.c.outstanding_oere)
        .where(_plan_claims.c.plan_id.in_(plan_ids))
        .order_by(_plan_claims.c.plan_id, _plan_claims.c.claim_id)
    )
    return list(await conn.execute(stmt))


async def installments_by_plan_ids(conn: AsyncConnection, plan_ids: Sequence[int]) -> list[Row[Any]]:
    stmt = (
        select(_installments)
        .where(_installments.c.plan_id.in_(plan_ids))
        .order_by(_installments.c.plan_id, _installments.c.number)
    )
    return list(await conn.execute(stmt))


async def paid_into_plans(conn: AsyncConnection, plan_ids: Sequence[int]) -> list[Row[Any]]:
    """Per plan, what was paid on its claims since the plan was made (payments are negative entries)."""
    e = _entries
    stmt = (
        select(
            _plan_claims.c.plan_id,
            cast(-func.sum(e.c.amount_oere), BigInteger).label("paid_oere"),
        )
        .select_from(
            _plan_claims.join(_plans, _plans.c.id == _plan_claims.c.plan_id).join(
                e, e.c.claim_id == _plan_claims.c.claim_id
            )
        )
        .where(_plan_claims.c.plan_id.in_(plan_ids), e.c.kind == "PAYMENT", e.c.created_at >= _plans.c.created_at)
        .group_by(_plan_claims.c.plan_id)
    )
    return list(await conn.execute(stmt))


async def installments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    return list(await conn.execute(select(_installments).where(_installments.c.id.in_(ids))))


# --- automatic payment, MobilePay accounts, payments ----------------------------------------------------

_enrolments = m.table(m.Enrolment)
_enrolment_claims = m.table(m.EnrolmentClaim)
_accounts = m.table(m.MobilePayAccount)
_payments = m.table(m.Payment)
_payment_claims = m.table(m.PaymentClaim)


async def enrolments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    return list(await conn.execute(select(_enrolments).where(_enrolments.c.id.in_(ids))))


async def enrolments_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[Row[Any]]:
    stmt = (
        select(_enrolments)
        .where(_enrolments.c.citizen_id.in_(citizen_ids))
        .order_by(_enrolments.c.requested_at.desc(), _enrolments.c.id.desc())
    )
    return list(await conn.execute(stmt))


async def live_enrolments_by_plan_ids(conn: AsyncConnection, plan_ids: Sequence[int]) -> list[Row[Any]]:
    return list(await conn.execute(select(_enrolments).where(_enrolments.c.live_plan_id.in_(plan_ids))))


async def live_enrolment_claims_by_claim_ids(conn: AsyncConnection, claim_ids: Sequence[int]) -> list[Row[Any]]:
    stmt = select(_enrolment_claims.c.claim_id, _enrolment_claims.c.enrolment_id).where(
        _enrolment_claims.c.live_claim_id.in_(claim_ids)
    )
    return list(await conn.execute(stmt))


async def enrolment_claims_by_enrolment_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    stmt = select(_enrolment_claims.c.enrolment_id, _enrolment_claims.c.claim_id).where(
        _enrolment_claims.c.enrolment_id.in_(ids)
    )
    return list(await conn.execute(stmt))


async def accounts_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    return list(await conn.execute(select(_accounts).where(_accounts.c.id.in_(ids))))


async def accounts_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[Row[Any]]:
    stmt = select(_accounts).where(_accounts.c.citizen_id.in_(citizen_ids)).order_by(_accounts.c.id)
    return list(await conn.execute(stmt))


async def payments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    return list(await conn.execute(select(_payments).where(_payments.c.id.in_(ids))))


async def payments_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[Row[Any]]:
    stmt = (
        select(_payments)
        .where(_payments.c.citizen_id.in_(citizen_ids))
        .order_by(_payments.c.created_at.desc(), _payments.c.id.desc())
    )
    return list(await conn.execute(stmt))


async def payment_claims_by_payment_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    stmt = select(_payment_claims.c.payment_id, _payment_claims.c.claim_id).where(_payment_claims.c.payment_id.in_(ids))
    return list(await conn.execute(stmt))


async def allocations_by_payment_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    e = _entries
    stmt = (
        select(e.c.payment_id, e.c.claim_id, e.c.component, e.c.amount_oere)
        .where(e.c.payment_id.in_(ids))
        .order_by(e.c.payment_id, e.c.id)
    )
    return list(await conn.execute(stmt))


# --- access log ------------------------------------------------------------------------------------------

_access = m.table(m.AccessLogEntry)


async def access_log_by_citizen_ids(conn: AsyncConnection, citizen_ids: Sequence[int]) -> list[Row[Any]]:
    stmt = (
        select(_access).where(_access.c.citizen_id.in_(citizen_ids)).order_by(_access.c.at.desc(), _access.c.id.desc())
    )
    return list(await conn.execute(stmt))


async def access_log_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[Row[Any]]:
    return list(await conn.execute(select(_access).where(_access.c.id.in_(ids))))
