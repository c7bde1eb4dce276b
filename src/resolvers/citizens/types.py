"""Citizen: the overview (R1) — claims, plans, automatic payment, payments, MobilePay accounts — and who looked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from operator import itemgetter

import strawberry

from adapters.ledger.fastread import CITIZEN_COLUMNS, position
from adapters.ledger.queries import AccessLogRow, CitizenRow, ClaimRow
from gateway.domain.acting import describe_access
from gateway.domain.claims import claim_status
from gateway.domain.viewers import CitizenViewer
from resolvers.citizens.notices import Notice, notices_for
from resolvers.claims.prefetch import prefetch_claims
from resolvers.claims.types import Claim, ClaimFilter
from resolvers.common import ids
from resolvers.common.mapping import MAX_PAGE_SIZE, Arguments, Related, Tables, Value, column
from resolvers.common.types import Connection, Money, Node, check_page, money, page_bounds, paginate
from resolvers.context import Info
from resolvers.payments.types import MobilePayAccount, Payment, PaymentMethod
from resolvers.plans.types import InstallmentPlan


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
    actor_name: str | None = strawberry.field(description="The caseworker's name, where their token gave it.")
    actor_unit: str | None = strawberry.field(description="The caseworker's unit, where their token gave it.")
    operation: str = strawberry.field(description="The GraphQL operation (for machines; people read description).")
    purpose: str | None = strawberry.field(
        description="Why a caseworker acted on the citizen's behalf (as the caseworker wrote it)."
    )
    request_id: str

    @classmethod
    def from_row(cls, r: AccessLogRow) -> AccessLogEntry:
        return cls(
            id=strawberry.ID(ids.encode("AccessLogEntry", r.id)),
            at=r.at,
            actor_kind=ActorKind(r.actor_kind),
            actor_id=r.actor_id,
            actor_name=r.actor_name,
            actor_unit=r.actor_unit,
            operation=r.operation,
            purpose=r.purpose,
            request_id=r.request_id,
        )

    @strawberry.field(
        description="What was looked at or done, by whom (name and unit where known) and why, in the request's "
        "language: for the citizen's own view."
    )
    def description(self, info: Info) -> str:
        return describe_access(
            self.operation,
            name=self.actor_name,
            unit=self.actor_unit,
            purpose=self.purpose,
            language=info.context.language,
        )


NO_RECORD = 0
"""The key of the ``Citizen`` ID of a signed-in citizen the ledger has no record of."""


@strawberry.type(description="A citizen (borger) and their debt to the municipality.")
class Citizen(Node):
    cpr: str = strawberry.field(description="The citizen's CPR number, ten digits (R1).")
    name: str
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, r: CitizenRow) -> Citizen:
        return cls(id=strawberry.ID(ids.encode("Citizen", r.id)), cpr=r.cpr, name=r.name, pk=r.id)

    @classmethod
    def without_record(cls, viewer: CitizenViewer) -> Citizen:
        """A signed-in citizen the ledger has never had a claim for: their CPR (it is theirs to see), the name
        their token carries or an empty one (``name`` is non-null), and no claims, plans, payments or notices.
        ``NO_RECORD`` is no ledger row's id (rows start at 1), so the ID carries nothing of the CPR and
        ``node`` finds nothing behind it; every relation below looks up that id and finds nothing."""
        return cls(
            id=strawberry.ID(ids.encode("Citizen", NO_RECORD)),
            cpr=viewer.cpr.value,
            name=viewer.name or "",
            pk=NO_RECORD,
        )

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


# --- the compiled read path's view (resolvers/common/mapping.py): a citizen is its row, read by position ---------
_ID, _CPR, _NAME = (position(CITIZEN_COLUMNS, c) for c in ("id", "cpr", "name"))


def _page(args: Arguments) -> tuple[int, int]:
    return page_bounds(args[MAX_PAGE_SIZE], args.get("first"), args.get("after"))


def _claims_page(rows: Sequence[ClaimRow], _citizen: object, args: Arguments) -> Connection[ClaimRow]:
    """``Citizen.claims`` over the rows, as the resolver pages its ``Claim`` objects."""
    limit, offset = _page(args)
    wanted = (args.get("filter") or {}).get("status")
    if wanted:
        rows = [r for r in rows if claim_status(r.outstanding_oere) == wanted]
    return paginate(rows, limit, offset)


COMPILED: Tables = {
    "Citizen": {
        "id": Value(lambda r: ids.encode("Citizen", r[_ID])),
        "cpr": column(_CPR),
        "name": column(_NAME),
        "claims": Related("claims_by_citizen", itemgetter(_ID), _claims_page, check=_page),
        "totalOutstanding": Related(
            "claims_by_citizen", itemgetter(_ID), lambda rows, _c, _a: sum(max(r.outstanding_oere, 0) for r in rows)
        ),
        # What ``notices_for`` gives, called by the compiled path as by the resolver (resolvers/compiled/relations.py).
        "notices": Related("notices", itemgetter(_ID), lambda notices, _c, _a: notices),
    },
}
