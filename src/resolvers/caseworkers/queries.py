"""Caseworkers' root fields: ``citizen(cpr:)``."""

from __future__ import annotations

import strawberry

from gateway.domain.cpr import Cpr, InvalidCpr
from gateway.domain.errors import ErrorCode, GatewayError
from resolvers.caseworkers.access_log import log_caseworker_access
from resolvers.citizens.types import Citizen
from resolvers.context import Info


@strawberry.type
class CaseworkerQueries:
    @strawberry.field(description="Look a citizen up by CPR number. Caseworkers only; every call is logged.")
    async def citizen(self, info: Info, cpr: str) -> Citizen | None:
        ctx = info.context
        ctx.require_caseworker()
        try:
            parsed = Cpr(cpr)
        except InvalidCpr:
            raise GatewayError(ErrorCode.BAD_USER_INPUT, "INVALID_CPR") from None
        row = await ctx.loaders.citizen_by_cpr.load(parsed.value)
        # Every look-up is logged, also one that finds nobody.
        await log_caseworker_access(ctx, [row.id if row is not None else None], "citizen")
        return Citizen.from_row(row) if row is not None else None
