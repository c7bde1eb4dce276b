"""OpenTelemetry traces (off by default; ``GATEWAY_TRACING_ENABLED``, OTLP over HTTP by settings).

One request is one trace: the ASGI request span (opentelemetry-instrumentation-asgi), the GraphQL operation under
it (Strawberry's OpenTelemetry extension, adapted below), and under the operation every SQL statement
(opentelemetry-instrumentation-sqlalchemy, per engine) and every call to Gældsstyrelsen or the payment provider
(opentelemetry-instrumentation-httpx, per client). A worker sweep is a trace of its own (``worker.sweep``).
Log lines carry the current ``trace_id`` and ``span_id`` (``gateway.logging``).

Nothing here sets the process-wide tracer provider's spans on by itself: the provider is made from settings by
``provider_from_settings`` and handed to what is instrumented, so tests give theirs (an in-memory exporter) to
one app without touching any other. What spans carry: SQL text with placeholders (never the parameters), the
HTTP method, route and status, the operation's name with anything CPR-shaped masked; never a query document
or variables.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind
from strawberry.extensions import LifecycleStep, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension

from gateway.domain.cpr import redact
from gateway.settings import Settings

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.trace import TracerProvider
    from starlette.types import ASGIApp

    from adapters.ledger.db import Database

TRACER_NAME = "gateway"


def provider_from_settings(settings: Settings) -> TracerProvider | None:
    """A tracer provider exporting over OTLP/HTTP in batches, or None when tracing is off."""
    if not settings.tracing_enabled:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    endpoint = settings.tracing_otlp_endpoint
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces" if endpoint else None)
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.tracing_service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.tracing_sample_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def tracer(provider: trace.TracerProvider | None) -> trace.Tracer:
    """The gateway's own tracer (worker sweeps); a no-op one when tracing is off."""
    return trace.get_tracer(TRACER_NAME, tracer_provider=provider or trace.NoOpTracerProvider())


def instrument_database(db: Database, provider: TracerProvider) -> None:
    """A span per SQL statement of this ledger database: its engines' and its hot reads' on the driver."""
    instrument_engines([engine.sync_engine for engine in db.engines], provider)
    if not db.sqlite:  # on SQLite the hot reads go through the read engine
        db.fast.tracer = trace.get_tracer("adapters.ledger.fastread", tracer_provider=provider)


def instrument_engines(engines: Iterable[Any], provider: TracerProvider) -> None:
    """A span per SQL statement on these (synchronous SQLAlchemy) engines, and no others:
    ``SQLAlchemyInstrumentor().instrument`` would patch every engine of the process, and only once."""
    from opentelemetry.instrumentation.sqlalchemy import __version__
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider

    sql_tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__, provider)
    usage = NoOpMeterProvider().get_meter(__name__).create_up_down_counter("db.client.connections.usage")
    for engine in engines:
        EngineTracer(sql_tracer, engine, usage)


def instrument_http_clients(clients: Iterable[httpx.AsyncClient], provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    for client in clients:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)


def instrument_asgi(app: ASGIApp, provider: TracerProvider) -> ASGIApp:
    """The request span around the whole app (its receive/send sub-spans left out: noise)."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app, tracer_provider=provider, exclude_spans=["receive", "send"])


class GraphQLOperationSpans(OpenTelemetryExtension):
    """Strawberry's OpenTelemetry extension with three changes: the operation's span is made the current span
    while it runs, so the SQL statements and upstream calls it causes are its children (Strawberry only parents
    its own resolver spans to it); it does not record the query document (a caseworker's document may hold a
    CPR number as a literal); and there are no per-resolver spans (an overview resolves hundreds of fields:
    their spans would cost more than the work; SQL and HTTP spans show where the time goes)."""

    def on_operation(self) -> Generator[None, None, None]:
        name = self.execution_context.operation_name
        title = f"GraphQL {redact(name)}" if name else "GraphQL"
        span = self._tracer.start_span(title, kind=SpanKind.INTERNAL, attributes={"component": "graphql"})
        self._span_holder[LifecycleStep.OPERATION] = span
        token = context.attach(trace.set_span_in_context(span))
        try:
            yield
            if not name and (found := self.execution_context.operation_name):
                span.update_name(f"GraphQL {redact(found)}")
            operation_type = getattr(self.execution_context, "operation_type", None)
            if operation_type is not None:
                span.set_attribute("graphql.operation.type", str(operation_type.value))
            if found := self.execution_context.operation_name:
                span.set_attribute("graphql.operation.name", redact(found))
        finally:
            context.detach(token)
            span.end()

    # No resolver middleware at all (Strawberry skips an extension whose ``resolve`` is the base class's).
    resolve = SchemaExtension.resolve  # type: ignore[assignment]
