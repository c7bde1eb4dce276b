from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.installments import InstallmentLine
from gateway.domain.plan_states import (
    CANCELLABLE_STATUSES,
    DEFAULT_GRACE_DAYS,
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    InvalidPlanTransition,
    PlanStatus,
    can_answer_counter_offer,
    can_approve,
    can_cancel,
    can_decide,
    can_transition,
    is_in_default,
    is_live,
    is_terminal,
    lapse_date,
    next_lapse_date,
    should_complete,
    should_default,
    transition,
    unkept_installments,
)

S = PlanStatus

ALLOWED = {
    (S.PENDING_APPROVAL, S.ACTIVE),
    (S.PENDING_APPROVAL, S.CANCELLED),
    # The individual assessment can say no, or offer other terms, which the citizen accepts or declines (issue 12).
    (S.PENDING_APPROVAL, S.REJECTED),
    (S.PENDING_APPROVAL, S.COUNTER_OFFERED),
    (S.COUNTER_OFFERED, S.ACTIVE),
    (S.COUNTER_OFFERED, S.CANCELLED),
    (S.ACTIVE, S.CANCELLED),
    (S.ACTIVE, S.COMPLETED),
    (S.ACTIVE, S.DEFAULTED),
}


def test_members_and_order_match_graphql() -> None:
    assert [s.value for s in S] == [
        "PENDING_APPROVAL",
        "ACTIVE",
        "COMPLETED",
        "DEFAULTED",
        "CANCELLED",
        "COUNTER_OFFERED",
        "REJECTED",
    ]


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("new", list(S))
def test_transition_table(current: PlanStatus, new: PlanStatus) -> None:
    if current == new or (current, new) in ALLOWED:
        assert can_transition(current, new)
        assert transition(current, new) is new
    else:
        assert not can_transition(current, new)
        with pytest.raises(InvalidPlanTransition) as exc:
            transition(current, new)
        assert exc.value.current is current
        assert exc.value.new is new
        assert isinstance(exc.value, ValueError)


def test_terminal_states_have_no_way_out() -> None:
    assert frozenset({S.COMPLETED, S.DEFAULTED, S.CANCELLED, S.REJECTED}) == TERMINAL_STATUSES
    for terminal in TERMINAL_STATUSES:
        assert is_terminal(terminal)
        for new in S:
            if new != terminal:
                assert not can_transition(terminal, new)


def test_live_plans_hold_their_claims() -> None:
    assert frozenset({S.PENDING_APPROVAL, S.COUNTER_OFFERED, S.ACTIVE}) == LIVE_STATUSES
    assert is_live("PENDING_APPROVAL")
    assert is_live(S.ACTIVE)
    assert is_live("COUNTER_OFFERED")  # the claims stay held while the citizen considers the offer
    for s in (S.COMPLETED, S.DEFAULTED, S.CANCELLED, S.REJECTED):
        assert not is_live(s)


def test_cancel_and_approve_match_the_mutations() -> None:
    # cancelInstallmentPlan: any live plan; approveInstallmentPlan: PENDING_APPROVAL only.
    assert frozenset({S.PENDING_APPROVAL, S.ACTIVE, S.COUNTER_OFFERED}) == CANCELLABLE_STATUSES
    assert [s for s in S if can_cancel(s)] == [S.PENDING_APPROVAL, S.ACTIVE, S.COUNTER_OFFERED]
    assert [s for s in S if can_approve(s)] == [S.PENDING_APPROVAL]


def test_an_assessment_is_made_once_and_a_counter_offer_answered_once() -> None:
    # approve, reject and counter-offer decide a plan that waits for its assessment, and nothing else.
    assert [s for s in S if can_decide(s)] == [S.PENDING_APPROVAL]
    for decided in (S.ACTIVE, S.REJECTED, S.COUNTER_OFFERED):
        assert can_transition(S.PENDING_APPROVAL, decided)
        assert not can_decide(decided)
    # acceptCounterOffer and declineCounterOffer answer an open counter-offer, and nothing else.
    assert [s for s in S if can_answer_counter_offer(s)] == [S.COUNTER_OFFERED]
    assert transition(S.COUNTER_OFFERED, S.ACTIVE) is S.ACTIVE
    assert transition(S.COUNTER_OFFERED, S.CANCELLED) is S.CANCELLED
    # A rejected plan is over: it is neither approved nor counter-offered later, and holds no claims.
    for new in (S.ACTIVE, S.COUNTER_OFFERED, S.PENDING_APPROVAL):
        with pytest.raises(InvalidPlanTransition):
            transition(S.REJECTED, new)
    assert not is_live(S.REJECTED)


def test_accepts_the_ledgers_strings() -> None:
    assert transition("PENDING_APPROVAL", "ACTIVE") is S.ACTIVE
    assert S("CANCELLED") == "CANCELLED"
    with pytest.raises(ValueError):
        transition("ACTIVE", "PAUSED")


# --- default (misligholdt) ------------------------------------------------------------------------------

DUE = date(2026, 3, 1)


def line(due_on: date = DUE, amount: int = 35_000, paid: int = 0) -> InstallmentLine:
    return InstallmentLine(due_on=due_on, amount_oere=amount, paid_oere=paid)


def test_default_grace_is_fourteen_days() -> None:
    assert DEFAULT_GRACE_DAYS == 14
    assert lapse_date(DUE) == date(2026, 3, 16)


def test_unpaid_installment_defaults_the_day_after_the_grace_period() -> None:
    unpaid = [line()]
    assert not is_in_default(unpaid, DUE + timedelta(days=14))  # last day of grace: may still pay
    assert is_in_default(unpaid, DUE + timedelta(days=15))
    assert not should_default(S.ACTIVE, unpaid, date(2026, 3, 15))
    assert should_default(S.ACTIVE, unpaid, date(2026, 3, 16))


def test_grace_days_is_a_parameter() -> None:
    unpaid = [line()]
    assert lapse_date(DUE, 0) == date(2026, 3, 2)
    assert not is_in_default(unpaid, DUE, grace_days=0)
    assert is_in_default(unpaid, DUE + timedelta(days=1), grace_days=0)
    assert not is_in_default(unpaid, DUE + timedelta(days=30), grace_days=30)
    assert is_in_default(unpaid, DUE + timedelta(days=31), grace_days=30)
    with pytest.raises(ValueError):
        lapse_date(DUE, -1)
    with pytest.raises(ValueError):
        is_in_default(unpaid, DUE, grace_days=-1)
    with pytest.raises(ValueError):
        next_lapse_date(unpaid, grace_days=-1)


def test_partly_paid_installment_still_defaults_and_paid_one_never() -> None:
    late = DUE + timedelta(days=100)
    assert is_in_default([line(paid=34_999)], late)
    assert not is_in_default([line(paid=35_000)], late)
    assert not is_in_default([line(paid=40_000)], late)


def test_unkept_installments_lists_the_overdue_unpaid_ones() -> None:
    a = line(DUE, paid=35_000)
    b = line(date(2026, 4, 1))
    c = line(date(2026, 5, 1))
    assert unkept_installments([a, b, c], date(2026, 4, 20)) == [b]
    assert unkept_installments([a, b, c], date(2026, 5, 20)) == [b, c]
    assert unkept_installments([a, b, c], date(2026, 4, 15)) == []


@pytest.mark.parametrize("status", [s for s in S if s is not S.ACTIVE])
def test_only_active_plans_default(status: PlanStatus) -> None:
    assert not should_default(status, [line()], date(2027, 1, 1))


def test_should_complete() -> None:
    paid = [line(paid=35_000), line(date(2026, 4, 1), amount=1_000, paid=1_000)]
    assert should_complete(S.ACTIVE, paid)
    assert not should_complete(S.ACTIVE, [*paid, line(date(2026, 5, 1), paid=1)])
    assert not should_complete(S.ACTIVE, [])
    for status in S:
        if status is not S.ACTIVE:
            assert not should_complete(status, paid)


def test_next_lapse_date_warns_ahead() -> None:
    a = line(DUE, paid=35_000)
    b = line(date(2026, 4, 1))
    c = line(date(2026, 5, 1))
    assert next_lapse_date([a, b, c]) == date(2026, 4, 16)
    assert next_lapse_date([c, b]) == date(2026, 4, 16)
    assert next_lapse_date([a]) is None
    assert next_lapse_date([]) is None


@given(
    st.lists(
        st.tuples(
            st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
            st.integers(min_value=1, max_value=10_000_000),
            st.integers(min_value=0, max_value=10_000_000),
        ),
        max_size=20,
    ),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2031, 12, 31)),
    st.integers(min_value=0, max_value=60),
)
def test_default_iff_today_reaches_the_next_lapse_date(
    rows: list[tuple[date, int, int]], today: date, grace: int
) -> None:
    lines = [InstallmentLine(d, a, p) for d, a, p in rows]
    first = next_lapse_date(lines, grace)
    assert is_in_default(lines, today, grace) == (first is not None and today >= first)
