"""``node(id:)`` and ``nodes(ids:)``: any object by its global ID, only if the viewer may see it."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.domain.errors import ErrorCode, GatewayError
from gateway.domain.viewers import CaseworkerViewer
from resolvers.citizens import AccessLogEntry, Citizen, write_access_log
from resolvers.common import ids
from resolvers.context import Info
from resolvers.types import (
    Claim,
    Department,
    InstallmentPlan,
    MobilePayAccount,
    Node,
    Payment,
    PaymentMethod,
)

MAX_NODES = 100

# type name -> (loader name, builder, column holding the owning citizen's id or None when public)
_TYPES: dict[str, tuple[str, Any, str | None]] = {
    "Citizen": ("citizen", Citizen.from_row, "id"),
    "Claim": ("claim", Claim.from_row, "citizen_id"),
    "Department": ("department", Department.from_row, None),
    "InstallmentPlan": ("plan", InstallmentPlan.from_row, "citizen_id"),
    "PaymentMethod": ("enrolment", PaymentMethod.from_row, "citizen_id"),
    "Payment": ("payment", Payment.from_row, "citizen_id"),
    "MobilePayAccount": ("account", MobilePayAccount.from_row, "citizen_id"),
    "AccessLogEntry": ("access_log_entry", AccessLogEntry.from_row, "citizen_id"),
}


async def _load(info: Info, global_id: str) -> tuple[Node | None, int | None]:
    """The node and the citizen who owns it, or (None, None) when absent or not the viewer's to see."""
    ctx = info.context
    ctx.require_viewer()
    try:
        type_name, key = ids.decode(global_id)
    except ids.InvalidGlobalId:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_ID") from None
    if type_name == "Installment":
        row = await ctx.loaders.installment.load(key)
        if row is None:
            return None, None
        plan_row = await ctx.loaders.plan.load(row.plan_id)
        if not await ctx.can_see_citizen(plan_row.citizen_id):
            return None, None
        # Built through the plan so the channel and status are computed one way only.
        for inst in await InstallmentPlan.from_row(plan_row).load_installments(info):
            if inst.number == row.number:
                return inst, plan_row.citizen_id
        return None, None
    loader_name, build, owner_column = _TYPES[type_name]
    row = await getattr(ctx.loaders, loader_name).load(key)
    if row is None:
        return None, None
    owner = getattr(row, owner_column) if owner_column else None
    if owner is not None and not await ctx.can_see_citizen(owner):
        return None, None  # indistinguishable from "does not exist"
    return build(row), owner


async def resolve_node(info: Info, id: str) -> Node | None:
    node, owner = await _load(info, id)
    if isinstance(info.context.viewer, CaseworkerViewer) and owner is not None:
        await write_access_log(info.context, [owner], "node")
    return node


async def resolve_nodes(info: Info, ids_: list[str]) -> list[Node | None]:
    if len(ids_) > MAX_NODES:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "TOO_MANY_IDS", max=MAX_NODES)
    info.context.require_viewer()
    loaded = await asyncio.gather(*(_load(info, i) for i in ids_))
    owners = [owner for _, owner in loaded if owner is not None]
    if isinstance(info.context.viewer, CaseworkerViewer) and owners:
        await write_access_log(info.context, list(owners), "nodes")
    return [node for node, _ in loaded]
