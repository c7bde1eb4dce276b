"""Async client for claim collection status at Gældsstyrelsen (the Danish Debt Collection Agency).

One ``POST {base_url}/v1/claims/status`` with ``{"references": [...]}`` answers the collection state of
every claim reference the municipality asks about (R14: a claim at collection cannot get an installment
plan with the municipality; a claim returned from collection can). Only the municipality's claim references
ever leave the process: never a CPR number, and never an identifier in a URL.

Resilience, outermost first:

* a per-reference in-memory TTL cache (a cache only: failures are never cached, stale entries never served);
* a circuit breaker (``adapters.breaker``: ``purgatory``'s async in-memory breaker, per process) around the
  whole upstream call, so a dead upstream costs nothing while the breaker is open; after
  ``breaker_ttl_seconds`` one probe is let through (half-open) and a success closes the breaker again;
* retries on timeouts, transport errors and HTTP 500/502/503/504 with full-jitter exponential backoff,
  capped by ``total_timeout_seconds`` and by a retry budget (retries at most ``retry_budget_ratio`` of
  the calls in a sliding window, plus a small floor) so an upstream that is down is not hammered.

Construct one ``GaeldstClient`` per process (e.g. in the ASGI lifespan) and ``await client.aclose()`` on
shutdown: the cache, the breaker and the connection pool live on the instance.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import ipaddress
import random
import re
import ssl
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Final
from urllib.parse import urlsplit

import httpx
import orjson
import structlog
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from adapters.breaker import CircuitBreaker, CircuitOpen

if TYPE_CHECKING:
    from gateway.usecases.ports import UpstreamObserver

__all__ = [
    "ClaimCollection",
    "CollectionState",
    "GaeldstClient",
    "GaeldstConfig",
    "GaeldstStats",
    "GaeldstUnavailable",
    "RetryBudget",
]

log = structlog.get_logger(__name__)

STATUS_PATH: Final = "/v1/claims/status"
_BREAKER_NAME: Final = "gaeldst"
_RETRYABLE_STATUS: Final = frozenset({500, 502, 503, 504})
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A CPR number is DDMMYY-SSSS (or the same 10 digits without the dash). Claim references are never shaped
# like that, so anything that is is refused before it can leave the process.
_CPR_LIKE_RE: Final = re.compile(r"\d{6}-?\d{4}")
_MAX_REFERENCE_LENGTH: Final = 64


class CollectionState(StrEnum):
    """Gældsstyrelsen's side of a claim (gaeldst.dk: received, under collection, rejected, returned, ...)."""

    NOT_RECEIVED = "NOT_RECEIVED"
    RECEIVED = "RECEIVED"
    UNDER_COLLECTION = "UNDER_COLLECTION"
    REJECTED = "REJECTED"
    RETURNED = "RETURNED"
    PAID = "PAID"
    WRITTEN_OFF = "WRITTEN_OFF"


@dataclass(frozen=True)
class ClaimCollection:
    reference: str
    state: CollectionState
    since: datetime.date | None
    # Why the claim was returned to the municipality, e.g. "AGREEMENT", "COMPLAINT", "ERROR".
    return_reason: str | None


class GaeldstUnavailable(Exception):
    """Gældsstyrelsen could not be asked. ``reason`` is a short code safe to log and to put in metrics.

    Reasons: ``TIMEOUT``, ``CONNECT``, ``DISCONNECTED`` (connection dropped mid-exchange), ``TRANSPORT``,
    ``HTTP_<status>``, ``MALFORMED``, ``CIRCUIT_OPEN``. The message never carries a CPR number or a claim
    reference.
    """

    def __init__(self, reason: str, detail: str | None = None) -> None:
        self.reason = reason
        # For MALFORMED: which fields of the answer were wrong and how (paths and error types, no values).
        self.detail = detail
        super().__init__(f"Gældsstyrelsen unavailable: {reason}" + (f" ({detail})" if detail else ""))


@dataclass
class GaeldstConfig:
    base_url: str
    # Per-attempt budget (connect + send + wait for the whole answer), enforced as a hard deadline.
    timeout_seconds: float = 0.8
    connect_timeout: float = 0.3
    # Hard ceiling for one fetch_states call including retries and backoff; keeps the gateway well inside
    # a ~3 s request budget.
    total_timeout_seconds: float = 2.0
    max_retries: int = 2
    backoff_base_seconds: float = 0.05
    backoff_max_seconds: float = 0.4
    # Retry budget: in any sliding window, retries may be at most ratio * calls + min_retries.
    retry_budget_ratio: float = 0.2
    retry_budget_min_retries: int = 3
    retry_budget_window_seconds: float = 10.0
    cache_ttl_seconds: float = 30.0
    cache_max_entries: int = 100_000
    breaker_threshold: int = 5
    breaker_ttl_seconds: float = 15.0
    bearer_token: str | None = dataclasses.field(default=None, repr=False)
    # (certificate path, private key path) for mTLS.
    client_cert: tuple[str, str] | None = None
    # CA bundle (PEM) used to verify Gældsstyrelsen's server certificate; None = system trust store.
    ca_bundle: str | None = None
    max_connections: int = 20
    # Told of every attempt (its outcome and latency) and of the breaker's state after each call: metrics. Part
    # of the configuration so that a client rebuilt from its config keeps it.
    observer: UpstreamObserver | None = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("GaeldstConfig.base_url must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("GaeldstConfig.base_url must not have a query or fragment")
        if parts.scheme == "http" and (self.bearer_token or self.client_cert) and not _is_loopback(parts.hostname):
            raise ValueError("credentials for Gældsstyrelsen require an https base_url")
        for name in (
            "timeout_seconds",
            "connect_timeout",
            "total_timeout_seconds",
            "backoff_base_seconds",
            "backoff_max_seconds",
            "retry_budget_window_seconds",
            "breaker_ttl_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"GaeldstConfig.{name} must be positive")
        if self.max_retries < 0 or self.retry_budget_min_retries < 0 or self.retry_budget_ratio < 0:
            raise ValueError("GaeldstConfig retry settings must not be negative")
        if self.cache_ttl_seconds < 0 or self.cache_max_entries < 1:
            raise ValueError("GaeldstConfig cache settings are invalid")
        if self.breaker_threshold < 1:
            raise ValueError("GaeldstConfig.breaker_threshold must be at least 1")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class GaeldstStats:
    """A snapshot of the client's counters (monotonic since construction), for metrics."""

    calls: int  # fetch_states calls
    references_requested: int  # distinct references across all calls
    cache_hits: int  # references answered from the cache
    upstream_requests: int  # HTTP attempts actually sent, retries included
    retries: int
    retries_denied_by_budget: int
    failures: int  # fetch_states calls that raised GaeldstUnavailable (CIRCUIT_OPEN included)
    short_circuited: int  # calls refused with CIRCUIT_OPEN without any HTTP
    failures_by_reason: Mapping[str, int]
    breaker_state: str  # "closed" | "opened" | "half-opened"
    cache_size: int


class RetryBudget:
    """Sliding-window retry budget (after Finagle's RetryBudget / gRPC retry throttling).

    Every call deposits ``ratio`` of a retry; a retry is allowed while the retries made in the last
    ``window_seconds`` stay below ``ratio * calls + min_retries``. With a dead upstream the retry traffic
    therefore stays at about ``ratio`` of the call rate instead of multiplying it by ``1 + max_retries``.
    """

    def __init__(
        self,
        ratio: float,
        min_retries: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.min_retries = min_retries
        self.window_seconds = window_seconds
        self._clock = clock
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _trim(self, now: float) -> None:
        horizon = now - self.window_seconds
        for q in (self._calls, self._retries):
            while q and q[0] <= horizon:
                q.popleft()

    def record_call(self) -> None:
        now = self._clock()
        self._trim(now)
        self._calls.append(now)

    def try_acquire(self) -> bool:
        """Take one retry from the budget; False when the budget is exhausted."""
        now = self._clock()
        self._trim(now)
        if len(self._retries) < self.ratio * len(self._calls) + self.min_retries:
            self._retries.append(now)
            return True
        return False


class _Attempt(Exception):
    """One failed attempt; ``retryable`` says whether another attempt may help."""

    def __init__(self, reason: str, retryable: bool, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.detail = detail


class GaeldstClient:
    def __init__(
        self,
        config: GaeldstConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._rng = random.Random()  # noqa: S311 - backoff jitter only, not security relevant
        headers = {"Accept": "application/json", "User-Agent": "betalingsoverblik-gateway"}
        if config.bearer_token:
            headers["Authorization"] = f"Bearer {config.bearer_token}"
        verify: ssl.SSLContext | bool = True
        if transport is None and (config.client_cert or config.ca_bundle):
            verify = ssl.create_default_context(cafile=config.ca_bundle)
            if config.client_cert:
                verify.load_cert_chain(certfile=config.client_cert[0], keyfile=config.client_cert[1])
        self._http = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            headers=headers,
            transport=transport,
            verify=verify,
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout),
            limits=httpx.Limits(
                max_connections=config.max_connections, max_keepalive_connections=config.max_connections
            ),
            follow_redirects=False,
            trust_env=False,
        )
        self._cache: dict[str, tuple[float, ClaimCollection]] = {}
        self._budget = RetryBudget(
            config.retry_budget_ratio,
            config.retry_budget_min_retries,
            config.retry_budget_window_seconds,
            clock=clock,
        )
        self._breaker = CircuitBreaker(
            _BREAKER_NAME,
            threshold=config.breaker_threshold,
            ttl_seconds=config.breaker_ttl_seconds,
            on_state=config.observer.breaker if config.observer is not None else None,
        )
        self._calls = 0
        self._references_requested = 0
        self._cache_hits = 0
        self._upstream_requests = 0
        self._retries = 0
        self._retries_denied = 0
        self._failures = 0
        self._short_circuited = 0
        self._failures_by_reason: dict[str, int] = {}

    # ------------------------------------------------------------------ public API

    async def fetch_states(self, references: Sequence[str]) -> dict[str, ClaimCollection]:
        """Collection state for each reference (deduplicated), from the cache or one upstream call.

        Raises ``GaeldstUnavailable`` when Gældsstyrelsen cannot be asked; then nothing is returned, not
        even the cached part, so a caller never mixes fresh and unknown facts silently. Raises
        ``ValueError`` for references that are not claim references (empty, too long, or shaped like a CPR).
        """
        if isinstance(references, str):
            raise TypeError("references must be a sequence of claim references, not a string")
        wanted = list(dict.fromkeys(references))
        for ref in wanted:
            _check_reference(ref)
        self._calls += 1
        self._references_requested += len(wanted)
        now = self._clock()
        result: dict[str, ClaimCollection] = {}
        missing: list[str] = []
        for ref in wanted:
            entry = self._cache.get(ref)
            if entry is not None and entry[0] > now:
                result[ref] = entry[1]
            else:
                if entry is not None:
                    del self._cache[ref]
                missing.append(ref)
        self._cache_hits += len(result)
        if not missing:
            return result
        try:
            fetched = await self._guarded_fetch(missing)
        except GaeldstUnavailable as exc:
            self._failures += 1
            self._failures_by_reason[exc.reason] = self._failures_by_reason.get(exc.reason, 0) + 1
            log.warning(
                "gaeldst.unavailable",
                reason=exc.reason,
                detail=exc.detail,
                references=len(missing),
                breaker_state=self.breaker_state,
            )
            raise
        self._store(fetched)
        result.update(fetched)
        return {ref: result[ref] for ref in wanted}

    @property
    def http(self) -> httpx.AsyncClient:
        """The HTTP client (for the composition root's tracing instrumentation)."""
        return self._http

    @property
    def breaker_state(self) -> str:
        return self._breaker.state

    @property
    def stats(self) -> GaeldstStats:
        return GaeldstStats(
            calls=self._calls,
            references_requested=self._references_requested,
            cache_hits=self._cache_hits,
            upstream_requests=self._upstream_requests,
            retries=self._retries,
            retries_denied_by_budget=self._retries_denied,
            failures=self._failures,
            short_circuited=self._short_circuited,
            failures_by_reason=dict(self._failures_by_reason),
            breaker_state=self.breaker_state,
            cache_size=len(self._cache),
        )

    def invalidate(self, references: Sequence[str] | None = None) -> None:
        """Drop cached states (all of them when ``references`` is None)."""
        if references is None:
            self._cache.clear()
        else:
            for ref in references:
                self._cache.pop(ref, None)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> GaeldstClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ internals

    def _observe(self, outcome: str, started: float | None) -> None:
        if self.config.observer is not None:
            self.config.observer.request(outcome, None if started is None else time.perf_counter() - started)

    def _store(self, fetched: Mapping[str, ClaimCollection]) -> None:
        if self.config.cache_ttl_seconds <= 0:
            return
        now = self._clock()
        expires = now + self.config.cache_ttl_seconds
        if len(self._cache) + len(fetched) > self.config.cache_max_entries:
            for ref in [r for r, (exp, _) in self._cache.items() if exp <= now]:
                del self._cache[ref]
            # Still too big: drop the oldest insertions (dicts keep insertion order).
            excess = len(self._cache) + len(fetched) - self.config.cache_max_entries
            for ref in list(self._cache)[: max(excess, 0)]:
                del self._cache[ref]
        for ref, value in fetched.items():
            self._cache.pop(ref, None)
            self._cache[ref] = (expires, value)

    async def _guarded_fetch(self, references: list[str]) -> dict[str, ClaimCollection]:
        try:
            async with self._breaker.guard() as probing:
                return await self._fetch_with_retries(references, probe=probing)
        except CircuitOpen:
            self._short_circuited += 1
            self._observe("CIRCUIT_OPEN", None)
            raise GaeldstUnavailable("CIRCUIT_OPEN") from None

    async def _fetch_with_retries(self, references: list[str], *, probe: bool) -> dict[str, ClaimCollection]:
        cfg = self.config
        self._budget.record_call()
        deadline = self._clock() + cfg.total_timeout_seconds
        body = orjson.dumps({"references": references})
        correlation_id = str(uuid.uuid4())
        # A half-open probe gets exactly one attempt: its job is to find out, not to insist.
        max_retries = 0 if probe else cfg.max_retries
        attempt = 0
        while True:
            remaining = deadline - self._clock()
            try:
                if remaining <= 0:
                    raise _Attempt("TIMEOUT", retryable=False)
                attempt_budget = min(cfg.timeout_seconds, remaining)
                return await self._attempt(body, references, attempt_budget, correlation_id)
            except _Attempt as failed:
                reason = failed.reason
                if not failed.retryable or attempt >= max_retries:
                    raise GaeldstUnavailable(reason, failed.detail) from None
                cap = min(cfg.backoff_max_seconds, cfg.backoff_base_seconds * 2**attempt)
                delay = self._rng.uniform(0, cap)  # "full jitter" exponential backoff
                # Only retry when a useful attempt still fits in the deadline.
                if self._clock() + delay + min(cfg.timeout_seconds, 0.05) >= deadline:
                    raise GaeldstUnavailable(reason) from None
                if not self._budget.try_acquire():
                    self._retries_denied += 1
                    log.info("gaeldst.retry_budget_exhausted", reason=reason, references=len(references))
                    raise GaeldstUnavailable(reason) from None
                attempt += 1
                self._retries += 1
                log.info(
                    "gaeldst.retry",
                    reason=reason,
                    attempt=attempt,
                    references=len(references),
                    delay_ms=round(delay * 1000),
                    correlation_id=correlation_id,
                )
                await asyncio.sleep(delay)

    async def _attempt(
        self, body: bytes, references: list[str], budget_seconds: float, correlation_id: str
    ) -> dict[str, ClaimCollection]:
        started = time.perf_counter()
        try:
            result = await self._attempt_once(body, references, budget_seconds, correlation_id)
        except _Attempt as failed:
            self._observe(failed.reason, started)
            raise
        self._observe("ok", started)
        return result

    async def _attempt_once(
        self, body: bytes, references: list[str], budget_seconds: float, correlation_id: str
    ) -> dict[str, ClaimCollection]:
        self._upstream_requests += 1
        try:
            # httpx timeouts are per operation (a slow trickle could outlast them); asyncio.timeout makes the
            # per-attempt budget a hard deadline.
            async with asyncio.timeout(budget_seconds):
                response = await self._http.post(
                    STATUS_PATH,
                    content=body,
                    headers={"Content-Type": "application/json", "X-Correlation-ID": correlation_id},
                )
        except (TimeoutError, httpx.TimeoutException):
            raise _Attempt("TIMEOUT", retryable=True) from None
        except httpx.ConnectError:
            raise _Attempt("CONNECT", retryable=True) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            raise _Attempt("DISCONNECTED", retryable=True) from None
        except httpx.TransportError:
            raise _Attempt("TRANSPORT", retryable=True) from None
        if response.status_code != 200:
            status = response.status_code
            raise _Attempt(f"HTTP_{status}", retryable=status in _RETRYABLE_STATUS)
        try:
            return _parse_status_body(response.content, references)
        except _Malformed as malformed:
            raise _Attempt("MALFORMED", retryable=False, detail=str(malformed)) from None


def _check_reference(ref: object) -> None:
    # Messages deliberately do not echo the value: it might be a CPR number passed by mistake.
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError("claim reference must be a non-empty string")
    if len(ref) > _MAX_REFERENCE_LENGTH:
        raise ValueError("claim reference is too long")
    if _CPR_LIKE_RE.fullmatch(ref.strip()):
        raise ValueError("claim reference looks like a CPR number; refusing to send it to Gældsstyrelsen")


class _Malformed(Exception):
    """The answer does not match the contract; the message locates the problem without any value."""


def _iso_date(value: object) -> datetime.date:
    # Exactly YYYY-MM-DD and a real calendar date (pydantic's own date parsing would also take unix numbers).
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise PydanticCustomError("date_format", "expected YYYY-MM-DD")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("date_invalid", "not a calendar date") from None


class _ClaimWire(BaseModel):
    # Strict types; unknown keys are ignored for forward compatibility. Wire names are camelCase.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, alias_generator=to_camel)

    reference: str
    state: CollectionState
    since: Annotated[datetime.date, PlainValidator(_iso_date)] | None = None
    return_reason: Annotated[str, Field(min_length=1)] | None = None


class _StatusWire(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    claims: list[_ClaimWire]


def _where(loc: tuple[int | str, ...], error_type: str) -> str:
    # An unexpected key's name came from the other side, so it is not repeated either.
    path = [*loc[:-1], "<unexpected key>"] if error_type == "extra_forbidden" else list(loc)
    return ".".join(str(part) for part in path) or "<root>"


def _describe(exc: ValidationError, *, limit: int = 10) -> str:
    """Field paths and error types only: pydantic's messages and inputs can echo a value (a reference)."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    parts = [f"{_where(e['loc'], e['type'])}: {e['type']}" for e in errors[:limit]]
    if len(errors) > limit:
        parts.append(f"... {len(errors) - limit} more")
    return "; ".join(parts)


def _parse_status_body(content: bytes, asked: Sequence[str]) -> dict[str, ClaimCollection]:
    """Strictly validate ``{"claims": [{"reference", "state", "since", "returnReason"}]}``.

    Every reference asked must be answered exactly once (an unknown claim comes back as NOT_RECEIVED);
    a missing, duplicated or unasked reference is malformed, because guessing could let a plan be made on
    a claim that is at collection (R14). Extra keys are ignored for forward compatibility.
    """
    try:
        status = _StatusWire.model_validate_json(content)
    except ValidationError as exc:
        raise _Malformed(_describe(exc)) from None
    asked_set = set(asked)
    out: dict[str, ClaimCollection] = {}
    for index, claim in enumerate(status.claims):
        if claim.reference not in asked_set:
            raise _Malformed(f"claims.{index}.reference: not_asked")
        if claim.reference in out:
            raise _Malformed(f"claims.{index}.reference: duplicate")
        out[claim.reference] = ClaimCollection(claim.reference, claim.state, claim.since, claim.return_reason)
    if len(out) != len(asked_set):
        raise _Malformed(f"claims: {len(asked_set) - len(out)} asked references missing")
    return out
