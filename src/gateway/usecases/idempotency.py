"""What every mutation shares: one transaction, and an idempotency key stored with its result.

``run_idempotent`` looks the key up inside the mutation's transaction; the same key with the same input
replays the stored result, with other input it is ``IDEMPOTENCY_KEY_REUSED``. The key is claimed at the
start of the transaction and its result stored in the same transaction as the writes, so a crash can never
leave one without the other. A unique violation (a concurrent request with the same key, or racing for the
same claim) rolls everything back and the work is evaluated once more against the committed state. Only
successful outcomes are stored: a refused request is evaluated afresh when retried.

Keys are scoped per actor: a citizen's actor is a keyed pseudonym of their CPR (``viewers.citizen_pseudonym``),
a caseworker's their id, so two people never share a key whatever their tokens' subjects. And a replay never
shows an object that is not the actor's any more: the stored result carries, next to the ids it names, the
citizen each object belonged to when it was made (``OWNERS``), and a replay whose objects now belong to someone
else, or no longer exist (a restored or re-imported ledger), is answered as IDEMPOTENCY_KEY_REUSED.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.domain.clock import utcnow
from gateway.domain.errors import UserErrorCode
from gateway.domain.text import has_any_control_character
from gateway.usecases.ports import Ledger, LedgerTx

MAX_KEY_LENGTH = 64
ATTEMPTS = 3

FieldPath = list[str] | None
Problems = list[tuple[UserErrorCode, FieldPath]]


@dataclass
class Outcome:
    """A mutation's result: the ids of what it produced, or the rules that said no (code, field path)."""

    result: dict[str, Any] = field(default_factory=dict)
    errors: Problems = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def refused(code: UserErrorCode, *path: str) -> Outcome:
    return Outcome(errors=[(code, list(path) if path else None)])


KEY_FIELD = ("input", "idempotencyKey")


class _Rollback(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def fingerprint(operation: str, payload: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps({"op": operation, "input": payload}, option=orjson.OPT_SORT_KEYS)).hexdigest()


def key_error(key: str) -> Outcome | None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or has_any_control_character(key):
        return refused(UserErrorCode.INVALID_IDEMPOTENCY_KEY, *KEY_FIELD)
    return None


OWNERS = "_owners"
"""The stored result's entry that says whose each object named in it was (result key -> citizen id)."""


async def owners(tx: LedgerTx, result: dict[str, Any]) -> dict[str, int | None]:
    """The citizen each object a result names belongs to now (None: it does not exist)."""
    found: dict[str, int | None] = {}
    for name, value in result.items():
        if name == "payment":
            row = await tx.payment_row(int(value))
        elif name == "plan":
            row = await tx.plan(int(value))
        elif name == "paymentMethod":
            row = await tx.enrolment_row(int(value))
        elif name == "paymentRequest":
            row = await tx.payment_request(int(value))
        else:
            continue  # not an object (e.g. a provider's account reference)
        found[name] = int(row.citizen_id) if row is not None else None
    return found


async def _stored(tx: LedgerTx, actor: str, operation: str, key: str, digest: str) -> Outcome | None:
    """The outcome a used key stands for (a replay, or IDEMPOTENCY_KEY_REUSED), or None if it is unused."""
    record = await tx.idempotency_record(actor, key)
    if record is None:
        return None
    if record.operation != operation or record.request_hash != digest:
        return refused(UserErrorCode.IDEMPOTENCY_KEY_REUSED, *KEY_FIELD)
    result = {k: v for k, v in record.result.items() if k != OWNERS}
    stamped = record.result.get(OWNERS)
    # Records stored before the stamp existed have none; their citizens' actors (the token's subject) are no
    # longer used, so only caseworkers' old records can still be replayed, and caseworkers see every citizen.
    if stamped is not None and await owners(tx, result) != stamped:
        return refused(UserErrorCode.IDEMPOTENCY_KEY_REUSED, *KEY_FIELD)
    return Outcome(result=result)


async def recorded(ledger: Ledger, actor: str, operation: str, key: str, payload: dict[str, Any]) -> Outcome | None:
    """What a key already stands for, looked up before a side effect outside the database (which must not
    happen twice, nor for a reused key)."""
    if (bad := key_error(key)) is not None:
        return bad
    async with ledger.read() as tx:
        return await _stored(tx, actor, operation, key, fingerprint(operation, payload))


async def run_idempotent(
    ledger: Ledger,
    actor: str,
    operation: str,
    key: str,
    payload: dict[str, Any],
    work: Callable[[LedgerTx], Awaitable[Outcome]],
) -> Outcome:
    if (bad := key_error(key)) is not None:
        return bad
    digest = fingerprint(operation, payload)
    for attempt in range(ATTEMPTS):
        try:
            async with ledger.transaction() as tx:
                earlier = await _stored(tx, actor, operation, key, digest)
                if earlier is not None:
                    return earlier
                # Claim the key first: a concurrent request with the same key waits on it, then replays.
                await tx.claim_idempotency_key(actor, key, operation=operation, request_hash=digest, now=utcnow())
                outcome = await work(tx)
                if not outcome.ok:
                    raise _Rollback(outcome)
                stamp = await owners(tx, outcome.result)
                await tx.store_idempotent_result(actor, key, outcome.result | {OWNERS: stamp})
                return outcome
        except _Rollback as rollback:
            return rollback.outcome
        except Exception as exc:
            if attempt == ATTEMPTS - 1 or not ledger.is_conflict(exc):
                raise
    raise AssertionError("unreachable")
