"""Shared fixtures: real databases (SQLite and PostgreSQL), the simulators over real HTTP, and the ASGI app.

PostgreSQL: ``GATEWAY_TEST_POSTGRES_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``).
Each test session creates its own database there and drops it afterwards. Without a reachable server the
PostgreSQL variants skip with a message, unless ``GATEWAY_TEST_POSTGRES_REQUIRED=1`` (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from adapters.gaeldst.simulator import create_demo_app
from adapters.ledger.db import Database
from adapters.ledger.migrate import upgrade
from adapters.ledger.seed import seed_demo
from adapters.simserver import ThreadedServer
from gateway.app import Services, build_services, create_app
from gateway.auth import issue_token
from gateway.settings import Settings

PG_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PG_REQUIRED = os.environ.get("GATEWAY_TEST_POSTGRES_REQUIRED") == "1"

ANNA, BO, CAMILLA, DAVID = "1507804321", "2203651122", "0311922345", "1010005678"


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database=u.database, timeout=5
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    name = f"gw_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(PG_URL, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        message = f"PostgreSQL not reachable at {make_url(PG_URL).render_as_string(hide_password=True)}: {exc!r}"
        if PG_REQUIRED:
            pytest.fail(message)
        pytest.skip(message + " (set GATEWAY_TEST_POSTGRES_URL; PostgreSQL tests skipped)")
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    asyncio.run(_pg_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("ledger") / "ledger.sqlite3"
        return f"sqlite+aiosqlite:///{path}"
    return str(request.getfixturevalue("pg_database_url"))


@pytest.fixture(scope="session")
async def migrated(database_url: str) -> str:
    db = Database(database_url)
    await upgrade(db)
    await db.dispose()
    return database_url


@pytest.fixture(scope="session")
def gaeldst_sim() -> Iterator[ThreadedServer]:
    with ThreadedServer(create_demo_app()) as server:
        yield server


@dataclass
class SqlCounter:
    statements: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.statements.clear()

    @property
    def count(self) -> int:
        return len(self.statements)


@dataclass
class Api:
    """The gateway app, called through httpx's ASGI transport (whole requests, no network)."""

    app: Any
    services: Services
    settings: Settings
    client: httpx.AsyncClient
    sql: SqlCounter
    gaeldst: ThreadedServer

    def token(self, *, citizen: str | None = None, caseworker: str | None = None) -> str:
        return issue_token(self.settings, citizen_cpr=citizen, caseworker_id=caseworker)

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=h)

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        citizen: str | None = None,
        caseworker: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        if token is None and (citizen or caseworker):
            token = self.token(citizen=citizen, caseworker=caseworker)
        response = await self.post(query, variables, token=token, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def gaeldst_admin(self, method: str, path: str, json: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.gaeldst.url) as c:
            r = await c.request(method, path, json=json)
            r.raise_for_status()
            return r.json() if r.content else None


def make_settings(database_url: str, gaeldst_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "gaeldst_url": gaeldst_url,
        "gaeldst_timeout_seconds": 0.5,
        "gaeldst_breaker_threshold": 50,
        "payments_url": "http://127.0.0.1:9",
        "log_level": "WARNING",
        "response_cache_ttl_seconds": 0,  # off, except in the tests of the cache itself
        "query_cost_in_extensions": False,  # off, except in the tests of the limits (whole bodies compared)
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def build_api(migrated: str, gaeldst_sim: ThreadedServer, **overrides: Any) -> AsyncIterator[Api]:
    settings = make_settings(migrated, gaeldst_sim.url, **overrides)
    services = build_services(settings)
    await seed_demo(services.db)
    async with httpx.AsyncClient(base_url=gaeldst_sim.url) as c:
        (await c.delete("/admin/faults")).raise_for_status()
        (await c.post("/admin/reset-stats")).raise_for_status()
    counter = SqlCounter()

    def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counter.statements.append(statement)

    for engine in services.db.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", _count)
    app = create_app(settings, services=services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield Api(app, services, settings, client, counter, gaeldst_sim)
    await services.aclose()


@pytest.fixture
async def api(migrated: str, gaeldst_sim: ThreadedServer) -> AsyncIterator[Api]:
    async with build_api(migrated, gaeldst_sim) as built:
        yield built


# --- a gateway served over real HTTP, for the payment provider's webhooks -------------------------------------


@pytest.fixture(scope="session")
def payments_sim() -> Iterator[ThreadedServer]:
    from adapters.payments.simulator import create_simulator_app

    with ThreadedServer(create_simulator_app(webhook_secret=b"test-webhook-secret")) as server:
        yield server


@dataclass
class LiveGateway:
    """The gateway app in its own uvicorn server thread (the provider's webhooks reach it over HTTP)."""

    server: ThreadedServer
    settings: Settings
    db: Database  # for assertions from the test's own event loop
    client: httpx.AsyncClient
    payments: ThreadedServer

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, *, citizen: str | None = None, caseworker: str | None = None) -> str:
        return issue_token(self.settings, citizen_cpr=citizen, caseworker_id=caseworker)

    async def gql(self, query: str, variables: dict[str, Any] | None = None, *, citizen: str) -> dict[str, Any]:
        response = await self.client.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token(citizen=citizen)}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body

    async def provider(self, method: str, path: str, json: Any = None) -> Any:
        r = await self.client.request(method, f"{self.payments.url}{path}", json=json)
        assert r.status_code < 400, r.text
        return r.json() if r.content else None

    def restart(self, **overrides: Any) -> None:
        """Stop this gateway process and start a fresh one on the same port and database."""
        self.server.stop()
        self.settings = self.settings.model_copy(update=overrides)
        self.server = ThreadedServer(create_app(self.settings), port=self.server.port).start()


@pytest.fixture
async def live(migrated: str, gaeldst_sim: ThreadedServer, payments_sim: ThreadedServer) -> AsyncIterator[LiveGateway]:
    settings = make_settings(
        migrated,
        gaeldst_sim.url,
        payments_url=payments_sim.url,
        payments_webhook_secret="test-webhook-secret",
        payments_poll_interval_seconds=0,  # off: state changes must arrive by webhook (one test turns it on)
        payments_poll_min_age_seconds=0.0,
    )
    db = Database(migrated)
    await seed_demo(db)
    server = ThreadedServer(create_app(settings)).start()
    async with httpx.AsyncClient(timeout=10) as client:
        gw = LiveGateway(server, settings, db, client, payments_sim)
        await gw.provider("POST", "/admin/reset")
        await gw.provider(
            "POST",
            "/admin/config",
            {
                "webhookUrl": f"{server.url}/webhooks/payments",
                "dropWebhooks": False,
                "duplicateWebhooks": False,
                "reverseOrder": False,
                "webhookDelayMs": 0,
            },
        )
        try:
            yield gw
        finally:
            gw.server.stop()
            await db.dispose()
