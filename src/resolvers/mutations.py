"""What every mutation shares: idempotency keys stored with their payload, one transaction per mutation.

``run_idempotent`` looks the key up inside the mutation's transaction; the same key with the same input
replays the stored payload, with other input it is ``IDEMPOTENCY_KEY_REUSED``. The key is claimed at the
start of the transaction and its payload stored in the same transaction as the writes, so a crash can never
leave one without the other. A unique
violation (a concurrent request with the same key, or racing for the same claim) rolls everything back and
the mutation is evaluated once more against the committed state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.ledger import models as m
from gateway.domain.clock import utcnow
from resolvers.common.errors import UserErrorCode
from resolvers.context import Context

MAX_KEY_LENGTH = 64


@dataclass
class Outcome:
    """A mutation's result: the ids of what it produced, or the rules that said no (code, field path)."""

    result: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[UserErrorCode, list[str] | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Rollback(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def fingerprint(operation: str, payload: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps({"op": operation, "input": payload}, option=orjson.OPT_SORT_KEYS)).hexdigest()


def key_error(key: str) -> Outcome | None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        return Outcome(errors=[(UserErrorCode.INVALID_IDEMPOTENCY_KEY, ["input", "idempotencyKey"])])
    return None


async def recorded(ctx: Context, operation: str, key: str, payload: dict[str, Any]) -> Outcome | None:
    """The outcome a key already stands for (a replay, or IDEMPOTENCY_KEY_REUSED), or None if it is unused.
    For mutations with a side effect outside the database, which must not happen twice or for a reused key."""
    if (bad := key_error(key)) is not None:
        return bad
    table = m.table(m.IdempotencyRecord)
    actor = ctx.require_viewer().actor_key
    async with ctx.db.read() as conn:
        record = (
            await conn.execute(
                select(table.c.operation, table.c.request_hash, table.c.response).where(
                    table.c.actor == actor, table.c.key == key
                )
            )
        ).first()
    if record is None:
        return None
    if record.operation != operation or record.request_hash != fingerprint(operation, payload):
        return Outcome(errors=[(UserErrorCode.IDEMPOTENCY_KEY_REUSED, ["input", "idempotencyKey"])])
    return Outcome(result=dict(record.response))


async def run_idempotent(
    ctx: Context,
    operation: str,
    key: str,
    payload: dict[str, Any],
    work: Callable[[AsyncConnection], Awaitable[Outcome]],
) -> Outcome:
    if (bad := key_error(key)) is not None:
        return bad
    actor = ctx.require_viewer().actor_key
    digest = fingerprint(operation, payload)
    table = m.table(m.IdempotencyRecord)
    for attempt in range(3):
        try:
            async with ctx.db.transaction() as conn:
                record = (
                    await conn.execute(
                        select(table.c.operation, table.c.request_hash, table.c.response).where(
                            table.c.actor == actor, table.c.key == key
                        )
                    )
                ).first()
                if record is not None:
                    if record.operation != operation or record.request_hash != digest:
                        return Outcome(errors=[(UserErrorCode.IDEMPOTENCY_KEY_REUSED, ["input", "idempotencyKey"])])
                    return Outcome(result=dict(record.response))
                # Claim the key first: a concurrent request with the same key blocks on this row (PostgreSQL)
                # or on the database lock (SQLite) until this one commits, then replays its payload.
                await conn.execute(
                    insert(table).values(
                        actor=actor,
                        key=key,
                        operation=operation,
                        request_hash=digest,
                        response={},
                        created_at=utcnow(),
                    )
                )
                outcome = await work(conn)
                if not outcome.ok:
                    raise _Rollback(outcome)
                await conn.execute(
                    update(table).where(table.c.actor == actor, table.c.key == key).values(response=outcome.result)
                )
                return outcome
        except _Rollback as rollback:
            return rollback.outcome
        except (IntegrityError, DBAPIError) as exc:
            if attempt == 2 or not _is_conflict(exc):
                raise
    raise AssertionError("unreachable")


def _is_conflict(exc: Exception) -> bool:
    """Unique violations, and PostgreSQL serialization/deadlock failures, are worth one more evaluation."""
    if isinstance(exc, IntegrityError):
        return True
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(getattr(exc, "orig", None), "pgcode", None)
    return code in ("40001", "40P01")
