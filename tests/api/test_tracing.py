"""OpenTelemetry traces (issue 13): one overview request is one trace, request -> GraphQL operation -> every SQL
statement and the Gældsstyrelsen call, with nothing CPR-shaped in any span; a worker sweep is a trace of its own;
log lines carry the trace id. The spans go to an in-memory exporter given to these services only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import structlog
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.simserver import ThreadedServer
from gateway.app import build_services, create_app
from gateway.auth import issue_token
from gateway.domain.cpr import looks_like_cpr
from gateway.logging import configure_logging
from gateway.services import Services
from gateway.tracing import tracer
from gateway.worker import Worker
from tests.conftest import ANNA, ledger_for, make_settings, reset_gaeldst_sim

OVERVIEW = """query Overview { me { name totalOutstanding { amountOere } claims { nodes { reference
  outstanding { amountOere } collection { status } statement { lines { amount { amountOere } } } } } } }"""


@dataclass
class Traced:
    services: Services
    client: httpx.AsyncClient
    spans: InMemorySpanExporter
    statements: list[int]

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())


@pytest.fixture
async def traced(
    migrated: str, gaeldst_sim: ThreadedServer, gaeldst_admin_http: httpx.AsyncClient
) -> AsyncIterator[Traced]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    services = build_services(make_settings(migrated, gaeldst_sim.url), tracer_provider=provider)
    statements = [0]
    services.db.on_statement(lambda: statements.__setitem__(0, statements[0] + 1))
    await ledger_for(migrated).prepare(services.db)
    await reset_gaeldst_sim(gaeldst_sim, gaeldst_admin_http)
    app = create_app(services.settings, services=services)
    exporter.clear()  # the seeding's statements
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield Traced(services, client, exporter, statements)
    finally:
        await services.aclose()
        provider.shutdown()


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while (parent := parent_of(span)) is not None:
        span = by_id[parent]
        names.append(span.name)
    return names


async def test_an_overview_is_one_trace_request_operation_sql_and_http(traced: Traced) -> None:
    token = issue_token(traced.services.settings, citizen_cpr=ANNA)
    traced.statements[0] = 0
    response = await traced.client.post(
        "/graphql", json={"query": OVERVIEW, "operationName": "Overview"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and "errors" not in response.json()
    spans = traced.finished()
    assert len({s.context.trace_id for s in spans}) == 1  # one trace
    by_id = {s.context.span_id: s for s in spans}

    [request] = [s for s in spans if s.parent is None]
    assert (request.name, request.kind) == ("POST /graphql", SpanKind.SERVER)
    [operation] = [s for s in spans if s.name == "GraphQL Overview"]
    assert parent_of(operation) == request.context.span_id
    assert operation.attributes is not None and operation.attributes["graphql.operation.type"] == "query"

    steps = [s for s in spans if s.name in ("GraphQL Parsing", "GraphQL Validation")]
    sql = [s for s in spans if "db.system" in (s.attributes or {})]
    assert len(sql) == traced.statements[0] > 0  # a span for every statement the request ran (only reads)
    assert all(str(s.attributes["db.statement"]).startswith("SELECT ") for s in sql if s.attributes)
    http = [s for s in spans if s.kind is SpanKind.CLIENT and s not in sql]
    assert [s.name for s in http] == ["POST"]  # Gældsstyrelsen, asked once for all of Anna's claims
    assert http[0].attributes is not None and str(http[0].attributes["http.url"]).endswith("/v1/claims/status")
    for child in [*steps, *sql, *http]:
        assert parent_of(child) == operation.context.span_id, (child.name, ancestors(child, by_id))
    assert len(steps) == 2 and len(spans) == 2 + len(steps) + len(sql) + len(http)  # nothing else

    # Nothing CPR-shaped in any span: names, attributes, events.
    for span in spans:
        texts: list[Any] = [span.name, *(span.attributes or {}).values()]
        texts += [v for event in span.events for v in (event.attributes or {}).values()]
        assert not any(isinstance(t, str) and looks_like_cpr(t) for t in texts), span.name


async def test_a_sweep_is_a_trace_and_log_lines_carry_the_trace_id(
    traced: Traced, capfd: pytest.CaptureFixture[str]
) -> None:
    await Worker(traced.services, interval_seconds=60).sweep()
    [sweep] = [s for s in traced.finished() if s.name == "worker.sweep"]
    assert sweep.parent is None
    inside = [s for s in traced.finished() if s.context.trace_id == sweep.context.trace_id and s is not sweep]
    assert inside and all(parent_of(s) == sweep.context.span_id for s in inside)  # its SQL statements

    configure_logging("INFO")  # onto the stderr this test captures
    capfd.readouterr()
    with tracer(traced.services.tracer_provider).start_as_current_span("probe") as span:
        structlog.get_logger("test").warning("probe.logged")
    line = next(ln for ln in capfd.readouterr().err.splitlines() if "probe.logged" in ln)
    assert f"trace_id={span.get_span_context().trace_id:032x}" in line


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_tracing_by_settings_exports_over_otlp_http(migrated: str, gaeldst_sim: ThreadedServer) -> None:
    """GATEWAY_TRACING_ENABLED and an endpoint: the spans reach an OTLP/HTTP collector (here a small receiver that
    decodes what it is sent) when the services close."""
    received: list[ExportTraceServiceRequest] = []

    async def collect(request: Request) -> Response:
        assert request.headers["content-type"] == "application/x-protobuf"
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.body())
        received.append(message)
        return Response(b"", media_type="application/x-protobuf")

    with ThreadedServer(Starlette(routes=[Route("/v1/traces", collect, methods=["POST"])])) as collector:
        settings = make_settings(migrated, gaeldst_sim.url, tracing_enabled=True, tracing_otlp_endpoint=collector.url)
        services = build_services(settings)
        assert services.owns_tracer_provider
        try:
            transport = httpx.ASGITransport(app=create_app(settings, services=services))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                assert (await client.get("/healthz")).status_code == 200
        finally:
            await services.aclose()  # flushes the batch
    names = {
        span.name
        for message in received
        for resource in message.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    }
    assert "GET /healthz" in names
    services_named = {
        attribute.value.string_value
        for message in received
        for resource in message.resource_spans
        for attribute in resource.resource.attributes
        if attribute.key == "service.name"
    }
    assert services_named == {"betalingsoverblik-gateway"}
