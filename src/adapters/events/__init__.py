"""Status events for GraphQL subscriptions (``gateway.usecases.ports.StatusEvents``): in-process on the embedded
SQLite, PostgreSQL LISTEN/NOTIFY or Redis pub/sub between gateway processes. Each process holds one listening
connection at most, and fans the events out to its own subscribers in memory."""

from __future__ import annotations

from adapters.events.fanout import LocalEvents, decode, encode
from adapters.events.postgres import PostgresEvents
from adapters.events.redis import RedisEvents

__all__ = ["LocalEvents", "PostgresEvents", "RedisEvents", "decode", "encode"]
