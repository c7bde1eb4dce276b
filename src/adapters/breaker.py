"""One upstream's circuit breaker: ``purgatory``'s async in-memory breaker, with a single probe when half-open.

Closed, it counts consecutive failures (a success resets the count); at ``threshold`` it opens and refuses every
call without making it (:class:`CircuitOpen`); after ``ttl_seconds`` it half-opens and lets one probe through (the
others are refused while the probe is in flight, so a recovering upstream is not hit by a burst); the probe's
success closes it, its failure opens it again. ``exclude``: exceptions that are an answer, not a failure (e.g. the
upstream refusing a request); they count as a success.

The state lives in the process (in memory): with several gateway processes each has its own breaker, which opens
on its own failures. That is acceptable for what it protects against (a cache-like protection: a dead upstream
costs each process ``threshold`` failed calls and then one probe per ``ttl_seconds``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker

__all__ = ["CircuitBreaker", "CircuitOpen"]


class CircuitOpen(Exception):
    """The breaker is open (or its probe is in flight): the call was not made."""


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        threshold: int,
        ttl_seconds: float,
        exclude: Sequence[type[BaseException]] = (),
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        if threshold < 1:
            raise ValueError("a breaker's threshold must be at least 1")
        if ttl_seconds <= 0:
            raise ValueError("a breaker's ttl must be positive")
        self.name = name
        self._threshold, self._ttl_seconds, self._exclude = threshold, ttl_seconds, list(exclude)
        self._on_state = on_state  # told the state after every call that was guarded (metrics)
        self._forget()

    def _forget(self) -> None:
        """Closed, with no failures counted: a new factory, its breaker made at the first call."""
        self._factory = AsyncCircuitBreakerFactory(
            default_threshold=self._threshold, default_ttl=self._ttl_seconds, exclude=list(self._exclude)
        )
        self._breaker: AsyncCircuitBreaker | None = None
        # purgatory lets every request through while half-open; we allow a single probe at a time.
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        """``closed``, ``half-opened`` or ``opened`` (purgatory's names)."""
        return "closed" if self._breaker is None else self._breaker.context.state

    @contextlib.asynccontextmanager
    async def guard(self) -> AsyncIterator[bool]:
        """``async with breaker.guard() as probing:`` around one upstream call; ``probing`` is True for the
        half-open probe. Raises :class:`CircuitOpen` instead of entering when the call must not be made."""
        if self._breaker is None:
            self._breaker = await self._factory.get_breaker(self.name)
        breaker = self._breaker
        # No await between this check and entering the breaker, so the probe decision is atomic.
        probing = breaker.context.state != "closed"
        try:
            if probing and self._probe_in_flight:
                raise CircuitOpen(f"circuit {self.name} is open (a probe is in flight)")
            try:
                await breaker.__aenter__()
            except OpenedState:
                raise CircuitOpen(f"circuit {self.name} is open") from None
            if probing:
                self._probe_in_flight = True
            try:
                yield probing
            except BaseException as exc:
                await breaker.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            else:
                await breaker.__aexit__(None, None, None)
            finally:
                if probing:
                    self._probe_in_flight = False
        finally:
            if self._on_state is not None:
                self._on_state(self.state)

    def reset(self) -> None:
        """Forget every failure: closed, as when new."""
        self._forget()
        if self._on_state is not None:
            self._on_state(self.state)
