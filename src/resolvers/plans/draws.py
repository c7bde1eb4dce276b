"""Draws in GraphQL: each monthly collection of an installment (or of a bill enrolled directly) — a MobilePay
Recurring charge, a Betalingsservice payment instruction, or an invoice in Digital Post (R5, R6, R10)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum

import strawberry

from adapters.ledger.queries import DrawRow
from gateway.domain.draws import DrawStatus
from resolvers.common import ids
from resolvers.common.types import Money, Node, money

strawberry.enum(
    DrawStatus,
    description="SCHEDULED (made, not yet at the provider), PENDING (the provider collects it on its date, "
    "retrying a failed attempt), CHARGED, FAILED (after the provider's retries), CANCELLED, INVOICED (an invoice "
    "was sent to Digital Post instead, R10).",
)


@strawberry.enum(description="How a draw collects the money.")
class DrawChannel(Enum):
    MOBILEPAY_SUBSCRIPTION = "MOBILEPAY_SUBSCRIPTION"
    BETALINGSSERVICE = "BETALINGSSERVICE"
    INVOICE = "INVOICE"


OPEN = frozenset({DrawStatus.SCHEDULED, DrawStatus.PENDING, DrawStatus.INVOICED})


@strawberry.type(description="One collection of an installment or a bill: its date, amount and outcome (R6).")
class Draw(Node):
    due_on: date = strawberry.field(description="The collection date (a Danish bank day for automatic payment).")
    amount: Money
    status: DrawStatus
    channel: DrawChannel
    failure_reason: str | None = strawberry.field(description='Why it failed, e.g. "INSUFFICIENT_FUNDS".')
    created_at: datetime
    settled_at: datetime | None

    @classmethod
    def from_row(cls, r: DrawRow) -> Draw:
        return cls(
            id=strawberry.ID(ids.encode("Draw", r.id)),
            due_on=r.due_on,
            amount=money(r.amount_oere),
            status=DrawStatus(r.status),
            channel=DrawChannel(r.channel),
            failure_reason=r.failure_reason,
            created_at=r.created_at,
            settled_at=r.settled_at,
        )


def next_draw(rows: Sequence[DrawRow], today: date) -> Draw | None:
    """The next collection that has not happened yet (the one to check for on the account, R6)."""
    upcoming = [r for r in rows if r.status in OPEN and r.due_on >= today]
    return Draw.from_row(min(upcoming, key=lambda r: (r.due_on, r.id))) if upcoming else None
