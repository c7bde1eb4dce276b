from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.bankdays import add_bank_days, closing_days, is_bank_day, next_bank_day, previous_bank_day

# Danmarks Nationalbank's bank closing days for 2026 besides weekends (domain.md "Bank days").
CLOSING_2026 = {
    date(2026, 1, 1),  # Nytårsdag
    date(2026, 4, 2),  # Skærtorsdag
    date(2026, 4, 3),  # Langfredag
    date(2026, 4, 6),  # 2. påskedag
    date(2026, 5, 14),  # Kristi himmelfartsdag
    date(2026, 5, 15),  # fredag efter Kristi himmelfartsdag
    date(2026, 5, 25),  # 2. pinsedag
    date(2026, 6, 5),  # Grundlovsdag
    date(2026, 12, 24),
    date(2026, 12, 25),
    date(2026, 12, 26),
    date(2026, 12, 31),
}

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


def test_2026_weekday_closing_days_are_exactly_nationalbankens_list() -> None:
    year = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    weekday_closing = {d for d in year if d.weekday() < 5 and not is_bank_day(d)}
    # 26 Dec 2026 is a Saturday: a closing day anyway.
    assert weekday_closing == {d for d in CLOSING_2026 if d.weekday() < 5}
    assert closing_days(2026) >= CLOSING_2026


@pytest.mark.parametrize("d", sorted(CLOSING_2026))
def test_each_2026_closing_day(d: date) -> None:
    assert not is_bank_day(d)


def test_ordinary_weekdays_are_bank_days() -> None:
    assert is_bank_day(date(2026, 4, 1))  # Wednesday before Easter
    assert is_bank_day(date(2026, 4, 7))  # Tuesday after Easter Monday
    assert is_bank_day(date(2026, 5, 1))  # 1 May is no bank closing day
    assert is_bank_day(date(2026, 12, 30))


def test_weekends_are_not_bank_days() -> None:
    assert not is_bank_day(date(2026, 3, 7))  # Saturday
    assert not is_bank_day(date(2026, 3, 8))  # Sunday


@pytest.mark.parametrize("d", [date(2024, 4, 26), date(2025, 5, 16), date(2026, 5, 1), date(2027, 4, 23)])
def test_store_bededag_is_a_bank_day_since_2024(d: date) -> None:
    assert is_bank_day(d)


def test_store_bededag_was_closed_until_2023() -> None:
    assert not is_bank_day(date(2023, 5, 5))


def test_labour_day_kept_when_ascension_falls_on_it() -> None:
    # 2008: Ascension Day was 1 May.
    assert not is_bank_day(date(2008, 5, 1))
    assert not is_bank_day(date(2008, 5, 2))


def test_friday_after_ascension_follows_the_packages_ascension_day() -> None:
    # The Friday is computed from Easter; check it lands right after the package's own Ascension Day.
    for year in range(2000, 2101):
        named = holidays.Denmark(years=year, language="en_US").get_named("Ascension Day", lookup="exact")
        assert len(named) == 1, year
        assert not is_bank_day(named[0] + timedelta(days=1)), year
        assert named[0] + timedelta(days=1) in closing_days(year)


def test_next_bank_day() -> None:
    assert next_bank_day(date(2026, 4, 1)) == date(2026, 4, 1)
    assert next_bank_day(date(2026, 4, 2)) == date(2026, 4, 7)  # Maundy Thursday -> Tuesday after Easter
    assert next_bank_day(date(2026, 12, 24)) == date(2026, 12, 28)
    assert next_bank_day(date(2026, 12, 31)) == date(2027, 1, 4)  # across the year
    assert next_bank_day(date(2026, 5, 14)) == date(2026, 5, 18)


def test_previous_bank_day() -> None:
    assert previous_bank_day(date(2026, 4, 6)) == date(2026, 4, 1)
    assert previous_bank_day(date(2027, 1, 1)) == date(2026, 12, 30)
    assert previous_bank_day(date(2026, 4, 1)) == date(2026, 4, 1)


def test_add_bank_days() -> None:
    assert add_bank_days(date(2026, 4, 1), 0) == date(2026, 4, 1)
    assert add_bank_days(date(2026, 4, 1), 1) == date(2026, 4, 7)
    assert add_bank_days(date(2026, 4, 7), -1) == date(2026, 4, 1)
    assert add_bank_days(date(2026, 3, 7), 1) == date(2026, 3, 9)  # Saturday + 1 = Monday
    assert add_bank_days(date(2026, 3, 7), -1) == date(2026, 3, 6)  # Saturday - 1 = Friday
    assert add_bank_days(date(2026, 3, 7), 0) == date(2026, 3, 7)
    assert add_bank_days(date(2026, 12, 23), 2) == date(2026, 12, 29)


@given(dates)
def test_next_bank_day_properties(d: date) -> None:
    n = next_bank_day(d)
    assert n >= d
    assert is_bank_day(n)
    # Nothing in between is a bank day; the longest run of closing days is Maundy Thursday to Easter Monday.
    assert all(not is_bank_day(d + timedelta(days=i)) for i in range((n - d).days))
    assert (n - d).days <= 5


@given(dates)
def test_previous_bank_day_properties(d: date) -> None:
    p = previous_bank_day(d)
    assert p <= d
    assert is_bank_day(p)
    assert (d - p).days <= 5


@given(dates, st.integers(min_value=-40, max_value=40))
def test_add_bank_days_properties(d: date, n: int) -> None:
    r = add_bank_days(d, n)
    if n == 0:
        assert r == d
        return
    assert is_bank_day(r)
    lo, hi = (d, r) if n > 0 else (r, d)
    between = sum(is_bank_day(lo + timedelta(days=i)) for i in range(1, (hi - lo).days + 1))
    # (d, r] holds n bank days going forward, [r, d) holds |n| going back.
    if n > 0:
        assert r > d and between == n
    else:
        assert r < d and between - is_bank_day(d) + is_bank_day(r) == -n


@given(dates, st.integers(min_value=0, max_value=30))
def test_add_bank_days_round_trip_from_a_bank_day(d: date, n: int) -> None:
    start = next_bank_day(d)
    assert add_bank_days(add_bank_days(start, n), -n) == start


def test_closing_days_is_cached() -> None:
    assert closing_days(2026) is closing_days(2026)
