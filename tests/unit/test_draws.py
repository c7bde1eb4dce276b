from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.bankdays import is_bank_day
from gateway.domain.draws import (
    FINAL_STATUSES,
    MIN_MOBILEPAY_LEAD_DAYS,
    MOBILEPAY_CHARGE_STATES,
    DrawStatus,
    InvalidDrawTransition,
    ReportOutcome,
    apply_report,
    can_transition,
    classify,
    classify_mobilepay_charge,
    collection_date,
    draw_amount,
    from_mobilepay_charge,
    is_final,
    transition,
    when_to_create,
)

D = DrawStatus
R = ReportOutcome

FORWARD = {
    (D.SCHEDULED, D.PENDING),
    (D.SCHEDULED, D.CHARGED),
    (D.SCHEDULED, D.FAILED),
    (D.SCHEDULED, D.CANCELLED),
    (D.SCHEDULED, D.INVOICED),
    (D.PENDING, D.CHARGED),
    (D.PENDING, D.FAILED),
    (D.PENDING, D.CANCELLED),
}
LATE = {
    (D.PENDING, D.SCHEDULED),
    *((final, D.SCHEDULED) for final in FINAL_STATUSES),
    *((final, D.PENDING) for final in FINAL_STATUSES),
}


def test_final_states() -> None:
    assert frozenset({D.CHARGED, D.FAILED, D.CANCELLED, D.INVOICED}) == FINAL_STATUSES
    assert [s for s in D if is_final(s)] == [D.CHARGED, D.FAILED, D.CANCELLED, D.INVOICED]


@pytest.mark.parametrize("current", list(D))
@pytest.mark.parametrize("new", list(D))
def test_transition_table(current: DrawStatus, new: DrawStatus) -> None:
    if current == new or (current, new) in FORWARD:
        assert can_transition(current, new)
        assert transition(current, new) is new
    else:
        assert not can_transition(current, new)
        with pytest.raises(InvalidDrawTransition) as exc:
            transition(current, new)
        assert exc.value.current is current
        assert exc.value.new is new
        assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("current", list(D))
@pytest.mark.parametrize("reported", list(D))
def test_classify_table(current: DrawStatus, reported: DrawStatus) -> None:
    outcome = classify(current, reported)
    if current == reported or (current, reported) in LATE:
        assert outcome is R.STALE
        assert apply_report(current, reported) is current
    elif (current, reported) in FORWARD:
        assert outcome is R.MOVE
        assert apply_report(current, reported) is reported
    else:
        # One final state after another, or an invoice for a draw already handed to the provider.
        assert (current in FINAL_STATUSES and reported in FINAL_STATUSES) or (current, reported) == (
            D.PENDING,
            D.INVOICED,
        )
        assert outcome is R.IMPOSSIBLE
        with pytest.raises(InvalidDrawTransition):
            apply_report(current, reported)


def test_pending_cannot_become_invoiced() -> None:
    # Once handed to the provider, an invoice for the same installment is a new draw.
    assert classify(D.PENDING, D.INVOICED) is R.IMPOSSIBLE


def test_late_and_duplicate_reports_are_no_ops() -> None:
    assert apply_report(D.CHARGED, D.PENDING) is D.CHARGED
    assert apply_report(D.CHARGED, D.CHARGED) is D.CHARGED
    assert apply_report(D.FAILED, "PENDING") is D.FAILED
    assert apply_report(D.PENDING, D.CHARGED, version=3, stored_version=3) is D.PENDING
    assert apply_report(D.PENDING, D.CHARGED, version=4, stored_version=3) is D.CHARGED
    assert classify(D.FAILED, D.CHARGED, version=1, stored_version=2) is R.STALE


# --- MobilePay Recurring charge states ------------------------------------------------------------------


def test_mobilepay_charge_states() -> None:
    assert dict(MOBILEPAY_CHARGE_STATES) == {
        "PENDING": D.PENDING,
        "DUE": D.PENDING,
        "PROCESSING": D.PENDING,
        "RESERVED": D.PENDING,
        "PARTIALLY_CAPTURED": D.PENDING,
        "CHARGED": D.CHARGED,
        "PARTIALLY_REFUNDED": D.CHARGED,
        "REFUNDED": D.CHARGED,
        "FAILED": D.FAILED,
        "CANCELLED": D.CANCELLED,
    }
    # A provider never reports our own bookkeeping states.
    assert D.SCHEDULED not in MOBILEPAY_CHARGE_STATES.values()
    assert D.INVOICED not in MOBILEPAY_CHARGE_STATES.values()
    with pytest.raises(ValueError, match="unknown MobilePay charge state"):
        from_mobilepay_charge("ACTIVE")


def test_charge_life_in_order_and_out_of_order() -> None:
    status = D.SCHEDULED
    for state in ("PENDING", "DUE", "PROCESSING", "CHARGED", "DUE", "REFUNDED", "PENDING"):
        status = apply_report(status, from_mobilepay_charge(state))
    assert status is D.CHARGED
    assert classify_mobilepay_charge(D.SCHEDULED, "CHARGED") is R.MOVE
    assert classify_mobilepay_charge(D.PENDING, "DUE") is R.STALE
    assert classify_mobilepay_charge(D.CHARGED, "DUE") is R.STALE
    assert classify_mobilepay_charge(D.FAILED, "CHARGED") is R.IMPOSSIBLE
    assert classify_mobilepay_charge(D.PENDING, "FAILED", version=2, stored_version=5) is R.STALE


# --- dates ------------------------------------------------------------------------------------------------


def test_collection_date_is_the_next_bank_day() -> None:
    assert collection_date(date(2026, 4, 1)) == date(2026, 4, 1)
    assert collection_date(date(2026, 4, 2)) == date(2026, 4, 7)  # Maundy Thursday
    assert collection_date(date(2026, 3, 1)) == date(2026, 3, 2)  # Sunday
    assert collection_date(date(2026, 6, 5)) == date(2026, 6, 8)  # Grundlovsdag (Friday)


def test_when_to_create() -> None:
    assert MIN_MOBILEPAY_LEAD_DAYS == 1
    assert when_to_create(date(2026, 4, 8)) == date(2026, 4, 7)
    assert when_to_create(date(2026, 4, 7)) == date(2026, 4, 1)  # over Easter
    assert when_to_create(date(2026, 4, 3)) == date(2026, 4, 1)  # Good Friday: collected Tue 7 Apr
    assert when_to_create(date(2026, 3, 2), lead_days=3) == date(2026, 2, 25)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="lead_days"):
            when_to_create(date(2026, 3, 2), lead_days=bad)


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2060, 12, 31)), st.integers(min_value=1, max_value=10))
def test_when_to_create_properties(due_on: date, lead: int) -> None:
    collect = collection_date(due_on)
    create = when_to_create(due_on, lead)
    assert is_bank_day(collect) and collect >= due_on
    assert is_bank_day(create)
    assert create < collect
    assert (collect - create).days >= lead  # at least as many calendar days as bank days
    bank_days_between = sum(is_bank_day(create + timedelta(days=i)) for i in range(1, (collect - create).days + 1))
    assert bank_days_between == lead


# --- amounts -----------------------------------------------------------------------------------------------


def test_draw_amount_examples() -> None:
    assert draw_amount(35_000, 0, 1_000_000) == 35_000
    assert draw_amount(35_000, 10_000, 1_000_000) == 25_000
    assert draw_amount(35_000, 0, 12_345) == 12_345  # the plan owes less than an installment now
    assert draw_amount(35_000, 35_000, 1_000_000) == 0  # paid: skip
    assert draw_amount(35_000, 50_000, 1_000_000) == 0
    assert draw_amount(35_000, 0, 0) == 0  # nothing owed: skip
    assert draw_amount(35_000, 0, -500) == 0
    assert draw_amount(35_000, -100, 1_000_000) == 35_000  # a negative "paid" counts as nothing


oere = st.integers(min_value=-10_000_000, max_value=100_000_000)


@given(oere, oere, oere)
def test_draw_amount_never_exceeds_what_is_owed_and_is_never_negative(installment: int, paid: int, owed: int) -> None:
    amount = draw_amount(installment, paid, owed)
    assert isinstance(amount, int)
    assert amount >= 0
    assert amount <= max(owed, 0)
    assert amount <= max(installment - max(paid, 0), 0)
    # It is exactly the lesser of the two limits.
    assert amount == max(0, min(installment - max(paid, 0), owed))


@given(st.integers(min_value=1, max_value=10_000_000), st.integers(min_value=0, max_value=10_000_000))
def test_installment_plus_draw_never_overpays(installment: int, paid: int) -> None:
    assert paid + draw_amount(installment, paid, 10**12) == max(installment, paid)
