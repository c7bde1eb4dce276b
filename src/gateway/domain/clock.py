"""The one place that reads the time, so tests and rules can be given a fixed 'now'."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """Today's date in Denmark (due dates and postings are Danish calendar dates)."""
    return datetime.now(COPENHAGEN).date()
