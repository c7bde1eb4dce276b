"""``searchCitizens``: find a citizen by exact CPR, a fragment of the name, or a claim reference (issue 12, item 3).

Lists show the CPR masked (``CitizenSummary``); the full CPR only on the single-citizen view. Every citizen a
page of results reveals is written to the access log, and so is a CPR search that found nobody (as
``citizen(cpr:)`` does): a look-up by CPR says something about that person either way.
"""

from __future__ import annotations

import strawberry

from adapters.ledger import workplace as w
from gateway.domain.cpr import Cpr, InvalidCpr
from gateway.domain.errors import bad_input
from resolvers.caseworkers.access_log import log_caseworker_access
from resolvers.caseworkers.workqueues import CitizenSummary
from resolvers.common import ids
from resolvers.common.permissions import CaseworkerCanRead
from resolvers.common.types import Connection, Edge, check_first, decode_keyset, keyset_page_info
from resolvers.context import Info

strawberry.enum(w.SearchBy, name="CitizenSearchBy", description="What the search text is.")


LENGTHS = {w.SearchBy.NAME: (2, 100), w.SearchBy.CLAIM_REFERENCE: (1, 40)}


def _normalized(by: w.SearchBy, text: str) -> str:
    text = text.strip()
    if by is w.SearchBy.CPR:
        try:
            return Cpr(text).value
        except InvalidCpr:
            raise bad_input("INVALID_CPR") from None
    low, high = LENGTHS[by]
    # Control characters (PostgreSQL refuses NUL in text) are in no name or reference.
    if not low <= len(text) <= high or not text.isprintable():
        raise bad_input("INVALID_SEARCH_TEXT", min=low, max=high)
    # References are upper case (RK-DAG-2025-0412) and matched exactly; names by a fragment, ignoring case.
    return text.upper() if by is w.SearchBy.CLAIM_REFERENCE else text


@strawberry.type
class SearchQueries:
    @strawberry.field(
        description="Find citizens by exact CPR, a fragment of the name (case-insensitive) or an exact claim "
        "reference; by ledger order. The CPR is masked in the list. Caseworkers only (reading); every citizen "
        "found is logged.",
        permission_classes=[CaseworkerCanRead],
    )
    async def search_citizens(
        self, info: Info, by: w.SearchBy, text: str, first: int | None = None, after: str | None = None
    ) -> Connection[CitizenSummary]:
        ctx = info.context
        limit = check_first(info, first)
        needle = _normalized(by, text)
        # The scope is a digest: the search text (a CPR) never appears in the cursor.
        scope = ids.query_scope(ctx.services.settings.cursor_key, "searchCitizens", by.value, needle)
        parts = decode_keyset(after, scope, 1)
        after_id = ids.key_or_none(parts[0]) if parts is not None else 0
        if after_id is None:
            raise bad_input("INVALID_CURSOR")
        async with ctx.db.read() as conn:
            rows = await w.search_citizens(conn, by, needle, after_id=after_id, limit=limit + 1)
            total = await w.count_search_citizens(conn, by, needle)
        page = rows[:limit]
        found: list[int | None] = [r.id for r in page]
        if not found and by is w.SearchBy.CPR and after is None:
            found = [None]
        await log_caseworker_access(ctx, found, "searchCitizens")
        edges = [Edge(cursor=ids.encode_keyset_cursor(scope, (r.id,)), node=CitizenSummary.from_row(r)) for r in page]
        return Connection(
            edges=edges,
            nodes=[e.node for e in edges],
            page_info=keyset_page_info(edges, len(rows) > limit, after),
            total_count=total,
        )
