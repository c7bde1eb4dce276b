from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.collection import CollectionStatus
from gateway.domain.errors import UserErrorCode
from gateway.domain.installments import (
    Eligibility,
    InstallmentLine,
    InstallmentStatus,
    eligibility,
    installment_status,
    installments_paid,
)
from gateway.domain.plan_states import PlanStatus

IS = InstallmentStatus
TODAY = date(2026, 3, 10)


def test_members_and_order_match_graphql() -> None:
    assert [s.value for s in IS] == ["SCHEDULED", "INVOICED", "PAID", "MISSED", "CANCELLED"]


# --- installments_paid ---------------------------------------------------------------------------------


def test_paid_fills_installments_earliest_first() -> None:
    assert installments_paid([35_000, 35_000, 10_000], 0) == [0, 0, 0]
    assert installments_paid([35_000, 35_000, 10_000], 50_000) == [35_000, 15_000, 0]
    assert installments_paid([35_000, 35_000, 10_000], 80_000) == [35_000, 35_000, 10_000]
    assert installments_paid([35_000, 35_000, 10_000], 99_999) == [35_000, 35_000, 10_000]
    assert installments_paid([35_000], -5) == [0]
    assert installments_paid([], 1_000) == []


amounts = st.lists(st.integers(min_value=1, max_value=5_000_000), max_size=40)


@given(amounts, st.integers(min_value=-10_000_000, max_value=300_000_000))
def test_installments_paid_properties(amounts: list[int], paid: int) -> None:
    parts = installments_paid(amounts, paid)
    assert len(parts) == len(amounts)
    assert all(isinstance(p, int) for p in parts)
    assert all(0 <= p <= a for p, a in zip(parts, amounts, strict=True))
    assert sum(parts) == min(max(paid, 0), sum(amounts))
    # Earliest first: an installment gets something only when every earlier one is paid in full.
    for i, p in enumerate(parts):
        if p > 0:
            assert parts[:i] == amounts[:i]


# --- installment_status ---------------------------------------------------------------------------------


@pytest.mark.parametrize("plan_status", [*list(PlanStatus), "ACTIVE", "CANCELLED"])
def test_paid_in_full_is_paid_in_any_plan(plan_status: str) -> None:
    assert installment_status(plan_status, TODAY - timedelta(days=9), 35_000, 35_000, TODAY) is IS.PAID
    assert installment_status(plan_status, TODAY + timedelta(days=9), 35_000, 40_000, TODAY) is IS.PAID


ENDED = ("CANCELLED", "DEFAULTED", "COMPLETED", "REJECTED")
LIVE = ("ACTIVE", "PENDING_APPROVAL", "COUNTER_OFFERED")
DRAWS = (None, "SCHEDULED", "PENDING", "CHARGED", "FAILED", "CANCELLED", "INVOICED")


@pytest.mark.parametrize("plan_status", ENDED)
@pytest.mark.parametrize("due_on", [TODAY - timedelta(days=1), TODAY, TODAY + timedelta(days=1)])
@pytest.mark.parametrize("draw", DRAWS)
def test_unpaid_in_an_ended_plan_is_cancelled(plan_status: str, due_on: date, draw: str | None) -> None:
    assert installment_status(plan_status, due_on, 35_000, 0, TODAY, draw) is IS.CANCELLED
    assert installment_status(PlanStatus(plan_status), due_on, 35_000, 34_999, TODAY, draw) is IS.CANCELLED


@pytest.mark.parametrize("plan_status", LIVE)
def test_unpaid_by_draw_and_date(plan_status: str) -> None:
    before, after = TODAY + timedelta(days=1), TODAY - timedelta(days=1)
    # Nothing drawn yet: scheduled until its date, missed after it.
    assert installment_status(plan_status, before, 35_000, 0, TODAY) is IS.SCHEDULED
    assert installment_status(plan_status, TODAY, 35_000, 100, TODAY) is IS.SCHEDULED
    assert installment_status(plan_status, after, 35_000, 0, TODAY) is IS.MISSED
    # The provider is collecting it (retries included): scheduled, also after its date.
    for draw in ("SCHEDULED", "PENDING"):
        assert installment_status(plan_status, after, 35_000, 0, TODAY, draw) is IS.SCHEDULED
    # A failed draw is missed at once; an invoice waits until its date, then it is missed (R10).
    assert installment_status(plan_status, before, 35_000, 0, TODAY, "FAILED") is IS.MISSED
    assert installment_status(plan_status, before, 35_000, 0, TODAY, "INVOICED") is IS.INVOICED
    assert installment_status(plan_status, TODAY, 35_000, 0, TODAY, "INVOICED") is IS.INVOICED
    assert installment_status(plan_status, after, 35_000, 0, TODAY, "INVOICED") is IS.MISSED


def test_zero_amount_counts_as_paid() -> None:
    assert installment_status("ACTIVE", TODAY - timedelta(days=1), 0, 0, TODAY) is IS.PAID


@given(
    st.sampled_from([s.value for s in PlanStatus]),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=1, max_value=1_000_000),
    st.integers(min_value=0, max_value=2_000_000),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    st.sampled_from(DRAWS),
)
def test_installment_status_is_total_and_consistent(
    plan_status: str, due_on: date, amount: int, paid: int, today: date, draw: str | None
) -> None:
    status = installment_status(plan_status, due_on, amount, paid, today, draw)
    assert (status is IS.PAID) == (paid >= amount)
    if status is IS.CANCELLED:
        assert plan_status in ENDED
    if status is IS.INVOICED:
        assert draw == "INVOICED" and due_on >= today
    if status is IS.MISSED:
        assert plan_status in LIVE and (draw == "FAILED" or due_on < today)


# --- InstallmentLine ----------------------------------------------------------------------------------------


def test_installment_line() -> None:
    assert InstallmentLine(TODAY, 35_000, 10_000).unpaid_oere == 25_000
    assert not InstallmentLine(TODAY, 35_000, 10_000).is_paid
    assert InstallmentLine(TODAY, 35_000, 50_000).unpaid_oere == 0
    assert InstallmentLine(TODAY, 35_000, 35_000).is_paid


# --- eligibility ---------------------------------------------------------------------------------------------

C = CollectionStatus
E = UserErrorCode


def test_open_claim_free_of_collection_and_plans() -> None:
    for status in (C.NOT_AT_COLLECTION, C.RETURNED):
        assert eligibility(100, status, False) == Eligibility(True, True, ())


def test_paid_claim() -> None:
    assert eligibility(0, C.NOT_AT_COLLECTION, False) == Eligibility(False, False, (E.CLAIM_NOT_OPEN,))
    assert eligibility(-50, C.RETURNED, False) == Eligibility(False, False, (E.CLAIM_NOT_OPEN,))


def test_at_collection_can_be_paid_but_not_planned() -> None:
    # R14: the citizen may still pay on it, but no plan with the municipality.
    assert eligibility(100, C.AT_COLLECTION, False) == Eligibility(True, False, (E.CLAIM_AT_COLLECTION,))


def test_unknown_collection_blocks_a_plan() -> None:
    assert eligibility(100, C.UNKNOWN, False) == Eligibility(True, False, (E.COLLECTION_STATUS_UNAVAILABLE,))


def test_already_in_plan() -> None:
    assert eligibility(100, C.NOT_AT_COLLECTION, True) == Eligibility(True, False, (E.CLAIM_ALREADY_IN_PLAN,))


def test_reasons_come_in_order() -> None:
    assert eligibility(0, C.AT_COLLECTION, True).reasons == (
        E.CLAIM_NOT_OPEN,
        E.CLAIM_AT_COLLECTION,
        E.CLAIM_ALREADY_IN_PLAN,
    )
    assert eligibility(0, C.UNKNOWN, True).reasons == (
        E.CLAIM_NOT_OPEN,
        E.COLLECTION_STATUS_UNAVAILABLE,
        E.CLAIM_ALREADY_IN_PLAN,
    )


def test_accepts_collection_status_strings() -> None:
    assert eligibility(100, "AT_COLLECTION", False) == eligibility(100, C.AT_COLLECTION, False)
    with pytest.raises(ValueError):
        eligibility(100, "SOMETHING_ELSE", False)


@given(st.integers(min_value=-1_000_000, max_value=1_000_000), st.sampled_from(list(C)), st.booleans())
def test_eligibility_properties(outstanding: int, status: CollectionStatus, in_plan: bool) -> None:
    result = eligibility(outstanding, status, in_plan)
    assert result.can_pay == (outstanding > 0)
    assert result.can_create_installment_plan == (not result.reasons)
    assert (E.CLAIM_NOT_OPEN in result.reasons) == (outstanding <= 0)
    assert (E.CLAIM_ALREADY_IN_PLAN in result.reasons) == in_plan
    assert len(set(result.reasons)) == len(result.reasons)
    if result.can_create_installment_plan:
        assert result.can_pay
