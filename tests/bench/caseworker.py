"""``make bench``, the caseworkers' section: the portfolio and one work-queue page on bulk data (issue 12).

Scenario: ``BENCH_CASEWORKER_CITIZENS`` (default 10,000) generated citizens with 20 claims of 10 statement lines
each (the bulk seeder: 200,000 claims, 2,000,000 ledger entries), and on top, for every tenth citizen, an active
plan of six installments on one of their claims, the first three due in the past (one charged, one failed, one
invoiced and unpaid), so that the queue of missed installments has work in it. PostgreSQL when reachable, else
SQLite; the gateway in a ``gateway serve`` process of its own, as ``tests/bench/run.py`` runs it.

Measured: SQL statements per request (exact, counted in this process through the app), and the latency of the
whole portfolio and of the first page (50 items) of ``MISSED_INSTALLMENTS`` (median and p95 over sequential
requests). Both are aggregate SQL in the database: the response is a few kilobytes, however large the ledger.
Appends its section to docs/benchmarks.md (``tests/bench/run.py`` writes the file first).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, func, insert, select

from adapters.gaeldst.simulator import create_demo_app
from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.migrate import upgrade
from adapters.ledger.seed import seed_bulk
from adapters.simserver import ThreadedServer
from gateway.app import build_services, create_app
from gateway.auth import issue_token
from gateway.domain.clock import today, utcnow
from gateway.settings import Settings
from tests.bench.run import Timing, _drop_pg, _pg_database, _start_server, _stop, _timed, bench_env

CITIZENS = int(os.environ.get("BENCH_CASEWORKER_CITIZENS", "10000"))
REQUESTS = int(os.environ.get("BENCH_CASEWORKER_REQUESTS", "30"))
PLAN_EVERY = 10  # every tenth citizen has an active plan
SECTION = "## Caseworkers: portfolio and work queue on bulk data"

PORTFOLIO = """query { portfolio {
  claims { asOf count outstanding { amountOere } byDepartment { count outstanding { amountOere } department { code } }
    byKind { kind count outstanding { amountOere } } }
  plans { byStatus { status count principal { amountOere } } }
  installments(from: "%s", to: "%s") { due { count total { amountOere } }
    drawn { count total { amountOere } } invoiced { count total { amountOere } }
    missed { count total { amountOere } } overdue { count total { amountOere } } }
  enrolments { byKindAndStatus { kind status count } }
  payments { byStatus { status count amount { amountOere } } }
} }"""

QUEUE = """query { workQueue(queue: MISSED_INSTALLMENTS, first: 50) {
  totalCount pageInfo { hasNextPage endCursor }
  nodes { dueOn amount { amountOere } citizen { id name maskedCpr } installmentPlan { id status }
    installment { number status } draw { status channel } }
} }"""


async def _add_plans(db: Database) -> int:
    """Active plans for every tenth citizen, with installments and draws (bulk inserts, a few statements)."""
    now, day0 = utcnow(), today()
    rng = random.Random(12)
    async with db.read() as conn:
        claims = (
            await conn.execute(
                select(m.Claim.citizen_id, func.min(m.Claim.id))
                .group_by(m.Claim.citizen_id)
                .order_by(m.Claim.citizen_id)
            )
        ).all()
    chosen = claims[::PLAN_EVERY]
    async with db.transaction() as conn:
        plan_ids = (
            await conn.execute(
                insert(m.InstallmentPlan).returning(m.InstallmentPlan.id, m.InstallmentPlan.citizen_id),
                [
                    {
                        "citizen_id": citizen,
                        "status": "ACTIVE",
                        "principal_oere": 210_000,
                        "monthly_amount_oere": 35_000,
                        "months": 6,
                        "day_of_month": 1,
                        "excludes_future_interest": False,
                        "assessment_requested": False,
                        "terms_accepted_at": now - timedelta(days=100),
                        "created_by": "citizen:bench",
                        "created_at": now - timedelta(days=100),
                    }
                    for citizen, _ in chosen
                ],
            )
        ).all()
        claim_of = dict(chosen)
        await conn.execute(
            insert(m.PlanClaim),
            [
                {"plan_id": p, "claim_id": claim_of[c], "outstanding_oere": 210_000, "live_claim_id": claim_of[c]}
                for p, c in plan_ids
            ],
        )
        installments = (
            await conn.execute(
                insert(m.Installment).returning(m.Installment.id, m.Installment.plan_id, m.Installment.number),
                [
                    {
                        "plan_id": p,
                        "number": n,
                        "due_on": day0 + timedelta(days=30 * (n - 4) + rng.randint(0, 20)),
                        "amount_oere": 35_000,
                    }
                    for p, _ in plan_ids
                    for n in range(1, 7)
                ],
            )
        ).all()
        citizen_of = dict(plan_ids)
        outcome = {
            1: ("BETALINGSSERVICE", "CHARGED"),
            2: ("MOBILEPAY_SUBSCRIPTION", "FAILED"),
            3: ("INVOICE", "INVOICED"),
        }
        await conn.execute(
            insert(m.Draw),
            [
                {
                    "draw_key": f"installment:{i}",
                    "citizen_id": citizen_of[p],
                    "plan_id": p,
                    "installment_id": i,
                    "channel": outcome[n][0],
                    "status": outcome[n][1],
                    "amount_oere": 35_000,
                    "due_on": day0 - timedelta(days=30 * (4 - n)),
                    "created_at": now,
                    "updated_at": now,
                }
                for i, p, n in installments
                if n in outcome
            ],
        )
    return len(plan_ids)


async def _prepare(url: str) -> int:
    db = Database(url)
    await upgrade(db)
    started = time.perf_counter()
    await seed_bulk(db, CITIZENS)
    plans = await _add_plans(db)
    if db.engine.dialect.name == "postgresql":  # statistics, as a ledger in use has them (autovacuum lags a bulk load)
        async with db.read() as conn:
            await conn.exec_driver_sql("ANALYZE")
    print(
        f"caseworker bench: seeded {CITIZENS} citizens and {plans} plans in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    await db.dispose()
    return plans


async def _statements(settings: Settings, queries: dict[str, str]) -> dict[str, tuple[int, int]]:
    """SQL statements and response bytes of one request of each query, through the app in this process."""
    services = build_services(settings)
    statements: list[str] = []
    for engine in services.db.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    app = create_app(settings, services=services)
    headers = {"Authorization": f"Bearer {issue_token(settings, caseworker_id='cw-bench', read_only=True)}"}
    counts = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw", timeout=120) as client:
        for name, query in queries.items():
            await client.post("/graphql", json={"query": query}, headers=headers)  # warm
            statements.clear()
            r = await client.post("/graphql", json={"query": query}, headers=headers)
            body = r.json()
            assert "errors" not in body, body
            counts[name] = (len(statements), len(r.content))
    await services.aclose()
    return counts


async def _until_healthy(base: str, seconds: float = 120) -> None:
    """``_start_server`` waits 10 s; on a busy machine the process can take longer to import and start."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)


async def run() -> dict[str, Any]:
    pg = await _pg_database()
    url = pg or f"sqlite+aiosqlite:///{Path('var/bench-caseworker.sqlite3').resolve()}"
    if not pg:
        Path("var/bench-caseworker.sqlite3").unlink(missing_ok=True)
    gaeldst = ThreadedServer(create_demo_app()).start()
    env = bench_env(url, gaeldst.url)
    day = today()
    queries = {
        "portfolio": PORTFOLIO % ((day - timedelta(days=90)).isoformat(), (day + timedelta(days=90)).isoformat()),
        "queue": QUEUE,
    }
    results: dict[str, Any] = {"database": "PostgreSQL" if pg else "SQLite", "citizens": CITIZENS}
    server = None
    try:
        results["plans"] = await _prepare(url)
        settings = Settings(**{k.removeprefix("GATEWAY_").lower(): v for k, v in env.items()})
        results["counts"] = await _statements(settings, queries)
        server, base = await _start_server(env)
        await _until_healthy(base)
        token = issue_token(settings, caseworker_id="cw-bench", read_only=True)
        async with httpx.AsyncClient(timeout=120) as client:
            for name, query in queries.items():
                for _ in range(3):
                    await client.post(
                        f"{base}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
                    )
                results[name] = await _timed(client, f"{base}/graphql", query, token, REQUESTS)
    finally:
        if server is not None:
            _stop(server)
        gaeldst.stop()
        if pg:
            await _drop_pg(url)
    return results


def render(r: dict[str, Any]) -> str:
    portfolio: Timing = r["portfolio"]
    queue: Timing = r["queue"]
    (p_sql, p_bytes), (q_sql, q_bytes) = r["counts"]["portfolio"], r["counts"]["queue"]
    return f"""{SECTION}

Written by `python -m tests.bench.caseworker` (part of `make bench`). {r["database"]} with {r["citizens"]:,} generated
citizens (20 claims of 10 statement lines each: {r["citizens"] * 20:,} claims, {r["citizens"] * 200:,} ledger entries)
and {r["plans"]:,} active plans of six installments (three past: charged, failed, invoiced and unpaid). A read-only
caseworker's token; one `gateway serve` process; {REQUESTS} sequential requests each after a warm-up.

| request | SQL statements | response | median | p95 |
|---|---:|---:|---:|---:|
| the whole `portfolio` (claims, plans, installments for 180 days, enrolments, payments) | {p_sql} \
| {p_bytes:,} bytes | {portfolio.median_ms:.0f} ms | {portfolio.p95_ms:.0f} ms |
| `workQueue(queue: MISSED_INSTALLMENTS, first: 50)`, each item's citizen, plan, installment, draw | {q_sql} \
| {q_bytes:,} bytes | {queue.median_ms:.0f} ms | {queue.p95_ms:.0f} ms |

Each is one request; the figures are computed by aggregate SQL in the database (GROUP BY over the claims'
balances, which triggers keep as the sums of their entries, and a window function over the plans' installments),
so the gateway's memory holds group rows and one page, never the ledger. The queue's statements: the page, its
`totalCount`, the access-log write (the citizens shown), and one batched read per relation; the portfolio's: one
per part and one for the departments.
"""


def main() -> None:
    text = render(asyncio.run(run()))
    path = Path("docs/benchmarks.md")
    existing = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    before = existing.split(SECTION)[0].rstrip("\n")
    path.write_text(f"{before}\n\n{text}", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
