"""Danish bank days: the days on which Betalingsservice and MobilePay move money (domain.md "Bank days").

Danmarks Nationalbank publishes the bank closing days (banklukkedage): Saturdays and Sundays, 1 January,
Maundy Thursday, Good Friday, Easter Monday, Ascension Day and the Friday after it, Whit Monday, 5 June
(Grundlovsdag), 24, 25, 26 and 31 December. Store Bededag stopped being one when it was abolished as a
public holiday from 2024 (Act no. 214 of 6 March 2023).

The calendar comes from the ``holidays`` package rather than a hand-written list. ``holidays.Denmark`` has
no bank or financial category (and ``holidays.financial`` has no Copenhagen market), so the closing days
are put together from its two categories:

* ``PUBLIC``: 1 Jan, Maundy Thursday, Good Friday, Easter Sunday and Monday, Store Bededag up to 2023,
  Ascension Day, Whit Sunday and Monday, 25 and 26 Dec (the Sundays among them are weekend days anyway);
* ``OPTIONAL``: 1 May, 5 June, 24 Dec and 31 Dec. 1 May (Arbejdernes kampdag) is *not* a bank closing
  day, so it is dropped from this category (it stays only if a public holiday falls on it, as Ascension
  Day did in 2008);
* plus the Friday after Ascension Day (a bank closing day the package does not list in any category):
  39 + 1 days after Easter Sunday, from ``dateutil.easter`` (a dependency of ``holidays``).

Pure domain logic: no I/O; the per-year set is computed once and cached.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays
from dateutil.easter import easter

_SATURDAY = 5
_DAY = timedelta(days=1)


@lru_cache(maxsize=256)
def closing_days(year: int) -> frozenset[date]:
    """The bank closing days of ``year`` that are not Saturdays or Sundays anyway (and some that are)."""
    public = holidays.Denmark(years=year, categories=holidays.PUBLIC)
    optional = holidays.Denmark(years=year, categories=holidays.OPTIONAL)
    labour_day = date(year, 5, 1)
    friday_after_ascension = easter(year) + timedelta(days=40)
    return frozenset(public) | frozenset(d for d in optional if d != labour_day) | {friday_after_ascension}


def is_bank_day(d: date) -> bool:
    """Monday to Friday and not a bank closing day."""
    return d.weekday() < _SATURDAY and d not in closing_days(d.year)


def next_bank_day(d: date) -> date:
    """``d`` itself when it is a bank day, otherwise the first bank day after it."""
    while not is_bank_day(d):
        d += _DAY
    return d


def previous_bank_day(d: date) -> date:
    """``d`` itself when it is a bank day, otherwise the last bank day before it."""
    while not is_bank_day(d):
        d -= _DAY
    return d


def add_bank_days(d: date, n: int) -> date:
    """The ``n``-th bank day after ``d`` (before it when ``n`` is negative); ``d`` itself when ``n`` is 0.

    Counting starts from ``d`` whether or not ``d`` is a bank day: one bank day after a Saturday is the
    Monday (if that is a bank day), one before it is the Friday.
    """
    step = _DAY if n >= 0 else -_DAY
    for _ in range(abs(n)):
        d += step
        while not is_bank_day(d):
            d += step
    return d
