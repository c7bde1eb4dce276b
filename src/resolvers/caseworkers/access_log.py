"""Every caseworker look-up of citizens' data is recorded in the access log (a citizen may ask to see it)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.domain.viewers import CaseworkerViewer
from resolvers.common.acting import actor_of
from resolvers.context import Context


async def log_caseworker_access(ctx: Context, citizen_ids: Sequence[int | None], operation: str) -> None:
    """One row per citizen shown (None: a look-up that found nobody), when the viewer is a caseworker."""
    viewer = ctx.viewer
    if not isinstance(viewer, CaseworkerViewer) or not citizen_ids:
        return
    await ctx.services.access_log.record(
        caseworker_id=viewer.caseworker_id,
        citizen_ids=citizen_ids,
        operation=operation,
        request_id=ctx.request_id,
        actor=actor_of(viewer),
    )
