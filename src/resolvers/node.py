"""``node(id:)`` and ``nodes(ids:)``: any object by its global ID, only if the viewer may see it.

Above every domain package, as the schema is: it knows every Node type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry

from gateway.domain.errors import ErrorCode, GatewayError
from gateway.domain.viewers import CaseworkerPermission, CaseworkerViewer
from resolvers.caseworkers.access_log import log_caseworker_access
from resolvers.caseworkers.queries import CaseworkerItem
from resolvers.citizens.types import AccessLogEntry, Citizen
from resolvers.claims.types import Claim, Department
from resolvers.common import ids
from resolvers.common.types import Node
from resolvers.context import Info
from resolvers.loaders import Loaders
from resolvers.loaders.base import RowByKey, present
from resolvers.payments.types import MobilePayAccount, Payment, PaymentMethod
from resolvers.plans.draws import Draw
from resolvers.plans.types import InstallmentPlan

MAX_NODES = 100

R = TypeVar("R")


@dataclass(frozen=True)
class _NodeType(Generic[R]):
    """How a node type is loaded and built, whose it is (None: nobody's), and whether only caseworkers see it
    (internal objects; a caseworker's look-up of a citizen's object is logged either way)."""

    loader: Callable[[Loaders], RowByKey[int, R]]
    build: Callable[[R], Node]
    owner: Callable[[R], int | None]
    staff_only: Callable[[R], bool] = lambda _: False


_TYPES: dict[str, _NodeType[Any]] = {
    "Citizen": _NodeType(lambda ld: ld.citizen, Citizen.from_row, lambda r: r.id),
    "Claim": _NodeType(lambda ld: ld.claim, Claim.from_row, lambda r: r.citizen_id),
    "Department": _NodeType(lambda ld: ld.department, Department.from_row, lambda r: None),
    "InstallmentPlan": _NodeType(lambda ld: ld.plan, InstallmentPlan.from_row, lambda r: r.citizen_id),
    "PaymentMethod": _NodeType(lambda ld: ld.enrolment, PaymentMethod.from_row, lambda r: r.citizen_id),
    "Payment": _NodeType(lambda ld: ld.payment, Payment.from_row, lambda r: r.citizen_id),
    "MobilePayAccount": _NodeType(lambda ld: ld.account, MobilePayAccount.from_row, lambda r: r.citizen_id),
    # A look-up that found nobody is about no citizen: caseworkers only.
    "AccessLogEntry": _NodeType(
        lambda ld: ld.access_log_entry,
        AccessLogEntry.from_row,
        lambda r: r.citizen_id,
        staff_only=lambda r: r.citizen_id is None,
    ),
    "Draw": _NodeType(lambda ld: ld.draw, Draw.from_row, lambda r: r.citizen_id),
    "CaseworkerItem": _NodeType(
        lambda ld: ld.caseworker_item, CaseworkerItem.from_row, lambda r: r.citizen_id, staff_only=lambda r: True
    ),
}


async def _load(info: Info, global_id: str) -> tuple[Node | None, int | None]:
    """The node and the citizen who owns it, or (None, None) when absent or not the viewer's to see."""
    ctx = info.context
    ctx.require_viewer()
    try:
        type_name, key = ids.decode(global_id)
    except ids.InvalidGlobalId:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_ID") from None
    return await load_node(info, type_name, key)


async def load_node(info: Info, type_name: str, key: int) -> tuple[Node | None, int | None]:
    """``_load`` for a decoded ID (the subscriptions know their type already)."""
    ctx = info.context
    if type_name == "Installment":
        row = await ctx.loaders.installment.load(key)
        if row is None:
            return None, None
        plan_row = present(await ctx.loaders.plan.load(row.plan_id))
        if not await ctx.can_see_citizen(plan_row.citizen_id):
            return None, None
        # Built through the plan so the channel and status are computed one way only.
        for inst in await InstallmentPlan.from_row(plan_row).load_installments(info):
            if inst.number == row.number:
                return inst, plan_row.citizen_id
        return None, None
    node_type = _TYPES[type_name]
    found = await node_type.loader(ctx.loaders).load(key)
    if found is None:
        return None, None
    owner = node_type.owner(found)
    staff = isinstance(ctx.viewer, CaseworkerViewer) and ctx.viewer.may(CaseworkerPermission.READ)
    if node_type.staff_only(found) and not staff:
        return None, None
    if owner is not None and not await ctx.can_see_citizen(owner):
        return None, None  # indistinguishable from "does not exist"
    return node_type.build(found), owner


async def resolve_node(info: Info, id: str) -> Node | None:
    node, owner = await _load(info, id)
    if isinstance(info.context.viewer, CaseworkerViewer) and owner is not None:
        await log_caseworker_access(info.context, [owner], "node")
    return node


async def resolve_nodes(info: Info, ids_: list[str]) -> list[Node | None]:
    if len(ids_) > MAX_NODES:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "TOO_MANY_IDS", max=MAX_NODES)
    info.context.require_viewer()
    loaded = await asyncio.gather(*(_load(info, i) for i in ids_))
    owners = [owner for _, owner in loaded if owner is not None]
    if isinstance(info.context.viewer, CaseworkerViewer) and owners:
        await log_caseworker_access(info.context, owners, "nodes")
    return [node for node, _ in loaded]


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Fetch any object by its global ID.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description="Fetch up to 100 objects by their global IDs, in order (null where not found).")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        return await resolve_nodes(info, list(ids))
