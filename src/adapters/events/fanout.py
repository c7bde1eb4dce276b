"""The in-process part every status-event bus shares: who watches what, and waking them.

A watcher is an ``asyncio.Event`` per subscription, set when a change of its object arrives. Changes are
coalesced (a subscriber reads the object again anyway), so a burst of events costs a subscriber one read and no
queue can grow without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import get_args

import orjson
import structlog

from gateway.usecases.ports import StatusChange, StatusKind

log = structlog.get_logger(__name__)

_KINDS = frozenset(get_args(StatusKind))


def encode(changes: Sequence[StatusChange]) -> bytes:
    """The wire form: ``[["payment", 12, "CAPTURED"], ...]`` (ids and statuses only)."""
    return orjson.dumps([[c.kind, c.key, c.status] for c in changes])


def decode(payload: str | bytes) -> list[StatusChange]:
    """The changes in a payload; anything malformed is dropped (logged), never raised into a listener."""
    try:
        items = orjson.loads(payload)
        changes = [
            StatusChange(kind, key, status)
            for kind, key, status in items
            if kind in _KINDS and isinstance(key, int) and isinstance(status, str)
        ]
    except (orjson.JSONDecodeError, TypeError, ValueError):
        log.warning("events.malformed_payload", size=len(payload))
        return []
    return changes


class _Signal:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def wait(self) -> None:
        await self.event.wait()
        self.event.clear()


class LocalEvents:
    """In-process events (the embedded SQLite, where one process serves everything): ``publish`` wakes this
    process's watchers directly. The base of the buses that reach other processes too."""

    def __init__(self) -> None:
        self._watchers: dict[tuple[str, int], set[_Signal]] = {}

    @property
    def watching(self) -> int:
        """How many subscriptions this process serves (for tests and metrics)."""
        return sum(len(signals) for signals in self._watchers.values())

    async def publish(self, changes: Sequence[StatusChange]) -> None:
        self.deliver(changes)

    def deliver(self, changes: Sequence[StatusChange]) -> None:
        for change in changes:
            for signal in self._watchers.get((change.kind, change.key), ()):
                signal.event.set()

    def deliver_to_all(self) -> None:
        """Wake every watcher: after the bus may have missed events (a lost connection), all read again."""
        for signals in self._watchers.values():
            for signal in signals:
                signal.event.set()

    async def start_listening(self) -> None:
        """Buses that listen elsewhere connect here, before the first watch is registered."""

    @asynccontextmanager
    async def watch(self, kind: StatusKind, key: int) -> AsyncIterator[_Signal]:
        await self.start_listening()
        signal = _Signal()
        watchers = self._watchers.setdefault((kind, key), set())
        watchers.add(signal)
        try:
            yield signal
        finally:
            watchers.discard(signal)
            if not watchers:
                self._watchers.pop((kind, key), None)

    async def aclose(self) -> None:
        self._watchers.clear()
