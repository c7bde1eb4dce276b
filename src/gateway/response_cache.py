"""Whole-response cache for citizens' read queries, invalidated exactly (performance.md's "cache per viewer
with exact invalidation on ledger writes").

The key holds the citizen's id, ``created_at`` and ``data_version`` (raised in the same transaction as every
write the citizen can see: adapters.ledger.versions), today's date (installment statuses), the language and
the request itself. One indexed read of the citizen row per request decides hit or miss, so a response is
never served after a write, in this process or any other. Only error-free query responses are stored, and
they expire after a short TTL, because Gældsstyrelsen's collection status (a process cache of its own) is
part of them. Caseworkers' requests are never cached: their look-ups must each be logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

import orjson
from cachetools import TTLCache
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse


@lru_cache(maxsize=512)
def is_single_query(query: str, operation_name: str | None) -> bool:
    """True for a read-only operation (never a mutation); parse errors are left to the normal path."""
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return len(operations) == 1 and operations[0].operation is OperationType.QUERY


def request_parts(params: Mapping[str, Any], query: str | None) -> tuple[str, bytes, str | None] | None:
    """(query, canonical variables, operation name) of a cacheable request, else None. ``query`` is the text that
    runs: the client's own, or the trusted document a ``documentId`` names (so both share one entry)."""
    variables, operation = params.get("variables") or {}, params.get("operationName")
    if not isinstance(query, str) or not isinstance(variables, dict) or not isinstance(operation, str | None):
        return None
    if len(query) > 20_000 or not is_single_query(query, operation):
        return None
    try:
        canonical = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: not worth a key
        return None
    return query, canonical, operation


class ResponseCache:
    def __init__(self, ttl_seconds: float, max_bytes: int) -> None:
        # Bounded by the bytes held, not the number of entries: responses differ a lot in size.
        self._entries: TTLCache[tuple[Any, ...], bytes] = TTLCache(maxsize=max_bytes, ttl=ttl_seconds, getsizeof=len)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(citizen: Any, today: date, language: str, parts: tuple[str, bytes, str | None]) -> tuple[Any, ...]:
        return (citizen.id, citizen.created_at, citizen.data_version, today, language, *parts)

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        body = self._entries.get(key)
        if body is None:
            self.misses += 1
        else:
            self.hits += 1
        return body

    def put(self, key: tuple[Any, ...], body: bytes) -> None:
        if len(body) <= self._entries.maxsize // 16:  # one response never crowds out the rest
            self._entries[key] = body
