"""Installment plan (afdragsordning) lifecycle: R11 and domain.md "A plan that is not kept".

The states are GraphQL's ``InstallmentPlanStatus``, in the same order, with the strings the ledger stores.

- PENDING_APPROVAL -> ACTIVE: a caseworker approves a longer plan after an individual assessment (R11).
- PENDING_APPROVAL -> REJECTED: a caseworker says no after the assessment; the claims are free again.
- PENDING_APPROVAL -> COUNTER_OFFERED: a caseworker offers other terms (a monthly amount of at least 350.00 DKK,
  see :func:`gateway.domain.plans.counter_offer`), which the citizen may accept or decline.
- COUNTER_OFFERED -> ACTIVE: the citizen accepts the counter-offer (its terms replace the asked-for ones).
- PENDING_APPROVAL or COUNTER_OFFERED -> CANCELLED: the citizen withdraws, or declines the counter-offer.
- ACTIVE -> CANCELLED: the citizen or a caseworker ends it.
- ACTIVE -> COMPLETED: everything in the plan is paid.
- ACTIVE -> DEFAULTED: the plan is not kept (misligholdt): see :func:`should_default`.
- COMPLETED, DEFAULTED, CANCELLED and REJECTED are terminal: nothing leads out of them (a new plan is a new plan).

A live plan (PENDING_APPROVAL, COUNTER_OFFERED or ACTIVE) holds its claims: they can be in no other plan. A
counter-offered plan keeps holding them while the citizen considers the offer, so that nothing else (another plan
of theirs) can take them in the meantime; declining frees them.

Pure domain logic: no I/O, no clock (``today`` is always passed in).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum

from gateway.domain.installments import InstallmentLine


class PlanStatus(StrEnum):
    """GraphQL's ``InstallmentPlanStatus``, in the same order."""

    PENDING_APPROVAL = "PENDING_APPROVAL"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    DEFAULTED = "DEFAULTED"
    CANCELLED = "CANCELLED"
    COUNTER_OFFERED = "COUNTER_OFFERED"
    REJECTED = "REJECTED"


_ALLOWED: dict[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.PENDING_APPROVAL: frozenset(
        {PlanStatus.ACTIVE, PlanStatus.CANCELLED, PlanStatus.REJECTED, PlanStatus.COUNTER_OFFERED}
    ),
    PlanStatus.COUNTER_OFFERED: frozenset({PlanStatus.ACTIVE, PlanStatus.CANCELLED}),
    PlanStatus.ACTIVE: frozenset({PlanStatus.CANCELLED, PlanStatus.COMPLETED, PlanStatus.DEFAULTED}),
    PlanStatus.COMPLETED: frozenset(),
    PlanStatus.DEFAULTED: frozenset(),
    PlanStatus.CANCELLED: frozenset(),
    PlanStatus.REJECTED: frozenset(),
}

TERMINAL_STATUSES: frozenset[PlanStatus] = frozenset(s for s, nxt in _ALLOWED.items() if not nxt)
LIVE_STATUSES: frozenset[PlanStatus] = frozenset(
    {PlanStatus.PENDING_APPROVAL, PlanStatus.COUNTER_OFFERED, PlanStatus.ACTIVE}
)
CANCELLABLE_STATUSES: frozenset[PlanStatus] = frozenset(s for s, nxt in _ALLOWED.items() if PlanStatus.CANCELLED in nxt)

DEFAULT_GRACE_DAYS = 14
"""Days an installment may stay unpaid after its due date before the plan is in default.

No rule fixes this for Randers (domain.md, "A plan that is not kept": "make it a setting with a documented
default, and tell the citizen before and when it happens"), so it is a parameter everywhere here and the
composition root should read it from settings. 14 days is our choice, because it

- outlasts any shift of a draw: a due date on a closing day moves to the next bank day (at most five
  calendar days, over Easter), and MobilePay retries a failed charge for ``retryDays`` after that;
- leaves time to tell the citizen *before* the plan lapses (a reminder in Digital Post once an
  installment is overdue, R6/R10) and for them to pay by card or MobilePay (R3) in response;
- is a span a citizen can easily understand and plan for ("two weeks after the due date").

A plan that has lapsed makes the whole remaining debt fall due, after which the claims may be sent to
Gældsstyrelsen (domain.md); that is serious enough that a short grace period would be unfair.
"""


class InvalidPlanTransition(ValueError):
    """A plan cannot move from ``current`` to ``new``.

    Its own class rather than ``enrolments.InvalidTransition``, whose ``current``/``new`` are typed as
    enrolment states; both are ``ValueError``s.
    """

    def __init__(self, current: PlanStatus, new: PlanStatus) -> None:
        super().__init__(f"installment plan cannot move from {current} to {new}")
        self.current = current
        self.new = new


def can_transition(current: PlanStatus | str, new: PlanStatus | str) -> bool:
    """Whether ``current -> new`` is allowed (the same state again is allowed: a repeated request is a no-op)."""
    current, new = PlanStatus(current), PlanStatus(new)
    return current == new or new in _ALLOWED[current]


def transition(current: PlanStatus | str, new: PlanStatus | str) -> PlanStatus:
    """Move a plan on, or raise :class:`InvalidPlanTransition`. ``current == new`` is a no-op."""
    current, new = PlanStatus(current), PlanStatus(new)
    if not can_transition(current, new):
        raise InvalidPlanTransition(current, new)
    return new


def is_live(status: PlanStatus | str) -> bool:
    """PENDING_APPROVAL, COUNTER_OFFERED or ACTIVE: the plan holds its claims (no other plan may take them)."""
    return PlanStatus(status) in LIVE_STATUSES


def is_terminal(status: PlanStatus | str) -> bool:
    return PlanStatus(status) in TERMINAL_STATUSES


def can_cancel(status: PlanStatus | str) -> bool:
    """Any live plan (otherwise ``cancelInstallmentPlan`` answers PLAN_NOT_CANCELLABLE)."""
    return PlanStatus(status) in CANCELLABLE_STATUSES


def can_approve(status: PlanStatus | str) -> bool:
    """Only a plan waiting for its assessment can be approved (otherwise PLAN_NOT_PENDING)."""
    return PlanStatus(status) is PlanStatus.PENDING_APPROVAL


def can_decide(status: PlanStatus | str) -> bool:
    """An assessment (approve, reject, counter-offer) is made once, on a plan waiting for it (else PLAN_NOT_PENDING).

    A counter-offered plan waits for the citizen, not for a caseworker: a second offer is not made on top of the
    first (the citizen declines, and asks again)."""
    return PlanStatus(status) is PlanStatus.PENDING_APPROVAL


def can_answer_counter_offer(status: PlanStatus | str) -> bool:
    """The citizen accepts or declines only a plan with an open counter-offer (else PLAN_NOT_COUNTER_OFFERED)."""
    return PlanStatus(status) is PlanStatus.COUNTER_OFFERED


def _check_grace(grace_days: int) -> None:
    if grace_days < 0:
        raise ValueError(f"grace_days must not be negative, got {grace_days}")


def lapse_date(due_on: date, grace_days: int = DEFAULT_GRACE_DAYS) -> date:
    """The first day on which an installment due on ``due_on`` and still unpaid puts the plan in default.

    The citizen may pay up to and including ``due_on + grace_days``; with ``grace_days=0`` the plan lapses
    the day after the due date, the same day the installment becomes OVERDUE.
    """
    _check_grace(grace_days)
    return due_on + timedelta(days=grace_days + 1)


def unkept_installments(
    installments: Iterable[InstallmentLine], today: date, grace_days: int = DEFAULT_GRACE_DAYS
) -> list[InstallmentLine]:
    """The installments not paid in full although their grace period is over (in the given order)."""
    _check_grace(grace_days)
    return [i for i in installments if not i.is_paid and today >= lapse_date(i.due_on, grace_days)]


def is_in_default(installments: Iterable[InstallmentLine], today: date, grace_days: int = DEFAULT_GRACE_DAYS) -> bool:
    """True when some installment is still unpaid ``grace_days`` after its due date (misligholdt)."""
    return bool(unkept_installments(installments, today, grace_days))


def should_default(
    status: PlanStatus | str,
    installments: Iterable[InstallmentLine],
    today: date,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> bool:
    """Whether an ACTIVE plan must now move to DEFAULTED. Plans in any other state never default: a pending
    plan has no installments in force yet, and terminal states have no way out."""
    return PlanStatus(status) is PlanStatus.ACTIVE and is_in_default(installments, today, grace_days)


def should_complete(status: PlanStatus | str, installments: Iterable[InstallmentLine]) -> bool:
    """Whether an ACTIVE plan must now move to COMPLETED: it has installments and every one is paid in full."""
    lines = list(installments)
    return PlanStatus(status) is PlanStatus.ACTIVE and bool(lines) and all(i.is_paid for i in lines)


def next_lapse_date(installments: Iterable[InstallmentLine], grace_days: int = DEFAULT_GRACE_DAYS) -> date | None:
    """The earliest day the plan would lapse if nothing more is paid (None when every installment is paid).

    For telling the citizen *before* it happens (domain.md): warn ahead of this date.
    """
    _check_grace(grace_days)
    dates = [lapse_date(i.due_on, grace_days) for i in installments if not i.is_paid]
    return min(dates, default=None)
