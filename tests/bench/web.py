"""``make bench``, the web page's section: its overview (the trusted document ``WebOverview``), compiled and the
ordinary way.

Scenario as ``tests/bench/run.py``'s: PostgreSQL (else SQLite) with ``BENCH_CITIZENS`` generated citizens, one of
them signed in (20 open claims of 10 statement lines each, from several departments). The web page's overview
asks more than the overview: each claim's collection status, eligibility, plan and automatic payment, the
senders' contact details and the citizen's notices; Gældsstyrelsen's simulator answers in this process, its
status cache off (every request asks it once). Each server alone on the machine in turn under wrk (when
installed), every answer checked to be the same bytes both ways; the SQL statements and Gældsstyrelsen calls per
request exact, counted through the app in this process, with whether the compiled plan answered.

Replaces its section of docs/benchmarks.md (``tests/bench/run.py`` writes the file first).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import event

from adapters.gaeldst.simulator import create_demo_app
from adapters.simserver import ThreadedServer
from gateway.app import build_services, create_app
from gateway.auth import issue_token
from gateway.settings import Settings
from gateway.trusted_documents import trusted_documents
from tests.bench.run import (
    CITIZENS,
    CONNECTIONS,
    LOAD_SECONDS,
    SEQUENTIAL,
    Load,
    Timing,
    _drop_pg,
    _load,
    _pg_database,
    _prepare,
    _start_server,
    _stop,
    _timed,
    bench_env,
)

SECTION = "## The web page's overview (WebOverview): compiled and the ordinary way"
_DOCUMENT = trusted_documents().by_operation_name("WebOverview")
assert _DOCUMENT is not None
WEB_OVERVIEW = _DOCUMENT.text


async def _exact_counts(settings: Settings, cpr: str, gaeldst: ThreadedServer) -> dict[str, Any]:
    """Per way: SQL statements, Gældsstyrelsen calls, whether the plan answered, the body."""
    services = build_services(settings)
    statements: list[str] = []
    for engine in services.db.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    services.db.fast.listeners.append(statements.append)
    app = create_app(settings, services=services)
    headers = {"Authorization": f"Bearer {issue_token(settings, citizen_cpr=cpr)}"}
    counts: dict[str, Any] = {}
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
        httpx.AsyncClient(base_url=gaeldst.url) as admin,
    ):
        await client.post("/graphql", json={"query": WEB_OVERVIEW}, headers=headers)  # warm up
        view = app.state.graphql
        saved = view.compiled
        for way in ("compiled", "ordinary"):
            view.compiled = saved if way == "compiled" else None
            answered = saved.answered if saved is not None else 0
            statements.clear()
            await admin.post("/admin/reset-stats")
            r = await client.post("/graphql", json={"query": WEB_OVERVIEW}, headers=headers)
            assert r.status_code == 200 and "errors" not in r.json(), r.text
            counts[way] = {
                "sql": len(statements),
                "upstream": (await admin.get("/admin/stats")).json()["statusCalls"],
                "answered": saved is not None and way == "compiled" and saved.answered == answered + 1,
                "body": r.content,
            }
        view.compiled = saved
    await services.aclose()
    assert counts["compiled"]["body"] == counts["ordinary"]["body"]
    return counts


async def run() -> dict[str, Any]:
    pg = await _pg_database()
    url = pg or f"sqlite+aiosqlite:///{Path('var/bench-web.sqlite3').resolve()}"
    gaeldst = ThreadedServer(create_demo_app()).start()
    env = bench_env(url, gaeldst.url, GATEWAY_GAELDST_CACHE_TTL_SECONDS="0", GATEWAY_RESPONSE_CACHE_TTL_SECONDS="0")
    results: dict[str, Any] = {
        "database": "PostgreSQL" if pg else "SQLite",
        "citizens": CITIZENS,
        "load_average": os.getloadavg()[0],
    }
    try:
        cpr = await _prepare(url)
        settings = Settings(**{k.removeprefix("GATEWAY_").lower(): v for k, v in env.items()})
        results["counts"] = await _exact_counts(settings, cpr, gaeldst)
        token = issue_token(settings, citizen_cpr=cpr)
        reference = results["counts"]["compiled"]["body"]
        for way, compiled in (("compiled", "true"), ("ordinary", "false")):
            server, base = await _start_server({**env, "GATEWAY_COMPILED_READS": compiled})
            headers = {"Authorization": f"Bearer {token}"}
            try:
                async with httpx.AsyncClient(timeout=30) as client:
                    for _ in range(30):  # warm up: pools, prepared statements
                        r = await client.post(f"{base}/graphql", json={"query": WEB_OVERVIEW}, headers=headers)
                        assert r.status_code == 200, r.text
                    results[f"{way}_identical"] = r.content == reference
                    results[f"{way}_single"] = await _timed(client, f"{base}/graphql", WEB_OVERVIEW, token, SEQUENTIAL)
                results[way] = await _load(f"{base}/graphql", WEB_OVERVIEW, token, server.pid)
            finally:
                _stop(server)
    finally:
        gaeldst.stop()
        if pg:
            await _drop_pg(url)
    return results


def render(r: dict[str, Any]) -> str:
    rows = []
    for way, label in (("compiled", "compiled read path"), ("ordinary", "ordinary path (Strawberry)")):
        load: Load = r[way]
        single: Timing = r[f"{way}_single"]
        counts = r["counts"][way]
        rows.append(
            f"| {label}{'' if way == 'ordinary' or counts['answered'] else ' (not compiled: ran the ordinary way)'} "
            f"| {load.rps:,.0f} | {load.cpu_ms:.2f} | {load.p50_ms:.1f} ms | {load.p99_ms:.1f} ms "
            f"| {single.median_ms:.1f} ms / {single.p95_ms:.1f} ms | {counts['sql']} | {counts['upstream']} "
            f"| {'yes' if r[f'{way}_identical'] else 'NO'} |"
        )
    ratio = r["compiled"].cpu_ms / r["ordinary"].cpu_ms
    table = "\n".join(rows)
    claims = orjson.loads(r["counts"]["compiled"]["body"])["data"]["me"]["claims"]["nodes"]
    lines = sum(len(c["statement"]["lines"]) for c in claims)
    return f"""{SECTION}

Written by `python -m tests.bench.web` (part of `make bench`), load average {r["load_average"]:.1f} when it started.
{r["database"]} with {r["citizens"]:,} generated citizens; one of them signed in: {len(claims)} open claims, \
{lines} statement lines. `WebOverview` asks each claim's collection status, eligibility, plan and automatic payment,
the senders' contact details and the citizen's notices ({len(r["counts"]["compiled"]["body"]):,} bytes of JSON).
Gældsstyrelsen's simulator in the bench's process, its status cache off; response cache off; one `gateway serve`
process at a time. Load generator: {r["compiled"].generator}, {CONNECTIONS} connections, {LOAD_SECONDS:.0f} s; \
single requests: {SEQUENTIAL} sequential (median / p95).

| way | req/s | CPU ms / request | p50 | p99 | single request | SQL statements | Gældsstyrelsen calls | same bytes |
|---|---:|---:|---:|---:|---:|---:|---:|---|
{table}

The compiled path's CPU per request is {ratio:.2f}× the ordinary path's.
"""


def main() -> None:
    text = render(asyncio.run(run()))
    path = Path("docs/benchmarks.md")
    existing = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    before, _, after = existing.partition(SECTION)
    rest = after.split("\n## ", 1)[1] if "\n## " in after else ""
    path.write_text(f"{before.rstrip()}\n\n{text}" + (f"\n## {rest}" if rest else ""), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
