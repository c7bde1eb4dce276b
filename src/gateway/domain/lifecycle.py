"""The mechanics every provider-reported lifecycle shares (one-off payments, monthly draws): which steps are
allowed, how far along each state is, and what a report does to the state we hold.

Reports arrive at least once and in any order. One not newer than the version stored, one that repeats the
current state, or one that names an earlier stage (a late PENDING after CHARGED) is STALE: it changes nothing
and is no error. A step forward is a MOVE. Anything else (a different final state after a final one) is
IMPOSSIBLE: nothing is applied and someone should look at it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


class ReportOutcome(StrEnum):
    """What a state reported by a provider does to our record of it."""

    MOVE = "MOVE"  # a new state: apply it
    STALE = "STALE"  # a duplicate, an older version or an earlier stage: ignore it, no error
    IMPOSSIBLE = "IMPOSSIBLE"  # contradicts what we know (e.g. one final state after another): log, don't apply


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    states: type[S]
    allowed: Mapping[S, frozenset[S]]  # the steps forward from each state
    stage: Mapping[S, int]  # how far along: a report of an earlier stage than ours is late, not a step back

    @property
    def final(self) -> frozenset[S]:
        return frozenset(s for s, following in self.allowed.items() if not following)

    def can_transition(self, current: S | str, new: S | str) -> bool:
        """Whether ``current -> new`` is a step forward, or the same state again."""
        current, new = self.states(current), self.states(new)
        return current == new or new in self.allowed[current]

    def is_final(self, status: S | str) -> bool:
        return self.states(status) in self.final

    def classify(
        self, current: S | str, reported: S | str, *, version: int | None = None, stored_version: int | None = None
    ) -> ReportOutcome:
        """What a reported state does to an object that is ``current`` here; ``version`` is the report's
        provider version and ``stored_version`` the last one applied (a report not newer is STALE)."""
        current, reported = self.states(current), self.states(reported)
        if version is not None and stored_version is not None and version <= stored_version:
            return ReportOutcome.STALE
        if reported == current:
            return ReportOutcome.STALE
        if reported in self.allowed[current]:
            return ReportOutcome.MOVE
        if self.stage[reported] < self.stage[current]:
            return ReportOutcome.STALE
        return ReportOutcome.IMPOSSIBLE
