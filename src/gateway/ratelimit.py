"""Rate limits: a token bucket per subject — the signed-in citizen or caseworker, or the client address of an
anonymous request — with its own rate and burst per kind (settings).

With ``GATEWAY_REDIS_URL`` the buckets live in Redis and every gateway process shares them (one atomic Lua
script per request, on Redis's clock); without it each process keeps its own. When Redis cannot be reached the
process falls back to its own buckets rather than refusing everyone or letting everyone through.

Bucket keys never carry a CPR, a token subject or an address in clear: they are hashed.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from cachetools import TTLCache

from gateway.domain.viewers import Anonymous, CaseworkerViewer, CitizenViewer, Viewer
from gateway.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    per_second: float  # how fast the bucket refills
    burst: int  # how many tokens it holds


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int  # the bucket's size
    remaining: int  # whole tokens left after this request
    reset_seconds: int  # until the bucket is full again
    retry_after: int  # seconds until the next request is allowed (0 when this one was)

    @classmethod
    def of(cls, limit: Limit, tokens: float, allowed: bool) -> Decision:
        missing = max(0.0, limit.burst - tokens)
        return cls(
            allowed=allowed,
            limit=limit.burst,
            remaining=max(0, math.floor(tokens)),
            reset_seconds=math.ceil(missing / limit.per_second),
            retry_after=0 if allowed else max(1, math.ceil((1 - tokens) / limit.per_second)),
        )

    @property
    def running_low(self) -> bool:
        """Less than half of the burst left (or none)."""
        return not self.allowed or self.remaining * 2 < self.limit

    def extension(self) -> dict[str, int]:
        """``extensions.rateLimit`` of a GraphQL response."""
        return {"limit": self.limit, "remaining": self.remaining, "resetSeconds": self.reset_seconds}

    def headers(self) -> dict[str, str]:
        """The same as HTTP headers (the IETF draft's RateLimit-* names, as separate fields)."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


class Buckets(Protocol):
    async def take(self, key: str, limit: Limit) -> Decision: ...

    async def aclose(self) -> None: ...


class LocalBuckets:
    """This process's buckets. A bucket untouched for longer than it takes to refill is full, so it is dropped
    (the cache's TTL) instead of kept; the cache's size bounds memory however many addresses come by."""

    def __init__(
        self, refill_seconds: float, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(
            maxsize=max_keys, ttl=max(refill_seconds, 1.0), timer=clock
        )

    async def take(self, key: str, limit: Limit) -> Decision:
        now = self._clock()
        tokens, updated = self._buckets.get(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + max(0.0, now - updated) * limit.per_second)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        return Decision.of(limit, tokens, allowed)

    async def aclose(self) -> None:
        return None


# KEYS[1] the bucket; ARGV per_second, burst. Redis's own clock, so processes on different hosts agree. Floats
# leave Lua as strings (Redis would truncate a number to an integer).
_TAKE = """
local per_second = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * per_second)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / per_second * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisBuckets:
    """Buckets shared by every process through Redis; this process's own while Redis does not answer."""

    def __init__(self, url: str, prefix: str, fallback: Buckets) -> None:
        import redis.asyncio as aioredis

        # Short timeouts: a slow Redis must not slow every request down; the fallback answers instead.
        self._redis: Any = aioredis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
        self._script = self._redis.register_script(_TAKE)
        self._prefix = prefix
        self._fallback = fallback
        self._warned_at = -math.inf

    async def take(self, key: str, limit: Limit) -> Decision:
        from redis.exceptions import RedisError

        try:
            allowed, tokens = await self._script(keys=[self._prefix + key], args=[limit.per_second, limit.burst])
        except (RedisError, OSError) as exc:
            now = time.monotonic()
            if now - self._warned_at > 60:  # once a minute, not once a request
                self._warned_at = now
                log.warning("ratelimit.redis_unavailable", error=type(exc).__name__)
            return await self._fallback.take(key, limit)
        return Decision.of(limit, float(tokens), bool(int(allowed)))

    async def aclose(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    """Which bucket a request draws from, and with which limit."""

    def __init__(self, settings: Settings, buckets: Buckets) -> None:
        self.enabled = settings.rate_limit_enabled
        self.buckets = buckets
        self.limits = {
            "citizen": Limit(settings.rate_limit_citizen_per_second, settings.rate_limit_citizen_burst),
            "caseworker": Limit(settings.rate_limit_caseworker_per_second, settings.rate_limit_caseworker_burst),
            "anonymous": Limit(settings.rate_limit_anonymous_per_second, settings.rate_limit_anonymous_burst),
        }

    @staticmethod
    def subject(viewer: Viewer, client_address: str | None) -> tuple[str, str]:
        """(kind, key): the actor for a signed-in viewer, the client address for an anonymous one."""
        match viewer:
            case CitizenViewer() | CaseworkerViewer():
                kind, who = viewer.kind, viewer.actor_key
            case Anonymous():
                kind, who = "anonymous", f"address:{client_address or 'unknown'}"
        digest = hashlib.sha256(who.encode()).hexdigest()[:32]
        return kind, f"{kind}:{digest}"

    async def check(self, viewer: Viewer, client_address: str | None) -> Decision | None:
        """Take one token from the subject's bucket; None when rate limiting is off."""
        if not self.enabled:
            return None
        kind, key = self.subject(viewer, client_address)
        return await self.buckets.take(key, self.limits[kind])

    async def aclose(self) -> None:
        await self.buckets.aclose()


def build_rate_limiter(settings: Settings) -> RateLimiter:
    refill = max(
        settings.rate_limit_citizen_burst / settings.rate_limit_citizen_per_second,
        settings.rate_limit_caseworker_burst / settings.rate_limit_caseworker_per_second,
        settings.rate_limit_anonymous_burst / settings.rate_limit_anonymous_per_second,
    )
    local = LocalBuckets(refill)
    buckets: Buckets = (
        RedisBuckets(settings.redis_url, settings.rate_limit_key_prefix, local) if settings.redis_url else local
    )
    return RateLimiter(settings, buckets)
