from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.payment_states import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    PROVIDER_STATES,
    InvalidPaymentTransition,
    PaymentStatus,
    ReportOutcome,
    apply_report,
    can_transition,
    classify,
    classify_provider_state,
    from_provider,
    is_final,
    transition,
)

S = PaymentStatus
R = ReportOutcome

FORWARD = {
    (S.CREATED, S.AUTHORIZED),
    (S.CREATED, S.CAPTURED),
    (S.CREATED, S.FAILED),
    (S.CREATED, S.CANCELLED),
    (S.CREATED, S.EXPIRED),
    (S.AUTHORIZED, S.CAPTURED),
    (S.AUTHORIZED, S.FAILED),
    (S.AUTHORIZED, S.CANCELLED),
    (S.AUTHORIZED, S.EXPIRED),
}
# Earlier stages reported after a later one: late reports, ignored without an error.
LATE = {
    (S.AUTHORIZED, S.CREATED),
    *((final, S.CREATED) for final in FINAL_STATUSES),
    *((final, S.AUTHORIZED) for final in FINAL_STATUSES),
}


def test_members_and_order_match_graphql() -> None:
    assert [s.value for s in S] == ["CREATED", "AUTHORIZED", "CAPTURED", "FAILED", "CANCELLED", "EXPIRED"]


def test_final_and_open() -> None:
    assert frozenset({S.CAPTURED, S.FAILED, S.CANCELLED, S.EXPIRED}) == FINAL_STATUSES
    assert frozenset({S.CREATED, S.AUTHORIZED}) == OPEN_STATUSES
    assert all(is_final(s) for s in FINAL_STATUSES)
    assert not any(is_final(s) for s in OPEN_STATUSES)


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("new", list(S))
def test_transition_table(current: PaymentStatus, new: PaymentStatus) -> None:
    if current == new or (current, new) in FORWARD:
        assert can_transition(current, new)
        assert transition(current, new) is new
    else:
        assert not can_transition(current, new)
        with pytest.raises(InvalidPaymentTransition) as exc:
            transition(current, new)
        assert exc.value.current is current
        assert exc.value.new is new
        assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("reported", list(S))
def test_classify_table(current: PaymentStatus, reported: PaymentStatus) -> None:
    outcome = classify(current, reported)
    if current == reported or (current, reported) in LATE:
        assert outcome is R.STALE
        assert apply_report(current, reported) is current
    elif (current, reported) in FORWARD:
        assert outcome is R.MOVE
        assert apply_report(current, reported) is reported
    else:
        # One final state after another: contradictory.
        assert current in FINAL_STATUSES and reported in FINAL_STATUSES
        assert outcome is R.IMPOSSIBLE
        with pytest.raises(InvalidPaymentTransition):
            apply_report(current, reported)


def test_late_authorized_after_captured_is_ignored_not_an_error() -> None:
    assert classify(S.CAPTURED, S.AUTHORIZED) is R.STALE
    assert apply_report("CAPTURED", "AUTHORIZED") is S.CAPTURED


def test_duplicate_report_is_stale() -> None:
    assert classify(S.AUTHORIZED, S.AUTHORIZED) is R.STALE
    assert classify(S.CAPTURED, S.CAPTURED) is R.STALE


def test_captured_after_cancelled_is_impossible() -> None:
    assert classify(S.CANCELLED, S.CAPTURED) is R.IMPOSSIBLE
    assert classify(S.CAPTURED, S.CANCELLED) is R.IMPOSSIBLE
    assert classify(S.EXPIRED, S.FAILED) is R.IMPOSSIBLE


def test_version_guard() -> None:
    # The webhooks' contract: an event whose sequence is not greater than the stored version changes nothing.
    assert classify(S.CREATED, S.AUTHORIZED, version=3, stored_version=3) is R.STALE
    assert classify(S.CREATED, S.AUTHORIZED, version=2, stored_version=3) is R.STALE
    assert classify(S.CREATED, S.AUTHORIZED, version=4, stored_version=3) is R.MOVE
    assert classify(S.CREATED, S.AUTHORIZED, version=4) is R.MOVE  # nothing stored yet
    # An old version is stale even when it would be impossible by the states.
    assert classify(S.CAPTURED, S.CANCELLED, version=1, stored_version=2) is R.STALE
    assert apply_report(S.CREATED, S.CAPTURED, version=1, stored_version=1) is S.CREATED
    # A newer version still cannot step back.
    assert classify(S.AUTHORIZED, S.CREATED, version=9, stored_version=2) is R.STALE


def test_provider_states_map_like_the_pay_flow() -> None:
    assert dict(PROVIDER_STATES) == {
        "CREATED": S.CREATED,
        "AUTHORIZED": S.AUTHORIZED,
        "CAPTURED": S.CAPTURED,
        "ABORTED": S.CANCELLED,
        "TERMINATED": S.CANCELLED,
        "EXPIRED": S.EXPIRED,
        "FAILED": S.FAILED,
    }
    assert from_provider("ABORTED") is S.CANCELLED
    with pytest.raises(ValueError, match="unknown provider payment state"):
        from_provider("REFUNDED")


def test_classify_provider_state() -> None:
    assert classify_provider_state(S.CREATED, "AUTHORIZED") is R.MOVE
    assert classify_provider_state(S.AUTHORIZED, "TERMINATED") is R.MOVE
    assert classify_provider_state(S.CANCELLED, "ABORTED") is R.STALE
    assert classify_provider_state(S.CAPTURED, "AUTHORIZED", version=5, stored_version=4) is R.STALE
    assert classify_provider_state(S.CAPTURED, "ABORTED") is R.IMPOSSIBLE


def test_accepts_the_ledgers_strings() -> None:
    assert classify("CREATED", "AUTHORIZED") is R.MOVE
    assert transition("AUTHORIZED", "CAPTURED") is S.CAPTURED
    with pytest.raises(ValueError):
        classify("CREATED", "ABORTED")  # a provider word, not ours: use classify_provider_state


@given(st.lists(st.sampled_from(list(S)), max_size=12), st.permutations(range(12)))
def test_applying_reports_in_any_order_never_goes_backwards(reports: list[PaymentStatus], order: list[int]) -> None:
    """Whatever order (and however often) reports arrive, the status only moves forward and never leaves a
    final state; the order only changes which final state wins when the reports contradict each other."""
    stage = {S.CREATED: 0, S.AUTHORIZED: 1}
    status = S.CREATED
    shuffled = [reports[i] for i in order if i < len(reports)]
    for reported in shuffled:
        before = status
        try:
            status = apply_report(status, reported)
        except InvalidPaymentTransition:
            assert before in FINAL_STATUSES and reported in FINAL_STATUSES
            continue
        assert stage.get(status, 2) >= stage.get(before, 2)
        if before in FINAL_STATUSES:
            assert status is before
    # A consistent history (at most one final state among the reports) ends where its furthest report is.
    finals = {r for r in reports if r in FINAL_STATUSES}
    if len(finals) == 1:
        assert status in finals
    elif not finals:
        assert status is (S.AUTHORIZED if S.AUTHORIZED in reports else S.CREATED)
