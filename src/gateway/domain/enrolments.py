"""Automatic-payment enrolment state machine (R4, R5, R9, R10).

Covers a Betalingsservice mandate and a MobilePay recurring agreement alike. The states follow the
Vipps MobilePay Recurring API (PENDING, ACTIVE, STOPPED, EXPIRED; "a stopped agreement is never
reactivated"), plus REJECTED for a Betalingsservice mandate the citizen's bank turns down.

Pure domain logic: no I/O.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class EnrolmentStatus(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    STOPPED = "STOPPED"
    EXPIRED = "EXPIRED"


InstallmentChannel = Literal["AUTOMATIC", "INVOICE"]

_ALLOWED: dict[EnrolmentStatus, frozenset[EnrolmentStatus]] = {
    EnrolmentStatus.PENDING: frozenset(
        {EnrolmentStatus.ACTIVE, EnrolmentStatus.REJECTED, EnrolmentStatus.EXPIRED, EnrolmentStatus.STOPPED}
    ),
    EnrolmentStatus.ACTIVE: frozenset({EnrolmentStatus.STOPPED, EnrolmentStatus.EXPIRED}),
    EnrolmentStatus.REJECTED: frozenset(),
    EnrolmentStatus.STOPPED: frozenset(),
    EnrolmentStatus.EXPIRED: frozenset(),
}

TERMINAL_STATUSES: frozenset[EnrolmentStatus] = frozenset(s for s, nxt in _ALLOWED.items() if not nxt)


class InvalidTransition(ValueError):
    """An enrolment cannot move from ``current`` to ``new``."""

    def __init__(self, current: EnrolmentStatus, new: EnrolmentStatus) -> None:
        super().__init__(f"enrolment cannot move from {current} to {new}")
        self.current = current
        self.new = new


def can_transition(current: EnrolmentStatus, new: EnrolmentStatus) -> bool:
    """Whether ``current -> new`` is allowed (the same state again is allowed: idempotent webhooks)."""
    return current == new or new in _ALLOWED[current]


def transition(current: EnrolmentStatus, new: EnrolmentStatus) -> EnrolmentStatus:
    """Move an enrolment on, or raise :class:`InvalidTransition`.

    PENDING -> ACTIVE | REJECTED | EXPIRED | STOPPED; ACTIVE -> STOPPED | EXPIRED; REJECTED, STOPPED and
    EXPIRED are terminal (a stopped agreement never comes back). ``current == new`` is a no-op, so a
    webhook delivered twice (or a poll that repeats a webhook) is harmless.
    """
    current, new = EnrolmentStatus(current), EnrolmentStatus(new)
    if not can_transition(current, new):
        raise InvalidTransition(current, new)
    return new


def is_live(status: EnrolmentStatus) -> bool:
    """PENDING or ACTIVE: the enrolment exists or is on its way (one may not enrol the same thing twice)."""
    return status in (EnrolmentStatus.PENDING, EnrolmentStatus.ACTIVE)


def installment_channel(enrolment_status: EnrolmentStatus | None) -> InstallmentChannel:
    """How an installment is collected: AUTOMATIC only while the enrolment is ACTIVE.

    R10: Betalingsservice takes a while to take effect; until it is active (PENDING) the citizen receives
    an invoice (opkrævning) in Digital Post instead. No enrolment, or a dead one, also means INVOICE.
    """
    return "AUTOMATIC" if enrolment_status == EnrolmentStatus.ACTIVE else "INVOICE"
