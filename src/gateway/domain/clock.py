"""The one place that reads the time, so tests, rules and the simulation can be given another 'now'.

``travel_to`` / ``advance`` move this process's clock (``gateway simulate`` runs months of installments in
minutes, and tests take plans through their months). Production never moves it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")

# How far this process's clock is from the real one (development and tests only; see the module docstring).
_offset = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


def today() -> date:
    """Today's date in Denmark (due dates and postings are Danish calendar dates)."""
    return utcnow().astimezone(COPENHAGEN).date()


def travel_to(day: date) -> None:
    """Move the clock to the same Danish time of day on ``day`` (Danish date).

    Reckoned on Copenhagen's wall clock, not in whole UTC days: a day on the other side of a daylight-saving
    change is 23 or 25 hours away, and 24-hour steps from an hour before or after midnight would land on the
    day before or after ``day``."""
    global _offset
    now = utcnow().astimezone(COPENHAGEN)
    there = datetime.combine(day, now.time(), tzinfo=COPENHAGEN)  # a time that does not exist there: one later
    _offset += there.astimezone(UTC) - now.astimezone(UTC)


def advance(days: int) -> None:
    """``days`` Danish calendar days later, at the same Danish time of day."""
    travel_to(today() + timedelta(days=days))


def reset() -> None:
    global _offset
    _offset = timedelta(0)


def moved() -> bool:
    return _offset != timedelta(0)
