"""``portfolio``: Betalingskontoret's figures over the whole ledger (issue 12, item 1). Caseworkers who may read.

Each part is computed by one aggregate statement in the database (``adapters.ledger.workplace``) when it is asked
for, with the time it was computed (``asOf``); what comes back is a handful of group rows, never the ledger. Sums
are ``MoneyTotal`` (øre as a ``BigInt`` string), as a portfolio's sum passes GraphQL's 32-bit ``Int``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated

import strawberry

from adapters.ledger import workplace as w
from gateway.domain.claims import ClaimKind
from gateway.domain.clock import today, utcnow
from gateway.domain.collection import CollectionStatus
from gateway.domain.enrolments import EnrolmentStatus
from gateway.domain.errors import bad_input
from resolvers.claims.types import Department
from resolvers.common.permissions import CaseworkerCanRead
from resolvers.common.types import MoneyTotal, money_total
from resolvers.context import Info
from resolvers.loaders.base import present
from resolvers.payments.types import PaymentMethodKind, PaymentStatus
from resolvers.plans.types import InstallmentPlanStatus

MAX_PERIOD_DAYS = 366 * 5  # a period of installments: at most five years


@strawberry.type(description="How many, and their sum.")
class CountAndSum:
    count: int
    total: MoneyTotal


def _count_and_sum(count: int, oere: int) -> CountAndSum:
    return CountAndSum(count=count, total=money_total(oere))


@strawberry.type(description="Open claims of one department.")
class DepartmentTotal:
    count: int
    outstanding: MoneyTotal
    department_pk: strawberry.Private[int]

    @strawberry.field
    async def department(self, info: Info) -> Department:
        return Department.from_row(present(await info.context.loaders.department.load(self.department_pk)))


@strawberry.type(description="Open claims of one kind.")
class ClaimKindTotal:
    kind: ClaimKind
    count: int
    outstanding: MoneyTotal


@strawberry.type(
    description="Open claims by Gældsstyrelsen's last known status (the worker asks about every claim in turn); "
    "UNKNOWN: not asked about yet."
)
class CollectionStatusTotal:
    status: CollectionStatus
    count: int
    outstanding: MoneyTotal


@strawberry.type(description="Open claims (outstanding above zero): counts and outstanding sums.")
class ClaimsPortfolio:
    as_of: datetime = strawberry.field(description="When the figures were computed.")
    count: int
    outstanding: MoneyTotal
    by_department: list[DepartmentTotal]
    by_kind: list[ClaimKindTotal]
    by_collection_status: list[CollectionStatusTotal]
    collection_status_as_of: datetime | None = strawberry.field(
        description="The oldest of the collection statuses counted: each is what Gældsstyrelsen said at least "
        "this recently (null when none is known)."
    )


@strawberry.type
class PlanStatusTotal:
    status: InstallmentPlanStatus
    count: int
    principal: MoneyTotal = strawberry.field(description="The sum of the plans' principals.")


@strawberry.type
class PlansPortfolio:
    as_of: datetime
    by_status: list[PlanStatusTotal]


@strawberry.type(
    description="Installments falling due in a period (of plans in force: active, completed or lapsed). "
    "drawn: an automatic draw was charged; invoiced: an invoice was sent; missed: the automatic draw failed; "
    "overdue: the date passed unpaid with no draw being taken. missed and overdue sum what is still unpaid."
)
class InstallmentsPortfolio:
    as_of: datetime
    start: date = strawberry.field(name="from")
    end: date = strawberry.field(name="to")
    due: CountAndSum
    drawn: CountAndSum
    invoiced: CountAndSum
    missed: CountAndSum
    overdue: CountAndSum


@strawberry.type
class EnrolmentTotal:
    kind: PaymentMethodKind
    status: EnrolmentStatus
    count: int


@strawberry.type
class EnrolmentsPortfolio:
    as_of: datetime
    by_kind_and_status: list[EnrolmentTotal]


@strawberry.type
class PaymentStatusTotal:
    status: PaymentStatus
    count: int
    amount: MoneyTotal


@strawberry.type
class PaymentsPortfolio:
    as_of: datetime
    by_status: list[PaymentStatusTotal]


def _totals(rows: Iterable[w.ClaimTotalRow], key: str) -> dict[object, tuple[int, int]]:
    """Roll the (department, kind, status) groups up to one of them (a few dozen group rows, not ledger rows)."""
    out: dict[object, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for r in rows:
        count, oere = out[getattr(r, key)]
        out[getattr(r, key)] = (count + r.claims, oere + r.outstanding_oere)
    return out


@strawberry.type(description="Betalingskontoret's portfolio. Each part is computed when asked for, by the database.")
class Portfolio:
    @strawberry.field(description="Open claims by department and by kind.")
    async def claims(self, info: Info) -> ClaimsPortfolio:
        as_of = utcnow()
        async with info.context.db.read() as conn:
            rows = await w.open_claim_totals(conn)
        return ClaimsPortfolio(
            as_of=as_of,
            count=sum(r.claims for r in rows),
            outstanding=money_total(sum(r.outstanding_oere for r in rows)),
            by_department=[
                DepartmentTotal(count=c, outstanding=money_total(o), department_pk=int(str(k)))
                for k, (c, o) in _totals(rows, "department_id").items()
            ],
            by_kind=[
                ClaimKindTotal(kind=ClaimKind(str(k)), count=c, outstanding=money_total(o))
                for k, (c, o) in sorted(_totals(rows, "kind").items(), key=lambda kv: str(kv[0]))
            ],
            by_collection_status=[
                CollectionStatusTotal(status=CollectionStatus(str(k)), count=c, outstanding=money_total(o))
                for k, (c, o) in sorted(_totals(rows, "collection_status").items(), key=lambda kv: str(kv[0]))
            ],
            collection_status_as_of=min((r.oldest_check for r in rows if r.oldest_check is not None), default=None),
        )

    @strawberry.field(description="Plans by status, with the sum of their principals.")
    async def plans(self, info: Info) -> PlansPortfolio:
        as_of = utcnow()
        async with info.context.db.read() as conn:
            rows = await w.plan_totals(conn)
        return PlansPortfolio(
            as_of=as_of,
            by_status=[
                PlanStatusTotal(
                    status=InstallmentPlanStatus(r.status), count=r.count, principal=money_total(r.amount_oere)
                )
                for r in rows
            ],
        )

    @strawberry.field(description="Installments falling due from `from` to `to` (inclusive, at most five years).")
    async def installments(
        self,
        info: Info,
        start: Annotated[date, strawberry.argument(name="from")],
        end: Annotated[date, strawberry.argument(name="to")],
    ) -> InstallmentsPortfolio:
        if start > end or (end - start).days >= MAX_PERIOD_DAYS:
            raise bad_input("INVALID_PERIOD", max_days=MAX_PERIOD_DAYS)
        as_of = utcnow()
        async with info.context.db.read() as conn:
            r = await w.installment_totals(conn, start=start, end=end, today=today())
        return InstallmentsPortfolio(
            as_of=as_of,
            start=start,
            end=end,
            **{m: _count_and_sum(getattr(r, f"{m}_count"), getattr(r, f"{m}_oere")) for m in w.INSTALLMENT_MEASURES},
        )

    @strawberry.field(description="Automatic-payment enrolments by kind and status.")
    async def enrolments(self, info: Info) -> EnrolmentsPortfolio:
        as_of = utcnow()
        async with info.context.db.read() as conn:
            rows = await w.enrolment_totals(conn)
        return EnrolmentsPortfolio(
            as_of=as_of,
            by_kind_and_status=[
                EnrolmentTotal(kind=PaymentMethodKind(r.kind), status=EnrolmentStatus(r.status), count=r.count)
                for r in rows
            ],
        )

    @strawberry.field(description="One-off payments by status, with their sums.")
    async def payments(self, info: Info) -> PaymentsPortfolio:
        as_of = utcnow()
        async with info.context.db.read() as conn:
            rows = await w.payment_totals(conn)
        return PaymentsPortfolio(
            as_of=as_of,
            by_status=[
                PaymentStatusTotal(status=PaymentStatus(r.status), count=r.count, amount=money_total(r.amount_oere))
                for r in rows
            ],
        )


@strawberry.type
class PortfolioQueries:
    @strawberry.field(
        description="Betalingskontoret's portfolio: outstanding claims, plans, installments, enrolments and "
        "payments, aggregated in the database. Caseworkers only (reading). Reveals no citizen.",
        permission_classes=[CaseworkerCanRead],
    )
    def portfolio(self) -> Portfolio:
        return Portfolio()
