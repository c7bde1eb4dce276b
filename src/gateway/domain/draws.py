"""Planning the monthly draws of an installment plan (R5, R9, R10; domain.md "Recurring draws").

"Recurring draws are the creditor's job": with a MobilePay subscription we create every charge ourselves
(amount, due date, ``retryDays``), with Betalingsservice we deliver each payment instruction ahead of the
payment date, and while there is no active agreement the citizen gets an invoice (opkrævning) in Digital
Post instead (R10). Money moves on bank days only, so an installment is collected on the first bank day on
or after its due date (:func:`collection_date`).

A draw is one attempt to collect one installment:

- SCHEDULED -> PENDING: the charge or payment instruction was handed to the provider;
- SCHEDULED | PENDING -> CHARGED | FAILED | CANCELLED: the provider's outcome (a report may overtake our
  own record of handing it over, so these are allowed from SCHEDULED too);
- SCHEDULED -> INVOICED: no active agreement, so an invoice went to Digital Post instead (R10);
- CHARGED, FAILED, CANCELLED and INVOICED are final. After a FAILED or CANCELLED draw, collecting the
  installment again (e.g. by invoice) is a new draw.

Reports arrive at least once and in any order: the same state again, or an earlier stage than ours (a late
PENDING after CHARGED) is STALE and changes nothing; a contradiction (CHARGED after FAILED) is IMPOSSIBLE.

Pure domain logic: no I/O, no clock; money in integer øre.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from gateway.domain.bankdays import add_bank_days, next_bank_day
from gateway.domain.lifecycle import Lifecycle, ReportOutcome

__all__ = [
    "FINAL_STATUSES",
    "MIN_MOBILEPAY_LEAD_DAYS",
    "MOBILEPAY_CHARGE_STATES",
    "DrawStatus",
    "InvalidDrawTransition",
    "ReportOutcome",
    "apply_report",
    "can_transition",
    "classify",
    "classify_mobilepay_charge",
    "collection_date",
    "draw_amount",
    "from_mobilepay_charge",
    "is_final",
    "transition",
    "when_to_create",
]


class DrawStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    CHARGED = "CHARGED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INVOICED = "INVOICED"


_OUTCOMES = frozenset({DrawStatus.CHARGED, DrawStatus.FAILED, DrawStatus.CANCELLED})

_ALLOWED: dict[DrawStatus, frozenset[DrawStatus]] = {
    DrawStatus.SCHEDULED: _OUTCOMES | {DrawStatus.PENDING, DrawStatus.INVOICED},
    DrawStatus.PENDING: _OUTCOMES,
    DrawStatus.CHARGED: frozenset(),
    DrawStatus.FAILED: frozenset(),
    DrawStatus.CANCELLED: frozenset(),
    DrawStatus.INVOICED: frozenset(),
}

# How far along the lifecycle a state is: a report of an earlier stage than ours is late, not a step back.
_STAGE: dict[DrawStatus, int] = {
    DrawStatus.SCHEDULED: 0,
    DrawStatus.PENDING: 1,
    DrawStatus.CHARGED: 2,
    DrawStatus.FAILED: 2,
    DrawStatus.CANCELLED: 2,
    DrawStatus.INVOICED: 2,
}

_LIFECYCLE = Lifecycle(DrawStatus, _ALLOWED, _STAGE)
FINAL_STATUSES: frozenset[DrawStatus] = _LIFECYCLE.final

MIN_MOBILEPAY_LEAD_DAYS = 1
"""Vipps MobilePay Recurring: charges are created "with a 1-day lead time", until midnight before the due
date, so the user can see the upcoming charge (developer docs, "Recurring charges" and the Recurring FAQ)."""

MOBILEPAY_CHARGE_STATES: Mapping[str, DrawStatus] = MappingProxyType(
    {
        # Created and waiting for its due date, coming due, or being processed on it: no outcome yet.
        "PENDING": DrawStatus.PENDING,
        "DUE": DrawStatus.PENDING,
        "PROCESSING": DrawStatus.PENDING,
        # RESERVE_CAPTURE charges only (we use DIRECT_CAPTURE): money reserved or partly captured, the rest
        # still to be captured or released, so not settled yet.
        "RESERVED": DrawStatus.PENDING,
        "PARTIALLY_CAPTURED": DrawStatus.PENDING,
        "CHARGED": DrawStatus.CHARGED,
        # A refund is our own later decision, booked in the ledger as its own entry; the draw itself was
        # charged, and the ledger posts the charge's captured amount.
        "PARTIALLY_REFUNDED": DrawStatus.CHARGED,
        "REFUNDED": DrawStatus.CHARGED,
        # Final after the provider's retries (``retryDays``) are used up.
        "FAILED": DrawStatus.FAILED,
        "CANCELLED": DrawStatus.CANCELLED,
    }
)
"""Vipps MobilePay Recurring charge states -> the draw lifecycle."""


class InvalidDrawTransition(ValueError):
    """A draw cannot move from ``current`` to ``new`` (a ``ValueError``, like the other state machines')."""

    def __init__(self, current: DrawStatus, new: DrawStatus) -> None:
        super().__init__(f"draw cannot move from {current} to {new}")
        self.current = current
        self.new = new


# --- dates and amounts -------------------------------------------------------------------------------------


def collection_date(due_on: date) -> date:
    """The day an installment is collected: its due date, or the next bank day when that is a closing day."""
    return next_bank_day(due_on)


def when_to_create(due_on: date, lead_days: int = MIN_MOBILEPAY_LEAD_DAYS) -> date:
    """The last day on which to create the charge (or deliver the payment instruction) for an installment
    due on ``due_on``: ``lead_days`` bank days before its :func:`collection_date`. Creating it earlier is
    fine; later is too late.

    ``lead_days`` is at least 1 (MobilePay needs the charge a day ahead: :data:`MIN_MOBILEPAY_LEAD_DAYS`);
    counting bank days keeps at least that many calendar days as well.
    """
    if lead_days < MIN_MOBILEPAY_LEAD_DAYS:
        raise ValueError(f"lead_days must be at least {MIN_MOBILEPAY_LEAD_DAYS}, got {lead_days}")
    return add_bank_days(collection_date(due_on), -lead_days)


def draw_amount(installment_amount: int, already_paid_on_installment: int, still_owed_on_plan: int) -> int:
    """How much to draw for an installment, in øre: what is left of it, but never more than the plan's claims
    still owe (payments made some other way count) and never negative. 0 means: skip this draw."""
    left_of_installment = installment_amount - max(already_paid_on_installment, 0)
    return max(0, min(left_of_installment, still_owed_on_plan))


# --- the lifecycle ------------------------------------------------------------------------------------------


def from_mobilepay_charge(state: str) -> DrawStatus:
    """The draw status for a MobilePay Recurring charge state; ValueError for a state we do not know."""
    try:
        return MOBILEPAY_CHARGE_STATES[state]
    except KeyError:
        raise ValueError(f"unknown MobilePay charge state {state!r}") from None


def can_transition(current: DrawStatus | str, new: DrawStatus | str) -> bool:
    """Whether ``current -> new`` is a step forward, or the same state again."""
    return _LIFECYCLE.can_transition(current, new)


def transition(current: DrawStatus | str, new: DrawStatus | str) -> DrawStatus:
    """Move a draw on (strictly), or raise :class:`InvalidDrawTransition`. ``current == new`` is a no-op."""
    current, new = DrawStatus(current), DrawStatus(new)
    if not can_transition(current, new):
        raise InvalidDrawTransition(current, new)
    return new


def is_final(status: DrawStatus | str) -> bool:
    return _LIFECYCLE.is_final(status)


def classify(
    current: DrawStatus | str,
    reported: DrawStatus | str,
    *,
    version: int | None = None,
    stored_version: int | None = None,
) -> ReportOutcome:
    """What a reported state does to a draw that is ``current`` here (see ``payment_states.classify``):
    not newer than ``stored_version``, the same state or an earlier stage -> STALE; a step forward -> MOVE;
    anything else -> IMPOSSIBLE."""
    return _LIFECYCLE.classify(current, reported, version=version, stored_version=stored_version)


def classify_mobilepay_charge(
    current: DrawStatus | str, charge_state: str, *, version: int | None = None, stored_version: int | None = None
) -> ReportOutcome:
    """:func:`classify` for a MobilePay Recurring charge state (PENDING, DUE, RESERVED, CHARGED, ...)."""
    return classify(current, from_mobilepay_charge(charge_state), version=version, stored_version=stored_version)


def apply_report(
    current: DrawStatus | str,
    reported: DrawStatus | str,
    *,
    version: int | None = None,
    stored_version: int | None = None,
) -> DrawStatus:
    """The status after a report: the reported one for a MOVE, ``current`` for a STALE report; raises
    :class:`InvalidDrawTransition` for an IMPOSSIBLE one (the caller logs it and keeps ``current``)."""
    current, reported = DrawStatus(current), DrawStatus(reported)
    outcome = classify(current, reported, version=version, stored_version=stored_version)
    if outcome is ReportOutcome.IMPOSSIBLE:
        raise InvalidDrawTransition(current, reported)
    return reported if outcome is ReportOutcome.MOVE else current
