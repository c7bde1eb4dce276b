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
    """Move the clock to the same time of day on ``day`` (Danish date)."""
    global _offset
    _offset += timedelta(days=(day - today()).days)


def advance(days: int) -> None:
    global _offset
    _offset += timedelta(days=days)


def reset() -> None:
    global _offset
    _offset = timedelta(0)


def moved() -> bool:
    return _offset != timedelta(0)
