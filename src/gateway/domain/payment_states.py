"""One-off payment (R3) lifecycle, and what a report from the payment provider does to it.

The states are GraphQL's ``PaymentStatus``, in the same order, with the strings the ledger stores. The
provider's states follow Vipps MobilePay's ePayment API (domain.md: ``CREATED`` -> ``AUTHORIZED`` (then
captured) or ``ABORTED``, ``EXPIRED``, ``TERMINATED``) plus ``FAILED`` from our provider:
ABORTED (the citizen declined) and TERMINATED (we cancelled) both become CANCELLED.

- CREATED -> AUTHORIZED | CAPTURED | FAILED | CANCELLED | EXPIRED
- AUTHORIZED -> CAPTURED | FAILED | CANCELLED | EXPIRED
- CAPTURED, FAILED, CANCELLED and EXPIRED are final.

CREATED -> CAPTURED is allowed because a report may skip a step (a lost ``payment.authorized`` webhook and
a poll that finds the payment captured).

Reports arrive at least once and in any order (webhooks, and polling as the fallback). A report whose
provider version (the webhook's ``sequence``) is not newer than the one stored, that repeats the current
state, or that names an earlier stage of the lifecycle (a late AUTHORIZED after CAPTURED) is *stale*: it
changes nothing and is no error. A report that contradicts a final state (CAPTURED after CANCELLED) is
*impossible*: nothing is applied and someone should look at it.

Pure domain logic: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from gateway.domain.lifecycle import Lifecycle, ReportOutcome


class PaymentStatus(StrEnum):
    """GraphQL's ``PaymentStatus``, in the same order."""

    CREATED = "CREATED"
    AUTHORIZED = "AUTHORIZED"
    CAPTURED = "CAPTURED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


_ALLOWED: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.CREATED: frozenset(
        {
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELLED,
            PaymentStatus.EXPIRED,
        }
    ),
    PaymentStatus.AUTHORIZED: frozenset(
        {PaymentStatus.CAPTURED, PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED}
    ),
    PaymentStatus.CAPTURED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
    PaymentStatus.EXPIRED: frozenset(),
}

# How far along the lifecycle a state is: a report of an earlier stage than ours is late, not a step back.
_STAGE: dict[PaymentStatus, int] = {
    PaymentStatus.CREATED: 0,
    PaymentStatus.AUTHORIZED: 1,
    PaymentStatus.CAPTURED: 2,
    PaymentStatus.FAILED: 2,
    PaymentStatus.CANCELLED: 2,
    PaymentStatus.EXPIRED: 2,
}

_LIFECYCLE = Lifecycle(PaymentStatus, _ALLOWED, _STAGE)
FINAL_STATUSES: frozenset[PaymentStatus] = _LIFECYCLE.final
OPEN_STATUSES: frozenset[PaymentStatus] = frozenset(s for s, nxt in _ALLOWED.items() if nxt)
"""CREATED and AUTHORIZED: the payment is not settled yet (the poll asks the provider about these)."""

PROVIDER_STATES: Mapping[str, PaymentStatus] = MappingProxyType(
    {
        "CREATED": PaymentStatus.CREATED,
        "AUTHORIZED": PaymentStatus.AUTHORIZED,
        "CAPTURED": PaymentStatus.CAPTURED,
        "ABORTED": PaymentStatus.CANCELLED,  # the citizen declined
        "TERMINATED": PaymentStatus.CANCELLED,  # the merchant (we) cancelled
        "EXPIRED": PaymentStatus.EXPIRED,
        "FAILED": PaymentStatus.FAILED,
    }
)
"""The provider's payment states (``adapters.payments.client.PaymentState``) -> ours."""


class InvalidPaymentTransition(ValueError):
    """A payment cannot move from ``current`` to ``new`` (a ``ValueError``, like the other state machines')."""

    def __init__(self, current: PaymentStatus, new: PaymentStatus) -> None:
        super().__init__(f"payment cannot move from {current} to {new}")
        self.current = current
        self.new = new


def from_provider(state: str) -> PaymentStatus:
    """Our status for a provider state; ValueError for a state we do not know."""
    try:
        return PROVIDER_STATES[state]
    except KeyError:
        raise ValueError(f"unknown provider payment state {state!r}") from None


def can_transition(current: PaymentStatus | str, new: PaymentStatus | str) -> bool:
    """Whether ``current -> new`` is a step forward, or the same state again."""
    return _LIFECYCLE.can_transition(current, new)


def transition(current: PaymentStatus | str, new: PaymentStatus | str) -> PaymentStatus:
    """Move a payment on (strictly), or raise :class:`InvalidPaymentTransition`. ``current == new`` is a no-op."""
    current, new = PaymentStatus(current), PaymentStatus(new)
    if not can_transition(current, new):
        raise InvalidPaymentTransition(current, new)
    return new


def is_final(status: PaymentStatus | str) -> bool:
    return _LIFECYCLE.is_final(status)


def classify(
    current: PaymentStatus | str,
    reported: PaymentStatus | str,
    *,
    version: int | None = None,
    stored_version: int | None = None,
) -> ReportOutcome:
    """What a reported state does to a payment that is ``current`` here.

    ``version`` is the provider's version of the report and ``stored_version`` the last one applied; when
    both are given, a report that is not newer is STALE whatever it says (the webhooks' contract: "ignore an
    event whose sequence is not greater than the version already stored"). Then by the states: the same
    state is STALE, a step forward is a MOVE, an earlier stage is STALE (a late report), and anything else
    (a different final state, or a final state after a final state) is IMPOSSIBLE.
    """
    return _LIFECYCLE.classify(current, reported, version=version, stored_version=stored_version)


def classify_provider_state(
    current: PaymentStatus | str, provider_state: str, *, version: int | None = None, stored_version: int | None = None
) -> ReportOutcome:
    """:func:`classify` for a state in the provider's words (ABORTED, TERMINATED, ...)."""
    return classify(current, from_provider(provider_state), version=version, stored_version=stored_version)


def apply_report(
    current: PaymentStatus | str,
    reported: PaymentStatus | str,
    *,
    version: int | None = None,
    stored_version: int | None = None,
) -> PaymentStatus:
    """The status after a report: the reported one for a MOVE, ``current`` for a STALE report; raises
    :class:`InvalidPaymentTransition` for an IMPOSSIBLE one (the caller logs it and keeps ``current``)."""
    current, reported = PaymentStatus(current), PaymentStatus(reported)
    outcome = classify(current, reported, version=version, stored_version=stored_version)
    if outcome is ReportOutcome.IMPOSSIBLE:
        raise InvalidPaymentTransition(current, reported)
    return reported if outcome is ReportOutcome.MOVE else current
