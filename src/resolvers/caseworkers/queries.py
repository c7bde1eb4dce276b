"""Caseworkers' root fields: ``citizen(cpr:)`` and ``caseworkerItems``."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from adapters.ledger import queries as q
from adapters.ledger.queries import CaseworkerItemRow
from gateway.domain.cpr import Cpr, InvalidCpr
from gateway.domain.errors import ErrorCode, GatewayError
from resolvers.caseworkers.access_log import log_caseworker_access
from resolvers.citizens.types import Citizen
from resolvers.common import ids
from resolvers.common.permissions import CaseworkerCanRead
from resolvers.common.types import Connection, Edge, Node, PageInfo, check_page
from resolvers.context import Info
from resolvers.loaders.base import present
from resolvers.plans.draws import Draw
from resolvers.plans.types import InstallmentPlan


@strawberry.type
class CaseworkerQueries:
    @strawberry.field(
        description="Look a citizen up by CPR number. Caseworkers only; every call is logged.",
        permission_classes=[CaseworkerCanRead],
    )
    async def citizen(self, info: Info, cpr: str) -> Citizen | None:
        ctx = info.context
        try:
            parsed = Cpr(cpr)
        except InvalidCpr:
            raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_CPR") from None
        row = await ctx.loaders.citizen_by_cpr.load(parsed.value)
        # Every look-up is logged, also one that finds nobody.
        await log_caseworker_access(ctx, [row.id if row is not None else None], "citizen")
        return Citizen.from_row(row) if row is not None else None


@strawberry.enum(description="Why Betalingskontoret should look at something.")
class CaseworkerItemKind(Enum):
    DRAW_FAILED = "DRAW_FAILED"  # a monthly draw failed after the provider's retries
    INVOICE_UNPAID = "INVOICE_UNPAID"  # an invoiced installment or bill passed its date unpaid
    PLAN_DEFAULTED = "PLAN_DEFAULTED"  # a plan lapsed (misligholdt)
    CLAIM_LEFT_PLAN = "CLAIM_LEFT_PLAN"  # Gældsstyrelsen took a claim that was in a plan (R14)
    REFUND_DUE = "REFUND_DUE"  # a draw brought more than its claims still owed
    PAYMENT_FAILED = "PAYMENT_FAILED"  # a one-off payment ended FAILED: the provider kept refusing it


@strawberry.type(description="Something in Betalingskontoret's work queue, with the citizen it concerns.")
class CaseworkerItem(Node):
    kind: CaseworkerItemKind
    created_at: datetime
    resolved_at: datetime | None
    citizen_pk: strawberry.Private[int]
    plan_pk: strawberry.Private[int | None]
    draw_pk: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, r: CaseworkerItemRow) -> CaseworkerItem:
        return cls(
            id=strawberry.ID(ids.encode("CaseworkerItem", r.id)),
            kind=CaseworkerItemKind(r.kind),
            created_at=r.created_at,
            resolved_at=r.resolved_at,
            citizen_pk=r.citizen_id,
            plan_pk=r.plan_id,
            draw_pk=r.draw_id,
        )

    @strawberry.field(description="The citizen it concerns.")
    async def citizen(self, info: Info) -> Citizen:
        return Citizen.from_row(present(await info.context.loaders.citizen.load(self.citizen_pk)))

    @strawberry.field
    async def installment_plan(self, info: Info) -> InstallmentPlan | None:
        return await plan_or_none(info, self.plan_pk)

    @strawberry.field
    async def draw(self, info: Info) -> Draw | None:
        return await draw_or_none(info, self.draw_pk)


async def plan_or_none(info: Info, pk: int | None) -> InstallmentPlan | None:
    """The plan an item of a caseworker's queue is about, if any (through the request's loader)."""
    return InstallmentPlan.from_row(present(await info.context.loaders.plan.load(pk))) if pk is not None else None


async def draw_or_none(info: Info, pk: int | None) -> Draw | None:
    return Draw.from_row(present(await info.context.loaders.draw.load(pk))) if pk is not None else None


@strawberry.type
class CaseworkerItemQueries:
    @strawberry.field(
        description="Open items for Betalingskontoret (missed draws, unpaid invoices, lapsed plans, claims that "
        "left a plan for collection), oldest first. Caseworkers only; the citizens shown are logged.",
        permission_classes=[CaseworkerCanRead],
    )
    async def caseworker_items(
        self,
        info: Info,
        kinds: list[CaseworkerItemKind] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[CaseworkerItem]:
        ctx = info.context
        limit, after_id = check_page(info, first, after)  # the cursor is the last item's id, so it stays stable
        wanted = [k.value for k in kinds] if kinds else None
        async with ctx.db.read() as conn:
            rows = await q.open_caseworker_items(conn, kinds=wanted, after_id=after_id - 1, limit=limit + 1)
            total = await q.count_open_caseworker_items(conn, kinds=wanted)
        page = rows[:limit]
        items = [CaseworkerItem.from_row(r) for r in page]
        # The queue shows whose items they are (plans, amounts): a look-up of each citizen, logged.
        await log_caseworker_access(ctx, [r.citizen_id for r in page], "caseworkerItems")
        edges = [Edge(cursor=ids.encode_cursor(r.id), node=item) for r, item in zip(page, items, strict=True)]
        return Connection(
            edges=edges,
            nodes=items,
            page_info=PageInfo(
                has_next_page=len(rows) > limit,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=total,
        )
