"""The process's movable clock (``gateway.domain.clock``): its moves are Danish calendar days, whatever the real
time of day and however far a daylight-saving change lies between the real day and the day travelled to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.domain import clock


@pytest.fixture(autouse=True)
def _put_back() -> Iterator[None]:
    yield
    clock.reset()


def pretend_now(instant: datetime) -> None:
    """The clock reads ``instant`` (and runs on from there)."""
    clock._offset = instant - datetime.now(UTC)


# An hour before or after Danish midnight in winter and in summer (where 24-hour steps across a daylight-saving
# change land on the wrong day), the eves of both changes, and noon.
REAL_NOWS = [
    datetime(2027, 1, 15, 22, 30, tzinfo=UTC),  # 23:30 CET
    datetime(2027, 1, 15, 23, 30, tzinfo=UTC),  # 00:30 CET
    datetime(2027, 7, 15, 21, 30, tzinfo=UTC),  # 23:30 CEST
    datetime(2027, 7, 15, 22, 30, tzinfo=UTC),  # 00:30 CEST
    datetime(2027, 3, 27, 22, 30, tzinfo=UTC),  # the night summer time begins
    datetime(2027, 10, 30, 22, 30, tzinfo=UTC),  # the night it ends
    datetime(2027, 1, 15, 11, 0, tzinfo=UTC),
]


@pytest.mark.parametrize("now", REAL_NOWS, ids=lambda n: n.isoformat(timespec="minutes"))
@pytest.mark.parametrize("day", [date(2041, 1, 7), date(2041, 7, 8), date(2041, 3, 31), date(2041, 10, 27)])
def test_travel_to_lands_on_the_danish_day_asked_for(now: datetime, day: date) -> None:
    pretend_now(now)
    wall = now.astimezone(clock.COPENHAGEN)
    clock.travel_to(day)
    assert clock.today() == day
    there = clock.utcnow().astimezone(clock.COPENHAGEN)
    assert (there.hour, there.minute) == (wall.hour, wall.minute)  # the same Danish time of day


@pytest.mark.parametrize("now", REAL_NOWS, ids=lambda n: n.isoformat(timespec="minutes"))
def test_advance_moves_one_danish_day_at_a_time_through_both_daylight_saving_changes(now: datetime) -> None:
    pretend_now(now)
    start = clock.today()
    seen = []
    for _ in range(400):
        clock.advance(1)
        seen.append(clock.today())
    assert seen == [start + timedelta(days=i) for i in range(1, 401)]
    clock.advance(-400)
    assert clock.today() == start
