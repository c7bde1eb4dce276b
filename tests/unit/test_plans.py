from __future__ import annotations

import calendar
import itertools
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.plans import (
    MAX_MONTHS,
    MIN_MONTHLY_OERE,
    PlanClaim,
    PlanEvaluation,
    PlanOption,
    PlanViolation,
    ScheduledInstallment,
    Violation,
    build_schedule,
    evaluate_plan,
    first_due_date,
    plan_range,
)

TODAY = date(2025, 3, 10)


def claim(claim_id: str = "c1", outstanding: int = 400_000, **kw: object) -> PlanClaim:
    base = PlanClaim(
        claim_id=claim_id,
        outstanding_oere=outstanding,
        is_open=True,
        collection="NOT_AT_COLLECTION",
        in_active_plan=False,
        is_resident_deposit_loan=False,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def evaluate(
    claims: list[PlanClaim],
    monthly: int = 50_000,
    day: int = 1,
    *,
    accept: bool = True,
    assess: bool = False,
    check_terms: bool = True,
) -> PlanEvaluation:
    return evaluate_plan(
        claims,
        monthly_oere=monthly,
        day_of_month=day,
        accept_terms=accept,
        request_assessment=assess,
        today=TODAY,
        check_terms=check_terms,
    )


def codes(ev: PlanEvaluation) -> list[PlanViolation]:
    return [v.code for v in ev.violations]


# --- constants and codes ------------------------------------------------------------------------


def test_constants() -> None:
    assert MIN_MONTHLY_OERE == 35_000
    assert MAX_MONTHS == 18


def test_violation_codes_match_api_user_error_codes() -> None:
    for code in (
        "MONTHLY_AMOUNT_BELOW_MINIMUM",
        "PLAN_TOO_LONG",
        "CLAIM_AT_COLLECTION",
        "COLLECTION_STATUS_UNAVAILABLE",
        "TERMS_NOT_ACCEPTED",
        "CLAIM_NOT_OPEN",
        "CLAIM_ALREADY_IN_PLAN",
        "INVALID_DATE",
        "INVALID_AMOUNT",
        "NO_CLAIMS_SELECTED",
        "DUPLICATE_CLAIMS",
        "TOTAL_BELOW_MINIMUM_INSTALLMENT",
    ):
        assert PlanViolation(code).value == code
        assert str(PlanViolation(code)) == code


# --- first_due_date -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "day", "expected"),
    [
        (date(2025, 3, 10), 1, date(2025, 4, 1)),
        (date(2025, 3, 10), 15, date(2025, 4, 15)),
        (date(2025, 3, 1), 31, date(2025, 4, 30)),  # April has 30 days
        (date(2025, 1, 31), 31, date(2025, 2, 28)),
        (date(2024, 1, 31), 31, date(2024, 2, 29)),  # leap year
        (date(2024, 1, 5), 30, date(2024, 2, 29)),
        (date(2025, 12, 20), 5, date(2026, 1, 5)),  # year rollover
        (date(2025, 3, 31), 1, date(2025, 4, 1)),
    ],
)
def test_first_due_date(today: date, day: int, expected: date) -> None:
    assert first_due_date(today, day) == expected


@pytest.mark.parametrize("day", [0, 32, -1])
def test_first_due_date_rejects_invalid_day(day: int) -> None:
    with pytest.raises(ValueError):
        first_due_date(TODAY, day)


# --- build_schedule -----------------------------------------------------------------------------


def test_schedule_with_remainder() -> None:
    s = build_schedule(100_000, 35_000, 1, TODAY)
    assert [i.amount_oere for i in s] == [35_000, 35_000, 30_000]
    assert [i.number for i in s] == [1, 2, 3]
    assert [i.due_on for i in s] == [date(2025, 4, 1), date(2025, 5, 1), date(2025, 6, 1)]


def test_schedule_exact_multiple_has_full_last_installment() -> None:
    s = build_schedule(105_000, 35_000, 1, TODAY)
    assert [i.amount_oere for i in s] == [35_000, 35_000, 35_000]


def test_schedule_monthly_above_total_is_one_installment() -> None:
    s = build_schedule(20_000, 35_000, 1, TODAY)
    assert s == [ScheduledInstallment(1, date(2025, 4, 1), 20_000)]


def test_schedule_day_31_clamps_each_month_without_drift() -> None:
    s = build_schedule(35_000 * 14, 35_000, 31, date(2023, 12, 15))
    assert [i.due_on for i in s] == [
        date(2024, 1, 31),
        date(2024, 2, 29),  # leap year
        date(2024, 3, 31),  # back to 31, no drift
        date(2024, 4, 30),
        date(2024, 5, 31),
        date(2024, 6, 30),
        date(2024, 7, 31),
        date(2024, 8, 31),
        date(2024, 9, 30),
        date(2024, 10, 31),
        date(2024, 11, 30),
        date(2024, 12, 31),
        date(2025, 1, 31),
        date(2025, 2, 28),  # not a leap year
    ]


def test_schedule_day_29_in_non_leap_february() -> None:
    s = build_schedule(70_000, 35_000, 29, date(2025, 1, 2))
    assert [i.due_on for i in s] == [date(2025, 2, 28), date(2025, 3, 29)]


@pytest.mark.parametrize(("total", "monthly", "day"), [(0, 35_000, 1), (-1, 35_000, 1), (1, 0, 1), (1, 1, 0)])
def test_schedule_rejects_invalid_input(total: int, monthly: int, day: int) -> None:
    with pytest.raises(ValueError):
        build_schedule(total, monthly, day, TODAY)


@given(
    total=st.integers(min_value=1, max_value=50_000_000),
    monthly=st.integers(min_value=MIN_MONTHLY_OERE, max_value=5_000_000),
    day=st.integers(min_value=1, max_value=31),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
)
def test_schedule_properties(total: int, monthly: int, day: int, today: date) -> None:
    s = build_schedule(total, monthly, day, today)
    # Sum is exactly the principal; months == ceil(total / monthly).
    assert sum(i.amount_oere for i in s) == total
    assert len(s) == -(-total // monthly)
    assert [i.number for i in s] == list(range(1, len(s) + 1))
    # All but the last equal the monthly amount (>= minimum); the last is in (0, monthly].
    assert all(i.amount_oere == monthly >= MIN_MONTHLY_OERE for i in s[:-1])
    assert 0 < s[-1].amount_oere <= monthly
    # Due dates: strictly increasing, one per consecutive calendar month starting next month,
    # each on min(day, length of month).
    dates = [i.due_on for i in s]
    assert all(a < b for a, b in itertools.pairwise(dates))
    months = [(d.year, d.month) for d in dates]
    assert len(set(months)) == len(months)
    first_index = today.year * 12 + today.month - 1 + 1
    for k, d in enumerate(dates):
        assert d.year * 12 + d.month - 1 == first_index + k
        assert d.day == min(day, calendar.monthrange(d.year, d.month)[1])
    assert dates[0] == first_due_date(today, day)
    assert dates[0] > today


# --- evaluate_plan ------------------------------------------------------------------------------


def test_valid_plan_is_active() -> None:
    ev = evaluate([claim("a", 300_000), claim("b", 200_000)], monthly=50_000, day=15)
    assert ev.violations == ()
    assert ev.status == "ACTIVE"
    assert ev.allowed
    assert ev.principal_oere == 500_000
    assert ev.months == 10
    assert len(ev.schedule) == 10
    assert ev.schedule[0].due_on == date(2025, 4, 15)
    assert not ev.needs_assessment
    assert not ev.excludes_future_interest
    assert ev.range == plan_range(500_000)


def test_monthly_below_minimum() -> None:
    ev = evaluate([claim()], monthly=34_999)
    assert ev.violations == (Violation(PlanViolation.MONTHLY_AMOUNT_BELOW_MINIMUM, ("input", "monthlyAmount")),)
    assert ev.status is None
    assert not ev.allowed
    assert ev.schedule == ()  # no schedule for an amount that is not allowed


def test_monthly_exactly_minimum_is_fine() -> None:
    ev = evaluate([claim(outstanding=350_000)], monthly=35_000)
    assert ev.violations == ()
    assert ev.months == 10


def test_monthly_below_minimum_even_when_assessment_requested() -> None:
    ev = evaluate([claim()], monthly=10_000, assess=True)
    assert PlanViolation.MONTHLY_AMOUNT_BELOW_MINIMUM in codes(ev)
    assert ev.status is None


@pytest.mark.parametrize("monthly", [0, -100])
def test_invalid_amount(monthly: int) -> None:
    ev = evaluate([claim()], monthly=monthly)
    assert ev.violations == (Violation(PlanViolation.INVALID_AMOUNT, ("input", "monthlyAmount")),)
    assert ev.months == 0
    assert ev.schedule == ()


def test_exactly_18_months_is_active() -> None:
    ev = evaluate([claim(outstanding=35_000 * 18)], monthly=35_000)
    assert ev.months == 18
    assert ev.violations == ()
    assert ev.status == "ACTIVE"
    assert not ev.needs_assessment


def test_19_months_is_too_long() -> None:
    ev = evaluate([claim(outstanding=35_000 * 18 + 1)], monthly=35_000)
    assert ev.months == 19
    assert ev.violations == (Violation(PlanViolation.PLAN_TOO_LONG, ("input", "monthlyAmount")),)
    assert ev.status is None
    assert ev.needs_assessment
    assert len(ev.schedule) == 19  # the preview still shows what it would be


def test_19_months_with_assessment_is_pending_approval() -> None:
    ev = evaluate([claim(outstanding=35_000 * 18 + 1)], monthly=35_000, assess=True)
    assert ev.violations == ()
    assert ev.status == "PENDING_APPROVAL"
    assert ev.needs_assessment


def test_assessment_requested_for_short_plan_is_simply_active() -> None:
    ev = evaluate([claim(outstanding=100_000)], monthly=35_000, assess=True)
    assert ev.status == "ACTIVE"
    assert not ev.needs_assessment


def test_total_below_minimum_installment() -> None:
    ev = evaluate([claim(outstanding=34_999)], monthly=34_999)
    assert ev.violations == (Violation(PlanViolation.TOTAL_BELOW_MINIMUM_INSTALLMENT, ("input", "claimIds")),)
    assert ev.status is None
    assert ev.range.options == ()


def test_total_below_minimum_even_with_large_monthly() -> None:
    ev = evaluate([claim(outstanding=20_000)], monthly=35_000)
    assert codes(ev) == [PlanViolation.TOTAL_BELOW_MINIMUM_INSTALLMENT]


def test_total_exactly_minimum_is_one_installment() -> None:
    ev = evaluate([claim(outstanding=35_000)], monthly=35_000)
    assert ev.violations == ()
    assert ev.months == 1
    assert [i.amount_oere for i in ev.schedule] == [35_000]


def test_no_claims_selected() -> None:
    ev = evaluate([], monthly=35_000)
    assert ev.violations == (Violation(PlanViolation.NO_CLAIMS_SELECTED, ("input", "claimIds")),)
    assert ev.principal_oere == 0
    assert ev.months == 0
    assert ev.schedule == ()
    assert ev.status is None
    assert ev.range.options == ()


def test_duplicate_claims_reported_at_their_index_and_counted_once() -> None:
    ev = evaluate([claim("a", 400_000), claim("b", 100_000), claim("a", 400_000)], monthly=50_000)
    assert ev.violations == (Violation(PlanViolation.DUPLICATE_CLAIMS, ("input", "claimIds", "2"), "a"),)
    assert ev.principal_oere == 500_000
    assert ev.status is None


def test_claim_at_collection() -> None:
    ev = evaluate([claim("a"), claim("b", collection="AT_COLLECTION")])
    assert ev.violations == (Violation(PlanViolation.CLAIM_AT_COLLECTION, ("input", "claimIds", "1"), "b"),)
    assert ev.status is None


def test_collection_unknown_means_no_plan() -> None:
    ev = evaluate([claim("a", collection="UNKNOWN")])
    assert ev.violations == (Violation(PlanViolation.COLLECTION_STATUS_UNAVAILABLE, ("input", "claimIds", "0"), "a"),)
    assert ev.status is None


def test_claim_returned_from_collection_is_allowed() -> None:
    ev = evaluate([claim("a", collection="RETURNED")])
    assert ev.violations == ()
    assert ev.status == "ACTIVE"


@pytest.mark.parametrize("closed", [claim("b", is_open=False), claim("b", 0)])
def test_claim_not_open(closed: PlanClaim) -> None:
    ev = evaluate([claim("a"), closed])
    assert ev.violations == (Violation(PlanViolation.CLAIM_NOT_OPEN, ("input", "claimIds", "1"), "b"),)


def test_claim_already_in_plan() -> None:
    ev = evaluate([claim("a", in_active_plan=True)])
    assert ev.violations == (Violation(PlanViolation.CLAIM_ALREADY_IN_PLAN, ("input", "claimIds", "0"), "a"),)


@pytest.mark.parametrize("day", [0, 32])
def test_invalid_day_of_month(day: int) -> None:
    ev = evaluate([claim()], day=day)
    assert ev.violations == (Violation(PlanViolation.INVALID_DATE, ("input", "dayOfMonth")),)
    assert ev.schedule == ()
    assert ev.months == 8  # still known: it does not depend on the day


def test_day_31_plan_schedule_is_clamped() -> None:
    ev = evaluate([claim(outstanding=105_000)], monthly=35_000, day=31)
    assert [i.due_on for i in ev.schedule] == [date(2025, 4, 30), date(2025, 5, 31), date(2025, 6, 30)]


def test_terms_not_accepted() -> None:
    ev = evaluate([claim()], accept=False)
    assert ev.violations == (Violation(PlanViolation.TERMS_NOT_ACCEPTED, ("input", "acceptTerms")),)
    assert ev.status is None


def test_preview_can_skip_terms() -> None:
    ev = evaluate([claim()], accept=False, check_terms=False)
    assert ev.violations == ()
    assert ev.status == "ACTIVE"


def test_resident_deposit_loan_excludes_future_interest() -> None:
    ev = evaluate([claim("a"), claim("b", is_resident_deposit_loan=True)])
    assert ev.excludes_future_interest
    assert ev.status == "ACTIVE"


def test_all_violations_are_reported_together() -> None:
    ev = evaluate(
        [claim("a", collection="AT_COLLECTION", in_active_plan=True), claim("a")],
        monthly=1_000,
        day=0,
        accept=False,
    )
    assert codes(ev) == [
        PlanViolation.CLAIM_AT_COLLECTION,
        PlanViolation.CLAIM_ALREADY_IN_PLAN,
        PlanViolation.DUPLICATE_CLAIMS,
        PlanViolation.INVALID_DATE,
        PlanViolation.MONTHLY_AMOUNT_BELOW_MINIMUM,
        PlanViolation.PLAN_TOO_LONG,
        PlanViolation.TERMS_NOT_ACCEPTED,
    ]


@given(
    outstanding=st.lists(st.integers(min_value=1, max_value=5_000_000), min_size=1, max_size=6),
    monthly=st.integers(min_value=1, max_value=2_000_000),
    day=st.integers(min_value=1, max_value=31),
    assess=st.booleans(),
)
def test_evaluate_properties(outstanding: list[int], monthly: int, day: int, assess: bool) -> None:
    claims = [claim(f"c{i}", o) for i, o in enumerate(outstanding)]
    ev = evaluate(claims, monthly=monthly, day=day, assess=assess)
    total = sum(outstanding)
    assert ev.principal_oere == total
    assert ev.months == -(-total // monthly)
    assert ev.needs_assessment == (ev.months > MAX_MONTHS)
    assert (ev.status is None) == bool(ev.violations)
    if ev.status is not None:
        assert monthly >= MIN_MONTHLY_OERE
        assert total >= MIN_MONTHLY_OERE
        assert ev.months <= MAX_MONTHS or assess
        assert ev.status == ("PENDING_APPROVAL" if ev.months > MAX_MONTHS else "ACTIVE")
        assert sum(i.amount_oere for i in ev.schedule) == total
        assert len(ev.schedule) == ev.months


# --- plan_range ---------------------------------------------------------------------------------


def test_plan_range_example() -> None:
    r = plan_range(1_000_000)  # 10,000.00 DKK
    assert r.min_monthly_oere == 55_556  # ceil(1_000_000 / 18)
    assert r.max_months_at_minimum == 29  # ceil(1_000_000 / 35_000)
    assert r.options == (
        PlanOption(55_556, 18),  # 556.00 DKK takes 18 months too: each duration is offered once (issue 11)
        PlanOption(83_400, 12),
        PlanOption(166_700, 6),
        PlanOption(333_400, 3),
    )


def test_plan_range_small_total_uses_minimum() -> None:
    r = plan_range(100_000)  # 1,000.00 DKK
    assert r.min_monthly_oere == MIN_MONTHLY_OERE
    assert r.max_months_at_minimum == 3
    # 18, 12, 6 and 3 months would all be under 350.00: they collapse to the minimum.
    assert r.options == (PlanOption(35_000, 3),)


def test_plan_range_total_below_minimum_has_no_options() -> None:
    r = plan_range(20_000)
    assert r.options == ()
    assert r.min_monthly_oere == MIN_MONTHLY_OERE
    assert r.max_months_at_minimum == 1
    assert plan_range(0).max_months_at_minimum == 0


def test_plan_range_rejects_negative() -> None:
    with pytest.raises(ValueError):
        plan_range(-1)


@given(total=st.integers(min_value=MIN_MONTHLY_OERE, max_value=100_000_000))
def test_plan_range_properties(total: int) -> None:
    r = plan_range(total)
    assert r.min_monthly_oere >= MIN_MONTHLY_OERE
    # The minimum that fits yields a plan of at most 18 months ...
    assert -(-total // r.min_monthly_oere) <= MAX_MONTHS
    assert len(build_schedule(total, r.min_monthly_oere, 1, TODAY)) <= MAX_MONTHS
    # ... and one øre less would not (unless it is already the absolute minimum).
    if r.min_monthly_oere > MIN_MONTHLY_OERE:
        assert -(-total // (r.min_monthly_oere - 1)) > MAX_MONTHS
    assert r.max_months_at_minimum == -(-total // MIN_MONTHLY_OERE)
    assert r.options
    assert r.options[0].monthly_oere == r.min_monthly_oere
    amounts = [o.monthly_oere for o in r.options]
    assert len(set(amounts)) == len(amounts)
    assert [o.months for o in r.options] == sorted((o.months for o in r.options), reverse=True)
    for o in r.options:
        assert MIN_MONTHLY_OERE <= o.monthly_oere <= total
        assert o.months == -(-total // o.monthly_oere) <= MAX_MONTHS
        if o.monthly_oere != r.min_monthly_oere and o.monthly_oere != total:
            assert o.monthly_oere % 100 == 0 or o.monthly_oere == MIN_MONTHLY_OERE
        ev = evaluate([claim(outstanding=total)], monthly=o.monthly_oere)
        assert ev.status == "ACTIVE"
