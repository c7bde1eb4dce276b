"""Several processes on one PostgreSQL and one Redis (issue 13): two ``gateway serve`` processes and two
``gateway worker`` processes, started as an operator would, prove that what must hold across processes does:

- an idempotency key: the same mutation sent to both gateways at once makes one plan, and both answer with it;
- the rate limits: one bucket per client in Redis, whichever gateway is asked;
- the response cache: a write through one gateway is seen at once through the other (the citizen's data version);
- the draws: with both workers sweeping every second, an installment falls due, is drawn once and charged
  at the provider once.

Then ``gateway serve --workers 2`` (SQLite, one port): /metrics adds up both processes, and SIGTERM drains:
/readyz answers 503 while a request in flight is still answered, then the server stops. A worker told to stop
finishes the sweep it is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from tools.served_gateway import free_port

from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.seed import seed_demo
from adapters.payments.simulator import create_simulator_app
from adapters.simserver import ThreadedServer
from gateway.auth import issue_token
from gateway.domain import clock
from gateway.domain.clock import today
from gateway.settings import Settings
from gateway.worker import Worker
from tests.api.test_http_edge import REDIS_URL
from tests.api.test_installments_over_time import own_database
from tests.conftest import ANNA, DAVID, build_api, ledger_for

SECRET = "processes-webhook-secret"
STARTUP_SECONDS = 300.0  # four Python processes starting at once on a busy two-core machine
WAIT_SECONDS = 120.0

CLAIMS = """{ me { claims { nodes { id outstanding { amountOere } eligibility { canCreateInstallmentPlan } } }
  mobilePayAccounts { id name } } }"""
OVERVIEW = "{ me { name installmentPlans { totalCount } claims { nodes { reference outstanding { amountOere } } } } }"
CREATE_PLAN = """mutation($input: CreateInstallmentPlanInput!) { createInstallmentPlan(input: $input) {
  plan { id status } userErrors { code field } } }"""
ENROL = """mutation($input: EnrolAutomaticPaymentInput!) { enrolAutomaticPayment(input: $input) {
  paymentMethod { id status } userErrors { code field } } }"""


def gateway_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", *args]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    url: str  # where it answers: the API, or a worker's /metrics

    def stop(self, timeout: float = 30.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise


@contextlib.contextmanager
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.stop()


def start(started: list[Process], name: str, env: dict[str, str], cwd: Path, *args: str, port: int) -> Process:
    popen = subprocess.Popen(gateway_command(*args), env=env, cwd=cwd)
    process = Process(name, popen, f"http://127.0.0.1:{port}")
    started.append(process)
    return process


async def wait_until(
    client: httpx.AsyncClient, process: Process, path: str, *, status: int = 200, timeout: float = STARTUP_SECONDS
) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.popen.poll() is None, f"{process.name} exited with {process.popen.returncode}"
        with contextlib.suppress(httpx.TransportError):
            response = await client.get(f"{process.url}{path}")
            if response.status_code == status:
                return response
        await asyncio.sleep(0.2)
    raise AssertionError(f"{process.name}: {path} did not answer {status} within {timeout:.0f} s")


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def sweeps(client: httpx.AsyncClient, worker: Process) -> float:
    text = (await client.get(f"{worker.url}/metrics")).text
    return samples(text, "gateway_worker_sweeps_total").get((("result", "ok"),), 0.0)


def base_env(database_url: str, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    return env | {
        "GATEWAY_ENVIRONMENT": "development",
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_GRAPHIQL": "false",
        "GATEWAY_PAYMENTS_WEBHOOK_SECRET": SECRET,
        "GATEWAY_PAYMENTS_POLL_INTERVAL_SECONDS": "0",  # the workers poll
        "GATEWAY_PAYMENTS_POLL_MIN_AGE_SECONDS": "0",
        "GATEWAY_GAELDST_TIMEOUT_SECONDS": "10",
        "GATEWAY_GAELDST_CONNECT_TIMEOUT_SECONDS": "10",
        "GATEWAY_PAYMENTS_TIMEOUT_SECONDS": "10",
        "PYTHONPATH": os.pathsep.join(p for p in (str(Path.cwd()), os.environ.get("PYTHONPATH", "")) if p),
        "HOME": str(folder),
    }


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        await client.aclose()
        if "GATEWAY_TEST_REDIS_URL" in os.environ:
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc!r}")
        pytest.skip(f"Redis not reachable at {REDIS_URL} (set GATEWAY_TEST_REDIS_URL)")
    prefix = f"gateway:test:{uuid.uuid4().hex[:10]}:"
    yield prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_gateways_and_two_workers_share_keys_limits_cache_and_draw_once(
    database_url: str, gaeldst_sim: ThreadedServer, redis_prefix: str, tmp_path: Path
) -> None:
    with (
        ThreadedServer(create_simulator_app(webhook_secret=SECRET.encode())) as provider_sim,
        processes() as started,
    ):
        async with own_database(database_url, tmp_path) as url, httpx.AsyncClient(timeout=WAIT_SECONDS) as client:
            db = Database(url)
            try:
                await seed_demo(db)
                env = base_env(url, tmp_path) | {
                    "GATEWAY_GAELDST_URL": gaeldst_sim.url,
                    "GATEWAY_PAYMENTS_URL": provider_sim.url,
                    "GATEWAY_REDIS_URL": REDIS_URL,
                    "GATEWAY_RATE_LIMIT_KEY_PREFIX": redis_prefix,
                    "GATEWAY_RATE_LIMIT_ANONYMOUS_BURST": "4",
                    "GATEWAY_RATE_LIMIT_ANONYMOUS_PER_SECOND": "0.001",
                    "GATEWAY_RESPONSE_CACHE_TTL_SECONDS": "60",
                    "GATEWAY_WORKER_INTERVAL_SECONDS": "1",
                }
                ports = [free_port() for _ in range(4)]
                a = start(started, "gateway A", env, tmp_path, "serve", "--port", str(ports[0]), port=ports[0])
                b = start(started, "gateway B", env, tmp_path, "serve", "--port", str(ports[1]), port=ports[1])
                workers = [
                    start(started, f"worker {i}", env, tmp_path, "worker", "--metrics-port", str(p), port=p)
                    for i, p in enumerate(ports[2:], 1)
                ]
                for process in (a, b, *workers):
                    await wait_until(client, process, "/readyz" if process in (a, b) else "/metrics")
                await across_processes(client, db, a, b, workers, provider_sim)
            finally:
                for process in started:
                    assert process.stop() in (0, -signal.SIGTERM), f"{process.name} did not stop cleanly"
                await db.dispose()


async def across_processes(
    client: httpx.AsyncClient,
    db: Database,
    a: Process,
    b: Process,
    workers: list[Process],
    provider_sim: ThreadedServer,
) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # the development signing key, as theirs
    tokens = {cpr: issue_token(settings, citizen_cpr=cpr) for cpr in (ANNA, DAVID)}

    async def gql(process: Process, query: str, variables: dict[str, Any] | None = None, *, cpr: str) -> Any:
        response = await client.post(
            f"{process.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {tokens[cpr]}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return response, body["data"]

    async def plannable(cpr: str) -> tuple[list[str], dict[str, str]]:
        _, data = await gql(a, CLAIMS, cpr=cpr)
        claims = [
            c["id"]
            for c in data["me"]["claims"]["nodes"]
            if c["eligibility"]["canCreateInstallmentPlan"] and c["outstanding"]["amountOere"] > 0
        ]
        return claims, {acc["name"]: acc["id"] for acc in data["me"]["mobilePayAccounts"]}

    # 1. One idempotency key, the same mutation to both gateways at once: one plan, both answers name it.
    david_claims, _ = await plannable(DAVID)
    plan_input = {
        "claimIds": david_claims,
        "monthlyAmount": "1000.00",
        "dayOfMonth": 1,
        "acceptTerms": True,
        "idempotencyKey": f"processes-{uuid.uuid4().hex[:8]}",
    }
    answers = await asyncio.gather(*(gql(p, CREATE_PLAN, {"input": plan_input}, cpr=DAVID) for p in (a, b)))
    payloads = [data["createInstallmentPlan"] for _, data in answers]
    assert payloads[0] == payloads[1] and payloads[0]["userErrors"] == [] and payloads[0]["plan"]["id"]
    async with db.read() as conn:
        plans = list(await conn.execute(select(m.InstallmentPlan.id)))
    assert len(plans) == 1
    reused = await gql(b, CREATE_PLAN, {"input": plan_input | {"monthlyAmount": "1200.00"}}, cpr=DAVID)
    assert [e["code"] for e in reused[1]["createInstallmentPlan"]["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]

    # 2. Rate limits in Redis: a client's bucket (burst 4, no refill to speak of) is the same at both gateways.
    statuses = []
    for process in (a, b, a, b, a, b):
        response = await client.post(
            f"{process.url}/graphql", json={"query": "{ me { name } }"}, headers={"Authorization": "Bearer nope"}
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 200, 429, 429]

    # 3. The response cache: Anna's overview cached at A; her plan, made through B, is seen at A at once.
    first, before = await gql(a, OVERVIEW, cpr=ANNA)
    again, _ = await gql(a, OVERVIEW, cpr=ANNA)
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")
    assert before["me"]["installmentPlans"]["totalCount"] == 0
    anna_claims, accounts = await plannable(ANNA)
    anna_input = plan_input | {"claimIds": anna_claims, "monthlyAmount": "6000.00", "idempotencyKey": "anna-1"}
    _, made = await gql(b, CREATE_PLAN, {"input": anna_input}, cpr=ANNA)
    plan = made["createInstallmentPlan"]["plan"]
    assert plan["status"] == "ACTIVE"
    after_write, after = await gql(a, OVERVIEW, cpr=ANNA)
    assert after_write.headers["x-cache"] == "miss" and after["me"]["installmentPlans"]["totalCount"] == 1

    # 4. Draws: Anna's plan by MobilePay (through A); the workers' poll learns the agreement is active.
    enrol_input = {
        "kind": "MOBILEPAY_SUBSCRIPTION",
        "planId": plan["id"],
        "mobilePayAccountId": accounts["Lønkonto"],
        "returnUrl": "https://app.example/back",
        "idempotencyKey": "anna-enrol-1",
    }
    _, enrolled = await gql(a, ENROL, {"input": enrol_input}, cpr=ANNA)
    assert enrolled["enrolAutomaticPayment"]["userErrors"] == []
    async with db.read() as conn:
        [enrolment] = list(await conn.execute(select(m.Enrolment)))
    async with httpx.AsyncClient(base_url=provider_sim.url, timeout=WAIT_SECONDS) as provider:
        activated = await provider.post(f"/admin/agreements/{enrolment.provider_ref}/activate")
        assert activated.status_code < 400, activated.text
        await until(db, select(m.Enrolment.status).where(m.Enrolment.id == enrolment.id), "ACTIVE")

        # Her first installment falls due in three days: both workers see it within a sweep.
        async with db.transaction() as conn:
            first_installment = (
                (
                    await conn.execute(
                        select(m.Installment.id)
                        .where(m.Installment.plan_id == enrolment.plan_id)
                        .order_by(m.Installment.number)
                    )
                )
                .scalars()
                .first()
            )
            await conn.execute(
                update(m.Installment)
                .where(m.Installment.id == first_installment)
                .values(due_on=today() + timedelta(days=3))
            )
        drawn = select(m.Draw.status).where(
            m.Draw.installment_id == first_installment, m.Draw.provider_ref.is_not(None)
        )
        await until(db, drawn, "PENDING")
        # Both workers sweep three more times each after the draw is at the provider: still once.
        counts = [await sweeps(client, w) for w in workers]
        deadline = time.monotonic() + WAIT_SECONDS
        while any(now < n + 3 for now, n in zip([await sweeps(client, w) for w in workers], counts, strict=True)):
            assert time.monotonic() < deadline, "the workers stopped sweeping"
            await asyncio.sleep(0.2)
        async with db.read() as conn:
            draws = list(await conn.execute(select(m.Draw)))
        assert max(Counter(d.installment_id for d in draws).values()) == 1
        at_provider = [d for d in draws if d.provider_ref is not None]
        assert [d.installment_id for d in at_provider] == [first_installment]
        stats = (await provider.get("/admin/stats")).json()
        assert stats["charges"] == 1


async def until(db: Database, stmt: Any, expected: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while True:
        async with db.read() as conn:
            if (await conn.execute(stmt)).scalar() == expected:
                return
        assert time.monotonic() < deadline, f"not {expected} within {timeout:.0f} s"
        await asyncio.sleep(0.2)


# --- gateway serve --workers 2: metrics of both processes, and draining on SIGTERM -----------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the processes, not the database, are tested
async def test_serve_with_two_workers_adds_up_their_metrics_and_drains_on_sigterm(
    migrated: str, gaeldst_sim: ThreadedServer, tmp_path: Path
) -> None:
    db = Database(migrated)
    try:
        await ledger_for(migrated).prepare(db)  # the demo citizens
    finally:
        await db.dispose()
    metrics_dir = tmp_path / "metrics"
    port = free_port()
    env = base_env(migrated, tmp_path) | {
        "GATEWAY_GAELDST_URL": gaeldst_sim.url,
        "GATEWAY_PAYMENTS_URL": f"http://127.0.0.1:{free_port()}",
        "GATEWAY_HTTP_DRAIN_SECONDS": "10",
        "GATEWAY_HTTP_REQUEST_READ_TIMEOUT_SECONDS": "120",
        "GATEWAY_RATE_LIMIT_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999999.db").write_bytes(b"left over from an earlier run")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    headers = {"Authorization": f"Bearer {issue_token(settings, citizen_cpr=ANNA)}", "Content-Type": "application/json"}
    body = orjson.dumps({"query": OVERVIEW})
    with processes() as started:
        server = start(
            started, "serve --workers 2", env, tmp_path, "serve", "--workers", "2", "--port", str(port), port=port
        )
        async with httpx.AsyncClient(timeout=WAIT_SECONDS) as client:
            await wait_until(client, server, "/readyz")
            # Each process made its metrics at start-up (the breaker gauge): two of them wrote to the directory.
            deadline = time.monotonic() + STARTUP_SECONDS
            while len(pids(metrics_dir, "gauge_livemax_")) < 2:
                assert time.monotonic() < deadline, sorted(p.name for p in metrics_dir.iterdir())
                await asyncio.sleep(0.2)
            assert not (metrics_dir / "counter_999999999.db").exists()  # emptied when the server started

            for _ in range(6):  # each on a connection of its own: either process answers
                async with httpx.AsyncClient(timeout=WAIT_SECONDS) as once:
                    answer = await once.post(f"{server.url}/graphql", content=body, headers=headers)
                    assert answer.status_code == 200 and "errors" not in answer.json()
            text = (await client.get(f"{server.url}/metrics")).text
            requests = samples(text, "gateway_graphql_requests_total")
            assert requests == {(("document", "none"), ("operation", "other"), ("status", "200")): 6.0}

            # SIGTERM: ready no more, while still serving; a request that arrives meanwhile is answered even
            # after the server has stopped accepting connections.
            server.popen.send_signal(signal.SIGTERM)
            draining = await wait_until(client, server, "/readyz", status=503)
            assert draining.json()["status"] == "draining"
            release = asyncio.Event()

            async def trickle() -> AsyncIterator[bytes]:
                yield body[:10]
                await release.wait()
                yield body[10:]

            async with httpx.AsyncClient(timeout=WAIT_SECONDS) as slow_client:
                slow = asyncio.create_task(
                    slow_client.post(
                        f"{server.url}/graphql",
                        content=trickle(),
                        headers=headers | {"Content-Length": str(len(body))},
                    )
                )
                deadline = time.monotonic() + WAIT_SECONDS
                while True:  # until the server accepts no new connection
                    try:
                        async with httpx.AsyncClient(timeout=5) as probe:
                            await probe.get(f"{server.url}/healthz")
                    except httpx.TransportError:
                        break
                    assert time.monotonic() < deadline, "the server kept accepting connections"
                    await asyncio.sleep(0.2)
                release.set()
                answer = await slow
            assert answer.status_code == 200 and answer.json()["data"]["me"]["name"] == "Anna Jensen"
            assert server.stop(timeout=WAIT_SECONDS) in (0, -signal.SIGTERM)
    # The processes left: their live gauges went with them; their counters stay counted.
    assert pids(metrics_dir, "gauge_livemax_") == set()
    assert pids(metrics_dir, "counter_")


def pids(directory: Path, prefix: str) -> set[str]:
    return {p.name.removeprefix(prefix).removesuffix(".db") for p in directory.glob(f"{prefix}*.db")}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_worker_told_to_stop_finishes_the_sweep_in_flight(
    migrated: str, gaeldst_sim: ThreadedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with build_api(migrated, gaeldst_sim) as api:
        services = api.services
        in_flight, release = asyncio.Event(), asyncio.Event()
        sweep = services.draws.sweep

        async def slow_sweep() -> Any:  # the fault: a sweep that takes as long as the test says
            in_flight.set()
            await release.wait()
            return await sweep()

        monkeypatch.setattr(services.draws, "sweep", slow_sweep)
        stop = asyncio.Event()
        running = asyncio.create_task(Worker(services, interval_seconds=3600).run(stop))
        await in_flight.wait()
        stop.set()  # what SIGTERM does (gateway.worker.install_stop_signals)
        for _ in range(20):
            await asyncio.sleep(0)
        assert not running.done()  # waiting for the sweep
        release.set()
        await running
        assert services.metrics.registry.get_sample_value("gateway_worker_sweeps_total", {"result": "ok"}) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_worker_started_on_a_moved_clock_sweeps_at_once(
    migrated: str, gaeldst_sim: ThreadedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process's clock years ahead (as in a simulation): the first sweep is still now, not on that day.
    async with build_api(migrated, gaeldst_sim) as api:
        services = api.services
        swept, clock_back = asyncio.Event(), asyncio.Event()
        sweep = services.draws.sweep

        async def noted_sweep() -> Any:
            swept.set()
            await clock_back.wait()  # the sweep itself runs on today's clock
            return await sweep()

        monkeypatch.setattr(services.draws, "sweep", noted_sweep)
        clock.travel_to(today() + timedelta(days=3650))
        stop = asyncio.Event()
        running = asyncio.create_task(Worker(services, interval_seconds=3600).run(stop))
        try:
            await asyncio.wait_for(swept.wait(), WAIT_SECONDS)
        finally:
            clock.reset()
            clock_back.set()
            stop.set()
            await running
