"""Status events over Redis pub/sub (``GATEWAY_EVENTS_BACKEND=redis``): for deployments that already run Redis
for the rate limits, or whose database is not PostgreSQL.

Publishing is one PUBLISH per transaction's changes. Once this process has a subscriber, one task reads the
channel and fans the events out; when Redis goes away it reconnects (backing off) and wakes every subscriber to
read its object again, since events sent in between were missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from adapters.events.fanout import LocalEvents, decode, encode
from gateway.usecases.ports import StatusChange

log = structlog.get_logger(__name__)

_RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
_SUBSCRIBE_TIMEOUT_SECONDS = 10.0


@dataclass
class _Reader:
    """The reading task's state (changed in place: the bus's own attributes are set once)."""

    task: asyncio.Task[None] | None = None
    subscribed: asyncio.Event | None = None


class RedisEvents(LocalEvents):
    def __init__(self, redis_url: str, channel: str) -> None:
        super().__init__()
        self.redis: Any = aioredis.from_url(redis_url)
        self.channel = channel
        self._reader = _Reader()

    async def publish(self, changes: Sequence[StatusChange]) -> None:
        if changes:
            await self.redis.publish(self.channel, encode(changes))

    async def start_listening(self) -> None:
        reader = self._reader
        if reader.task is None or reader.task.done():
            reader.subscribed = asyncio.Event()
            reader.task = asyncio.get_running_loop().create_task(self._read(reader.subscribed))
        assert reader.subscribed is not None
        # Subscribed before the first watcher reads its object: no change can fall between the two.
        try:
            await asyncio.wait_for(reader.subscribed.wait(), _SUBSCRIBE_TIMEOUT_SECONDS)
        except TimeoutError:
            raise ConnectionError("Redis did not confirm the subscription") from None

    async def _read(self, subscribed: asyncio.Event) -> None:
        attempt = 0
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if attempt:
                    self.deliver_to_all()  # events sent while we were away are lost: everybody reads again
                attempt = 0
                subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.deliver(decode(message["data"]))
            except (RedisError, OSError) as exc:
                delay = _RECONNECT_DELAYS[min(attempt, len(_RECONNECT_DELAYS) - 1)]
                attempt += 1
                log.warning("events.redis_connection_lost", error=type(exc).__name__, retry_in=delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    async def aclose(self) -> None:
        if (task := self._reader.task) is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.redis.aclose()
        await super().aclose()
