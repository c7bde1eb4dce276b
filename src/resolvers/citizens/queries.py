"""The citizen's own root field: ``me``."""

from __future__ import annotations

import strawberry

from resolvers.citizens.types import Citizen
from resolvers.context import Info
from resolvers.loaders.base import present


@strawberry.type
class CitizenQueries:
    @strawberry.field(description="The signed-in citizen; null for a caseworker.")
    async def me(self, info: Info) -> Citizen | None:
        ctx = info.context
        citizen_id = await ctx.viewer_citizen_id()
        if citizen_id is None:
            return None
        return Citizen.from_row(present(await ctx.loaders.citizen.load(citizen_id)))
