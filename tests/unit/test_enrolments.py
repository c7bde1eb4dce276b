from __future__ import annotations

import pytest

from gateway.domain.enrolments import (
    TERMINAL_STATUSES,
    EnrolmentStatus,
    InvalidTransition,
    can_transition,
    installment_channel,
    is_live,
    transition,
)

S = EnrolmentStatus

ALLOWED = {
    (S.PENDING, S.ACTIVE),
    (S.PENDING, S.REJECTED),
    (S.PENDING, S.EXPIRED),
    (S.PENDING, S.STOPPED),
    (S.ACTIVE, S.STOPPED),
    (S.ACTIVE, S.EXPIRED),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("new", list(S))
def test_transition_table(current: EnrolmentStatus, new: EnrolmentStatus) -> None:
    if current == new or (current, new) in ALLOWED:
        assert transition(current, new) is new
        assert can_transition(current, new)
    else:
        assert not can_transition(current, new)
        with pytest.raises(InvalidTransition) as exc:
            transition(current, new)
        assert exc.value.current is current
        assert exc.value.new is new


def test_same_state_is_idempotent_noop() -> None:
    for s in S:
        assert transition(s, s) is s


def test_stopped_never_comes_back() -> None:
    for new in (S.PENDING, S.ACTIVE):
        with pytest.raises(InvalidTransition):
            transition(S.STOPPED, new)


def test_active_cannot_go_back_to_pending_or_rejected() -> None:
    for new in (S.PENDING, S.REJECTED):
        with pytest.raises(InvalidTransition):
            transition(S.ACTIVE, new)


def test_terminal_states() -> None:
    assert frozenset({S.REJECTED, S.STOPPED, S.EXPIRED}) == TERMINAL_STATUSES


def test_invalid_transition_is_value_error() -> None:
    assert issubclass(InvalidTransition, ValueError)


def test_accepts_plain_strings_from_webhooks() -> None:
    assert transition("PENDING", "ACTIVE") is S.ACTIVE  # type: ignore[arg-type]


def test_is_live() -> None:
    assert {s for s in S if is_live(s)} == {S.PENDING, S.ACTIVE}


@pytest.mark.parametrize(
    ("status", "channel"),
    [
        (S.ACTIVE, "AUTOMATIC"),
        (S.PENDING, "INVOICE"),  # R10: invoice until Betalingsservice is active
        (S.REJECTED, "INVOICE"),
        (S.STOPPED, "INVOICE"),
        (S.EXPIRED, "INVOICE"),
        (None, "INVOICE"),
    ],
)
def test_installment_channel(status: EnrolmentStatus | None, channel: str) -> None:
    assert installment_channel(status) == channel
