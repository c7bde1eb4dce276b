"""Prometheus metrics (issue 13): a scripted scenario through whole requests, then ``/metrics`` read back: the
names, the labels and the exact counts, and no CPR number anywhere in a label or a value; who may read
``/metrics``. Every app here has services of its own, so its registry holds only this scenario's counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text

from adapters.ledger import models as m
from adapters.ledger.db import Database
from adapters.ledger.migrate import upgrade
from adapters.simserver import ThreadedServer
from gateway.app import build_services, create_app
from gateway.domain.cpr import looks_like_cpr
from gateway.trusted_documents import trusted_documents
from gateway.worker import Worker
from tests.conftest import ANNA, BO, CAMILLA, DAVID, Api, build_api, make_settings

OVERVIEW = """{ me { name totalOutstanding { amountOere } claims { nodes { id reference
  outstanding { amountOere } collection { status } statement { lines { amount { amountOere } } } } } } }"""

START = """mutation($input: StartPaymentInput!) { startPayment(input: $input) {
  payment { id } userErrors { code } } }"""

# Every metric family the gateway exports, with its labels (a histogram's _bucket adds "le").
FAMILIES: dict[str, set[str]] = {
    "gateway_graphql_requests": {"operation", "document", "status"},
    "gateway_graphql_request_duration_seconds": {"operation", "document"},
    "gateway_graphql_errors": {"code"},
    "gateway_graphql_sql_statements": {"operation"},
    "gateway_response_cache_lookups": {"result"},
    "gateway_rate_limit_rejections": {"kind"},
    "gateway_upstream_requests": {"upstream", "outcome"},
    "gateway_upstream_request_duration_seconds": {"upstream"},
    "gateway_upstream_breaker_state": {"upstream"},
    "gateway_webhooks": {"object", "result"},
    "gateway_draw_outcomes": {"outcome"},
    "gateway_plan_endings": {"ending"},
    "gateway_worker_sweeps": {"result"},
    "gateway_worker_sweep_errors": set(),
    "gateway_worker_sweep_duration_seconds": set(),
    "gateway_worker_backlog": {"kind"},
    "gateway_payment_poll_synced": set(),
}


def value(api: Api, name: str, **labels: str) -> float:
    found = api.services.metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


@pytest.fixture
async def scenario(migrated: str, gaeldst_sim: ThreadedServer) -> Any:
    async with build_api(
        migrated,
        gaeldst_sim,
        response_cache_ttl_seconds=60,
        rate_limit_anonymous_burst=2,
        rate_limit_anonymous_per_second=0.001,
        gaeldst_breaker_threshold=1,
        gaeldst_max_retries=0,
    ) as api:
        yield api


async def test_a_scripted_scenario_is_counted_exactly_and_no_label_holds_a_cpr(scenario: Api) -> None:
    api = scenario
    anna = api.token(citizen=ANNA)

    # Anna's overview twice: a miss that asks Gældsstyrelsen once, then a hit from the response cache.
    api.sql.reset()
    first = await api.post(OVERVIEW, token=anna)
    assert first.headers["x-cache"] == "miss" and "errors" not in first.json()
    second = await api.post(OVERVIEW, token=anna)
    assert second.headers["x-cache"] == "hit"
    assert value(api, "gateway_graphql_requests_total", operation="other", document="none", status="200") == 2
    assert value(api, "gateway_response_cache_lookups_total", result="miss") == 1
    assert value(api, "gateway_response_cache_lookups_total", result="hit") == 1
    assert value(api, "gateway_upstream_requests_total", upstream="gaeldst", outcome="ok") == 1
    assert value(api, "gateway_upstream_request_duration_seconds_count", upstream="gaeldst") == 1
    # SQL statements per request: the histogram saw both requests, and their sum is every statement they ran.
    assert value(api, "gateway_graphql_sql_statements_count", operation="other") == 2
    assert value(api, "gateway_graphql_sql_statements_sum", operation="other") == api.sql.count
    assert value(api, "gateway_graphql_sql_statements_bucket", operation="other", le="1.0") == 1  # the hit
    assert value(api, "gateway_upstream_breaker_state", upstream="gaeldst") == 0

    # The overview as a trusted document, by id: its operation name and id are the labels.
    overview = trusted_documents().by_operation_name("Overview")
    assert overview is not None
    by_id = await api.client.post(
        "/graphql", json={"documentId": overview.document_id}, headers={"Authorization": f"Bearer {anna}"}
    )
    assert by_id.status_code == 200 and "errors" not in by_id.json()
    labels = {"operation": "Overview", "document": overview.id}
    assert value(api, "gateway_graphql_requests_total", status="200", **labels) == 1
    assert value(api, "gateway_graphql_request_duration_seconds_count", **labels) == 1
    assert value(api, "gateway_graphql_sql_statements_count", operation="Overview") == 1

    # A syntax error: BAD_USER_INPUT.
    bad = await api.post("{ me { name ", token=anna)
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert value(api, "gateway_graphql_errors_total", code="BAD_USER_INPUT") == 1

    # A bad token counts against the client address (burst 2): two UNAUTHENTICATED answers, then 429.
    statuses = [(await api.post("{ me { name } }", token="not-a-token")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert value(api, "gateway_graphql_errors_total", code="UNAUTHENTICATED") == 2
    assert value(api, "gateway_graphql_errors_total", code="RATE_LIMITED") == 1
    assert value(api, "gateway_rate_limit_rejections_total", kind="anonymous") == 1
    assert value(api, "gateway_graphql_requests_total", operation="other", document="none", status="429") == 1

    # Gældsstyrelsen answers 500: one attempt (no retries here), the breaker (threshold 1) opens.
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "error500"})
    api.services.gaeldst.invalidate()
    down = (await api.post(OVERVIEW, token=api.token(citizen=DAVID))).json()
    assert {e["extensions"]["code"] for e in down["errors"]} == {"UPSTREAM_UNAVAILABLE"}
    assert value(api, "gateway_upstream_requests_total", upstream="gaeldst", outcome="HTTP_500") == 1
    assert value(api, "gateway_upstream_breaker_state", upstream="gaeldst") == 2
    assert value(api, "gateway_graphql_errors_total", code="UPSTREAM_UNAVAILABLE") == len(down["errors"])
    await api.gaeldst_admin("DELETE", "/admin/faults")

    # The payment provider cannot be reached (nothing listens at the tests' payment URL): one failed call.
    claims = first.json()["data"]["me"]["claims"]["nodes"]
    open_claim = next(c for c in claims if c["outstanding"]["amountOere"] > 0 and c["collection"]["status"])
    variables = {
        "input": {
            "claimIds": [open_claim["id"]],
            "method": "CARD",
            "returnUrl": "https://app.example/done",
            "idempotencyKey": "metrics-pay-1",
        }
    }
    await api.post(START, variables, token=anna)
    assert value(api, "gateway_upstream_requests_total", upstream="payments", outcome="TRANSPORT") == 1
    assert value(api, "gateway_upstream_request_duration_seconds_count", upstream="payments") == 1

    # A webhook without a valid signature.
    refused = await api.client.post("/webhooks/payments", content=b"{}", headers={"X-Signature": "t=1,v1=00"})
    assert refused.status_code == 401
    assert value(api, "gateway_webhooks_total", object="unknown", result="invalid_signature") == 1

    # One worker sweep: counted, timed, and the backlog it leaves, as the ledger has it.
    await Worker(api.services, interval_seconds=60).sweep()
    assert value(api, "gateway_worker_sweeps_total", result="ok") == 1
    assert value(api, "gateway_worker_sweep_duration_seconds_count") == 1
    async with api.services.db.read() as conn:
        scheduled = (await conn.execute(select(func.count()).where(m.Draw.status == "SCHEDULED"))).scalar_one()
        pending = (await conn.execute(select(func.count()).where(m.Draw.status == "PENDING"))).scalar_one()
        open_payments = (
            await conn.execute(select(func.count()).where(m.Payment.status.in_(["CREATED", "AUTHORIZED"])))
        ).scalar_one()
    assert value(api, "gateway_worker_backlog", kind="scheduled") == scheduled
    assert value(api, "gateway_worker_backlog", kind="pending") == pending
    assert value(api, "gateway_worker_backlog", kind="open_payments") == open_payments

    # /metrics (open in development): every family with exactly its labels, and no CPR anywhere.
    scraped = await api.client.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    for cpr in (ANNA, BO, CAMILLA, DAVID):
        assert cpr not in text and f"{cpr[:6]}-{cpr[6:]}" not in text
    families = {f.name: f for f in text_string_to_metric_families(text) if f.name.startswith("gateway_")}
    assert set(families) == set(FAMILIES)
    for name, family in families.items():
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == FAMILIES[name], (name, sample.labels)
            for label in sample.labels.values():
                assert not looks_like_cpr(label), (name, sample.labels)
    operations = {s.labels["operation"] for s in families["gateway_graphql_requests"].samples}
    assert operations == {"other", "Overview"}  # a trusted document's operation name, or "other"
    documents = {s.labels["document"] for s in families["gateway_graphql_requests"].samples}
    assert documents == {"none", overview.id}


def graphql_requests(api: Api) -> dict[tuple[str, str, str], float]:
    """Every sample of the request counter: (operation, document, status) -> count."""
    return {
        (sample.labels["operation"], sample.labels["document"], sample.labels["status"]): sample.value
        for family in api.services.metrics.registry.collect()
        if family.name == "gateway_graphql_requests"
        for sample in family.samples
        if sample.name == "gateway_graphql_requests_total"
    }


async def test_bodies_over_the_limit_are_counted_as_requests_that_reached_no_operation(scenario: Api) -> None:
    api = scenario
    limit = api.settings.graphql_max_body_bytes
    # Refused on its Content-Length, before anything is read.
    declared = await api.post("{ me { name } }\n#" + "x" * limit)
    assert declared.status_code == 413

    # No Content-Length: refused while it streams in, after the GraphQL view has started reading it.
    async def chunks() -> Any:
        yield b'{"query": "{ me { name } }'
        for _ in range(limit // 16_384 + 2):
            yield b"#" + b"x" * 16_384

    streamed = await api.client.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in streamed.request.headers and streamed.status_code == 413
    for refused in (declared, streamed):
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    # Counted once each, labelled as the GraphQL view labels a request that never reached an operation.
    assert graphql_requests(api) == {("other", "none", "413"): 2}
    assert value(api, "gateway_graphql_request_duration_seconds_count", operation="other", document="none") == 2
    assert value(api, "gateway_graphql_sql_statements_count", operation="other") == 2
    assert value(api, "gateway_graphql_sql_statements_sum", operation="other") == 0
    assert value(api, "gateway_graphql_errors_total", code="BAD_USER_INPUT") == 2

    # The webhook's own limit: counted with the webhooks, not as a GraphQL request.
    webhook = await api.client.post("/webhooks/payments", content=b"{" + b" " * api.settings.webhook_max_body_bytes)
    assert webhook.status_code == 413
    assert value(api, "gateway_webhooks_total", object="unknown", result="too_large") == 1
    assert graphql_requests(api) == {("other", "none", "413"): 2}

    # A request under the limit is counted by the GraphQL view as before, and only once.
    assert (await api.post("{ me { name } }", token=api.token(citizen=ANNA))).status_code == 200
    assert graphql_requests(api) == {("other", "none", "413"): 2, ("other", "none", "200"): 1}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_metrics_need_the_token_in_production(migrated: str, gaeldst_sim: ThreadedServer) -> None:
    production = {
        "environment": "production",
        "auth_secret": "a-production-signing-key-0123456789abcdef",
        "payments_webhook_secret": "a-production-webhook-secret",
    }
    async with build_api(migrated, gaeldst_sim, **production) as api:
        assert (await api.client.get("/metrics")).status_code == 404  # no token, no port: not served
    async with build_api(migrated, gaeldst_sim, metrics_token="scrape-me", **production) as api:
        assert (await api.client.get("/metrics")).status_code == 401
        wrong = await api.client.get("/metrics", headers={"Authorization": "Bearer scrape-you"})
        assert wrong.status_code == 401
        right = await api.client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert right.status_code == 200 and "gateway_graphql_requests" in right.text
    async with build_api(migrated, gaeldst_sim, metrics_port=9, **production) as api:
        assert (await api.client.get("/metrics")).status_code == 404  # served on its own port instead


async def test_readyz_reports_the_breaker_without_failing_on_it(scenario: Api) -> None:
    api = scenario
    ready = await api.client.get("/readyz")
    closed = {"gaeldst": {"breaker": "closed"}, "payments": {"breaker": "closed"}}
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "upstreams": closed})
    await api.gaeldst_admin("POST", "/admin/faults", {"mode": "error503"})
    await api.post(OVERVIEW, token=api.token(citizen=ANNA))
    ready = await api.client.get("/readyz")
    opened = {"gaeldst": {"breaker": "opened"}, "payments": {"breaker": "closed"}}
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "upstreams": opened})


async def test_readyz_fails_on_a_database_behind_the_code_not_on_one_ahead(
    tmp_path: Path, gaeldst_sim: ThreadedServer
) -> None:
    """A rolling upgrade migrates the database before the old processes are replaced: they stay ready."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}"
    db = Database(url)
    await upgrade(db)
    services = build_services(make_settings(url, gaeldst_sim.url))
    transport = httpx.ASGITransport(app=create_app(services.settings, services=services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            assert (await client.get("/readyz")).json()["status"] == "ok"
            for revision, status in (("0001", "migrations pending"), ("9999_from_a_newer_version", "ok")):
                async with db.transaction() as conn:
                    await conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
                ready = await client.get("/readyz")
                assert (ready.status_code, ready.json()["status"]) == (200 if status == "ok" else 503, status)
    finally:
        await services.aclose()
        await db.dispose()
