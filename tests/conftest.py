"""Shared fixtures: real databases (SQLite and PostgreSQL), the simulators over real HTTP, and the ASGI app.

PostgreSQL: ``GATEWAY_TEST_POSTGRES_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``).
Each test session creates its own database there and drops it afterwards. Without a reachable server the
PostgreSQL variants skip with a message, unless ``GATEWAY_TEST_POSTGRES_REQUIRED=1`` (CI), where they fail.

Fast, without one test seeing another's state:
- The demo ledger is reseeded only when it may have changed since it was last seeded: any statement but a
  read (SELECT, PRAGMA, ...) on a test database, from any engine in this process (a test's, an app's, a live
  gateway's thread), marks it dirty, and so does every test that uses the database without ``api`` (it may
  have written from a subprocess).
- ``api``: the services (connection pools, HTTP clients) are built once per database; each test gets a new
  app on them (so the response cache, rate limits and whatever else an app keeps are its own), their
  Gældsstyrelsen client renewed (empty cache, closed breaker, full retry budget), the payment provider client's
  breaker closed, the simulator without faults, counters or changed states, and the SQL counter at zero. A test
  that rebinds anything in the shared services fails (and they are put back). Tests that change settings or
  services build an app with services of their own: ``build_api(..., **overrides)``.
- Upstream timeouts are generous (``GENEROUS_TIMEOUT_SECONDS``), so a busy machine cannot turn a slow answer
  into an error; ``@pytest.mark.upstream_timeout(s)`` gives a test whose subject is a Gældsstyrelsen timeout
  an app of its own whose calls time out after ``s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import os
import re
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from adapters.gaeldst.client import GaeldstClient, GaeldstConfig
from adapters.gaeldst.simulator import DEMO_COLLECTION_STATES, SimulatorState, create_demo_app
from adapters.ledger.db import Database
from adapters.ledger.migrate import upgrade
from adapters.ledger.seed import seed_demo
from adapters.simserver import ThreadedServer
from gateway.app import Services, build_services, create_app
from gateway.auth import issue_token
from gateway.settings import Settings

# Property tests never depend on how fast or busy the machine is: no per-example deadline and no "too slow"
# health check (CI runs on 2 shared cores). How many examples each test runs stays as each test sets it.
hypothesis_settings.register_profile(
    "machine-independent", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
hypothesis_settings.load_profile("machine-independent")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "upstream_timeout(seconds): the test's subject is a Gældsstyrelsen timeout; its own app gives up after that",
    )


PG_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PG_REQUIRED = os.environ.get("GATEWAY_TEST_POSTGRES_REQUIRED") == "1"

ANNA, BO, CAMILLA, DAVID = "1507804321", "2203651122", "0311922345", "1010005678"

# Upstream timeouts for tests whose subject is not a timeout: far above any answer from a loopback simulator.
GENEROUS_TIMEOUT_SECONDS = 10.0

# One SSL context for the test's own HTTP clients: loading the CA bundle costs ~15 ms per client.
SSL_CONTEXT = ssl.create_default_context()


def http_client(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=SSL_CONTEXT, **kwargs)


class BreakerClock:
    """The wall clock of the circuit breakers' library (purgatory reads ``time.time()`` to know when an open
    breaker may half-open), moved by the test instead of slept through: an open breaker stays open however slow
    the machine is, and half-opens exactly when the test says its ttl has passed."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def breaker_clock(monkeypatch: pytest.MonkeyPatch) -> BreakerClock:
    import purgatory.domain.model

    clock = BreakerClock(time.time())
    monkeypatch.setattr(purgatory.domain.model, "time", clock)  # that module's ``time``, not the time module's
    return clock


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


@pytest.fixture(scope="session")
async def gaeldst_admin_http(gaeldst_sim: ThreadedServer) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(base_url=gaeldst_sim.url, timeout=GENEROUS_TIMEOUT_SECONDS) as client:
        yield client


async def reset_gaeldst_sim(sim: ThreadedServer, admin: httpx.AsyncClient) -> None:
    """No faults, zeroed counters and the demo collection states (the simulator lives for the session)."""
    (await admin.delete("/admin/faults")).raise_for_status()
    (await admin.post("/admin/reset-stats")).raise_for_status()
    state: SimulatorState = sim.app.state.sim
    state.claims = dict(DEMO_COLLECTION_STATES)


# --- the demo ledger: reseeded only when a test may have changed it --------------------------------------


@dataclass
class Ledger:
    """What one test database holds: the demo seed plus a named baseline on top, or anything (dirty)."""

    backend: str
    dirty: bool = True
    baseline: str | None = None
    value: Any = None
    prepared: int = 0
    seeded: int = 0

    async def prepare(
        self, db: Database, baseline: str = "demo", setup: Callable[[], Awaitable[Any]] | None = None
    ) -> Any:
        """Make sure the database holds exactly the demo seed plus the writes of ``setup`` (which ``baseline``
        names); returns a copy of what ``setup`` returned."""
        self.prepared += 1
        if self.dirty or self.baseline != baseline:
            await seed_demo(db)
            self.seeded += 1
            self.value = await setup() if setup is not None else None
            self.baseline, self.dirty = baseline, False
        return copy.deepcopy(self.value)


LEDGERS: dict[str | None, Ledger] = {}
# Fixtures that prepare a baseline of their own on top of the demo seed (``api.ledger.prepare(...)``): the
# ``api`` fixture leaves the seeding to them.
BASELINE_FIXTURES = frozenset({"anna_ids"})
# Statements that never change what a test can see. Anything else (INSERT, UPDATE, DELETE, DDL, ...) marks
# the database dirty; an unknown statement counts as a write.
_READ_ONLY = re.compile(r"\s*(SELECT|PRAGMA|SHOW|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|EXPLAIN)\b", re.IGNORECASE)


def _database_key(url: Any) -> str | None:
    return make_url(url).database


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    if not _READ_ONLY.match(statement):
        ledger = LEDGERS.get(_database_key(conn.engine.url))
        if ledger is not None:
            ledger.dirty = True


def ledger_for(database_url: str) -> Ledger:
    """The ledger of a migrated test database (any: some tests make databases of their own)."""
    key = _database_key(database_url)
    if key not in LEDGERS:
        LEDGERS[key] = Ledger(make_url(database_url).get_backend_name())
    return LEDGERS[key]


@pytest.fixture(autouse=True)
def _ledger_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that uses the database other than through ``api`` may have written from a subprocess."""
    yield
    url = request.node.funcargs.get("migrated")
    if url is not None and "api" not in request.fixturenames:
        ledger_for(url).dirty = True


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for backend in sorted({ledger.backend for ledger in LEDGERS.values()}):
        ledgers = [ledger for ledger in LEDGERS.values() if ledger.backend == backend]
        prepared, seeded = sum(x.prepared for x in ledgers), sum(x.seeded for x in ledgers)
        if prepared:
            terminalreporter.write_line(f"demo ledger on {backend}: seeded {seeded} times for {prepared} tests")


# --- the gateway app, called in-process ----------------------------------------------------------------------


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
    admin: httpx.AsyncClient  # the Gældsstyrelsen simulator's admin API
    ledger: Ledger

    def token(self, *, citizen: str | None = None, caseworker: str | None = None, read_only: bool = False) -> str:
        """A citizen's or a caseworker's token; ``read_only``: the caseworker's read-only role (no acting)."""
        return issue_token(self.settings, citizen_cpr=citizen, caseworker_id=caseworker, read_only=read_only)

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
        r = await self.admin.request(method, path, json=json)
        r.raise_for_status()
        return r.json() if r.content else None


def make_settings(database_url: str, gaeldst_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "gaeldst_url": gaeldst_url,
        "gaeldst_timeout_seconds": GENEROUS_TIMEOUT_SECONDS,
        "gaeldst_connect_timeout_seconds": GENEROUS_TIMEOUT_SECONDS,
        "gaeldst_breaker_threshold": 50,
        "payments_url": "http://127.0.0.1:9",
        "payments_breaker_threshold": 50,
        "payments_timeout_seconds": GENEROUS_TIMEOUT_SECONDS,
        "log_level": "WARNING",
        "response_cache_ttl_seconds": 0,  # off, except in the tests of the cache itself
        "query_cost_in_extensions": False,  # off, except in the tests of the limits (whole bodies compared)
    }
    values.update(overrides)
    return Settings(**values)


def _test_gaeldst_config(configured: GaeldstConfig) -> GaeldstConfig:
    """The app's configuration, except that a whole call may last as long as its attempts: the built-in 2 s
    ceiling (not a setting) would otherwise cut a generous per-attempt timeout short."""
    attempts = configured.timeout_seconds * (configured.max_retries + 1)
    return dataclasses.replace(configured, total_timeout_seconds=max(configured.total_timeout_seconds, attempts))


def _reconstruct_gaeldst_client(client: GaeldstClient, config: GaeldstConfig) -> None:
    """Give ``client`` the state of a new one (empty cache, closed breaker, full retry budget, zero counters) and
    ``config``. In place, by running its constructor again, because the app's use-cases hold this very object.
    The transport is the one it would build itself, with the tests' shared SSL context."""
    limits = httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections)
    client.__init__(config, transport=httpx.AsyncHTTPTransport(verify=SSL_CONTEXT, limits=limits))  # type: ignore[misc]


async def renew_gaeldst_client(client: GaeldstClient, config: GaeldstConfig) -> None:
    await client.aclose()
    _reconstruct_gaeldst_client(client, config)


@dataclass
class _Wired:
    """Services built once (their connection pools and clients), with the SQL counter on their engines."""

    services: Services
    sql: SqlCounter
    gaeldst_config: GaeldstConfig


@contextlib.asynccontextmanager
async def _wire(settings: Settings) -> AsyncIterator[_Wired]:
    services = build_services(settings)
    counter = SqlCounter()

    def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counter.statements.append(statement)

    for engine in services.db.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", _count)
    # The hot reads on PostgreSQL go to asyncpg itself (adapters.ledger.fastread): counted as they are sent.
    services.db.fast.listeners.append(counter.statements.append)
    try:
        yield _Wired(services, counter, _test_gaeldst_config(services.gaeldst.config))
    finally:
        await services.aclose()


@contextlib.asynccontextmanager
async def _api_for_test(
    wired: _Wired, gaeldst_sim: ThreadedServer, admin: httpx.AsyncClient, *, seed: bool = True
) -> AsyncIterator[Api]:
    """An app of this test's own on ``wired`` (its response cache, rate limits and whatever else an app keeps
    are new), with the demo ledger, the Gældsstyrelsen client renewed and the simulator reset."""
    settings = wired.services.settings
    ledger = ledger_for(settings.database_url)
    if seed:
        await ledger.prepare(wired.services.db)
    await reset_gaeldst_sim(gaeldst_sim, admin)
    await renew_gaeldst_client(wired.services.gaeldst, wired.gaeldst_config)
    wired.services.payments_client.breaker.reset()
    app = create_app(settings, services=wired.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
        wired.sql.reset()
        yield Api(app, wired.services, settings, client, wired.sql, gaeldst_sim, admin, ledger)


@contextlib.asynccontextmanager
async def build_api(migrated: str, gaeldst_sim: ThreadedServer, **overrides: Any) -> AsyncIterator[Api]:
    """An app with services of its own, with settings changed by ``overrides``."""
    async with (
        http_client(base_url=gaeldst_sim.url, timeout=GENEROUS_TIMEOUT_SECONDS) as admin,
        _wire(make_settings(migrated, gaeldst_sim.url, **overrides)) as wired,
        _api_for_test(wired, gaeldst_sim, admin) as api,
    ):
        yield api


@pytest.fixture(scope="session")
async def _shared_services(migrated: str, gaeldst_sim: ThreadedServer) -> AsyncIterator[_Wired]:
    async with _wire(make_settings(migrated, gaeldst_sim.url)) as wired:
        yield wired


def _wiring(services: Services) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Each service and its attributes (the Gældsstyrelsen client's state is renewed for every test anyway)."""
    return {
        f.name: (value, {} if f.name == "gaeldst" else dict(getattr(value, "__dict__", {})))
        for f in dataclasses.fields(services)
        for value in [getattr(services, f.name)]
    }


def _rewire(services: Services, before: dict[str, tuple[Any, dict[str, Any]]]) -> list[str]:
    """Put back whatever a test rebound in the shared services; returns the names of the services it changed."""
    changed = []
    for name, (value, attrs) in before.items():
        now = getattr(services, name)
        current = {} if name == "gaeldst" else getattr(now, "__dict__", {})
        if now is not value:
            setattr(services, name, value)
        elif current.keys() != attrs.keys() or any(current[key] is not old for key, old in attrs.items()):
            current.clear()
            current.update(attrs)
        else:
            continue
        changed.append(name)
    return changed


@pytest.fixture
async def api(
    request: pytest.FixtureRequest,
    migrated: str,
    gaeldst_sim: ThreadedServer,
    gaeldst_admin_http: httpx.AsyncClient,
    _shared_services: _Wired,
) -> AsyncIterator[Api]:
    timeout = request.node.get_closest_marker("upstream_timeout")
    if timeout is not None:
        async with build_api(migrated, gaeldst_sim, gaeldst_timeout_seconds=timeout.args[0]) as own:
            yield own
        return
    seed = BASELINE_FIXTURES.isdisjoint(request.fixturenames)
    before = _wiring(_shared_services.services)
    async with _api_for_test(_shared_services, gaeldst_sim, gaeldst_admin_http, seed=seed) as built:
        yield built
    if changed := _rewire(_shared_services.services, before):
        pytest.fail(f"the test changed the shared services ({', '.join(changed)}): give it its own with build_api")


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
        self.server = ThreadedServer(live_app(self.settings), port=self.server.port).start()


def live_app(settings: Settings) -> Any:
    """A gateway app for a server of its own, with the tests' generous Gældsstyrelsen timeouts."""
    app = create_app(settings)
    gaeldst: GaeldstClient = app.state.services.gaeldst
    _reconstruct_gaeldst_client(gaeldst, _test_gaeldst_config(gaeldst.config))  # not used yet: nothing to close
    return app


@pytest.fixture(scope="session")
async def _live_db(migrated: str) -> AsyncIterator[Database]:
    db = Database(migrated)
    yield db
    await db.dispose()


@pytest.fixture
async def live(
    migrated: str,
    gaeldst_sim: ThreadedServer,
    gaeldst_admin_http: httpx.AsyncClient,
    payments_sim: ThreadedServer,
    _live_db: Database,
) -> AsyncIterator[LiveGateway]:
    settings = make_settings(
        migrated,
        gaeldst_sim.url,
        payments_url=payments_sim.url,
        payments_webhook_secret="test-webhook-secret",
        payments_poll_interval_seconds=0,  # off: state changes must arrive by webhook (one test turns it on)
        payments_poll_min_age_seconds=0.0,
    )
    await ledger_for(migrated).prepare(_live_db)
    await reset_gaeldst_sim(gaeldst_sim, gaeldst_admin_http)
    server = ThreadedServer(live_app(settings)).start()
    async with http_client(timeout=GENEROUS_TIMEOUT_SECONDS) as client:
        gw = LiveGateway(server, settings, _live_db, client, payments_sim)
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
