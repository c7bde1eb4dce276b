"""The citizen's own root field: ``me``."""

from __future__ import annotations

import strawberry

from adapters.ledger.queries import CitizenRow
from gateway.domain.viewers import CitizenViewer
from resolvers.citizens.types import NO_RECORD, Citizen
from resolvers.common.mapping import Arguments, Related, Tables
from resolvers.context import Info
from resolvers.loaders.base import present


@strawberry.type
class CitizenQueries:
    @strawberry.field(
        description="The signed-in citizen; null for a caseworker. A citizen the ledger has no record of is "
        "shown with their CPR, the token's name (or an empty one) and nothing else; their ID is the same for all "
        "of them and no node's."
    )
    async def me(self, info: Info) -> Citizen | None:
        ctx = info.context
        viewer = ctx.require_viewer()
        if not isinstance(viewer, CitizenViewer):
            return None
        citizen_id = await ctx.viewer_citizen_id()
        if citizen_id is None:
            return Citizen.without_record(viewer)
        return Citizen.from_row(present(await ctx.loaders.citizen.load(citizen_id)))


def _me(row: CitizenRow | None, viewer: CitizenViewer, _args: Arguments) -> tuple[int, str, str]:
    """``me`` for a signed-in citizen: their row, or ``Citizen.without_record``'s values."""
    if row is None:
        return (NO_RECORD, viewer.cpr.value, viewer.name or "")
    return row  # type: ignore[return-value]


# The compiled read path (resolvers/common/mapping.py) runs only for citizens: the root's source is the viewer.
COMPILED: Tables = {"Query": {"me": Related("citizen_by_cpr", lambda viewer: viewer.cpr.value, _me)}}
