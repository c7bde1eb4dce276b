"""Prometheus metrics (prometheus-client): what the gateway and its workers count, and ``/metrics``.

Recorded at the composition root and at the adapters' edges, never in the domain core or the use-cases: the
GraphQL view records requests, errors, SQL statements per request, the response cache and rate limits; the
upstream clients report each call through their ``UpstreamObserver`` port (``UpstreamMetrics``); the webhook
endpoint its outcomes; the worker its sweeps, what they did and the backlog left.

Labels are bounded and never carry a CPR, a token or a query text: the operation is a trusted document's
operation name, else ``other``; the document a trusted document's id, else ``none``; error codes come from
``ErrorCode``; upstream outcomes are short codes (``ok``, ``TIMEOUT``, ``HTTP_503``, ...).

Several processes (``gateway serve --workers N``) share one directory, ``PROMETHEUS_MULTIPROC_DIR``: each process
writes its values to files there (prometheus-client's multi-process mode) and ``/metrics`` in any of them adds
up all of them. ``gateway serve`` empties the directory when it starts and removes a dead process's live
gauges (the breaker states) when it is scraped; counters of exited processes stay counted, as Prometheus
expects of a counter.
"""

from __future__ import annotations

import contextlib
import glob
import hmac
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

from gateway.domain.errors import ErrorCode
from gateway.settings import Settings

# No ``*_created`` series: Prometheus does not use them, multi-process mode has none, and they double the output.
disable_created_metrics()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"  # the operation label of anything that is not a trusted document
NO_DOCUMENT = "none"  # the document label of a request that sent its query text
BREAKER_STATES = {"closed": 0, "half-opened": 1, "opened": 2}
_ERROR_CODES = frozenset(code.value for code in ErrorCode)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
_STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 50, 100)
_SWEEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class GatewayMetrics:
    """Every metric of one process, on ``registry`` (a registry of its own per set of services, so that tests
    that build several apps in one process count each app's own)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "gateway_graphql_requests",
            "GraphQL requests answered, by operation (trusted name or other), document and HTTP status.",
            ["operation", "document", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "gateway_graphql_request_duration_seconds",
            "Time to answer a GraphQL request, by operation and document.",
            ["operation", "document"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "gateway_graphql_errors", "Top-level GraphQL errors, by extensions.code.", ["code"], registry=r
        )
        self.sql_statements = Histogram(
            "gateway_graphql_sql_statements",
            "SQL statements one GraphQL request issued, by operation.",
            ["operation"],
            buckets=_STATEMENT_BUCKETS,
            registry=r,
        )
        self.response_cache = Counter(
            "gateway_response_cache_lookups",
            "Citizens' response cache: hits and misses.",
            ["result"],
            registry=r,
        )
        self.rate_limited = Counter(
            "gateway_rate_limit_rejections",
            "Requests refused by a rate limit (429), by kind of viewer.",
            ["kind"],
            registry=r,
        )
        self.upstream_requests = Counter(
            "gateway_upstream_requests",
            "Calls to an upstream service (each attempt), by outcome.",
            ["upstream", "outcome"],
            registry=r,
        )
        self.upstream_latency = Histogram(
            "gateway_upstream_request_duration_seconds",
            "Time of one call to an upstream service.",
            ["upstream"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.breaker = Gauge(
            "gateway_upstream_breaker_state",
            "Circuit breaker of an upstream: 0 closed, 1 half-open, 2 open (the worst of the live processes).",
            ["upstream"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.webhooks = Counter(
            "gateway_webhooks",
            "The payment provider's webhooks, by object and result.",
            ["object", "result"],
            registry=r,
        )
        self.draws = Counter(
            "gateway_draw_outcomes",
            "What the worker's sweeps did with draws: made (charges, instructions, invoices), handed to the "
            "provider (submitted), and their outcomes (charged, failed, missed_invoices).",
            ["outcome"],
            registry=r,
        )
        self.plans = Counter(
            "gateway_plan_endings",
            "Plans the sweeps completed or defaulted, and claims that left a plan for collection.",
            ["ending"],
            registry=r,
        )
        self.sweeps = Counter("gateway_worker_sweeps", "Worker sweeps, by result.", ["result"], registry=r)
        self.sweep_errors = Counter(
            "gateway_worker_sweep_errors", "Problems a sweep reported and left for the next one.", registry=r
        )
        self.sweep_duration = Histogram(
            "gateway_worker_sweep_duration_seconds",
            "Time of one worker sweep (the draws' sweep and the status poll).",
            buckets=_SWEEP_BUCKETS,
            registry=r,
        )
        self.backlog = Gauge(
            "gateway_worker_backlog",
            "Work left after the latest sweep: draws not yet at the provider (scheduled), draws awaiting their "
            "outcome (pending), payments still open (open_payments).",
            ["kind"],
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self.polled = Counter(
            "gateway_payment_poll_synced", "Payments and enrolments the status poll brought up to date.", registry=r
        )

    # --- what the GraphQL view records -------------------------------------------------------------------

    def request(self, operation: str, document: str, status: int, seconds: float, statements: int) -> None:
        self.requests.labels(operation, document, str(status)).inc()
        self.latency.labels(operation, document).observe(seconds)
        self.sql_statements.labels(operation).observe(statements)

    def error_codes(self, body: dict[str, Any]) -> None:
        for error in body.get("errors") or ():
            code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
            self.errors.labels(code if code in _ERROR_CODES else OTHER).inc()

    def upstream(self, name: str) -> UpstreamMetrics:
        return UpstreamMetrics(self, name)

    # --- what the worker records -------------------------------------------------------------------------

    def sweep(self, report: Any, seconds: float, polled: int) -> None:
        """One sweep's report (``gateway.usecases.draws.SweepReport``)."""
        self.sweeps.labels("ok").inc()
        self.sweep_duration.observe(seconds)
        for name in ("charges", "instructions", "invoices", "submitted", "charged", "failed", "missed_invoices"):
            if value := getattr(report, name):
                self.draws.labels(name).inc(value)
        for name in ("completed", "defaulted", "claims_left"):
            if value := getattr(report, name):
                self.plans.labels(name).inc(value)
        if report.errors:
            self.sweep_errors.inc(len(report.errors))
        if polled:
            self.polled.inc(polled)

    def sweep_failed(self, seconds: float) -> None:
        self.sweeps.labels("failed").inc()
        self.sweep_duration.observe(seconds)


class UpstreamMetrics:
    """``gateway.usecases.ports.UpstreamObserver`` for one upstream: its calls, latency and breaker state."""

    def __init__(self, metrics: GatewayMetrics, name: str) -> None:
        self._requests = metrics.upstream_requests
        self._latency = metrics.upstream_latency.labels(name)
        self._breaker = metrics.breaker.labels(name)
        self.name = name
        self.breaker("closed")

    def request(self, outcome: str, seconds: float | None) -> None:
        self._requests.labels(self.name, outcome).inc()
        if seconds is not None:
            self._latency.observe(seconds)

    def breaker(self, state: str) -> None:
        self._breaker.set(BREAKER_STATES.get(state, 2))


# --- SQL statements per request ---------------------------------------------------------------------------

# The statements of the request being answered: a one-element list, so that the DataLoaders' batch tasks (which
# copy the context) add to the very counter the request reads. None outside a request.
_statements: ContextVar[list[int] | None] = ContextVar("gateway_sql_statements", default=None)


def count_statement() -> None:
    """One SQL statement, for the request (or sweep) it belongs to (``Database.on_statement``)."""
    box = _statements.get()
    if box is not None:
        box[0] += 1


@contextlib.contextmanager
def statements() -> Iterator[list[int]]:
    """``with statements() as counted:`` ... ``counted[0]`` is how many SQL statements ran inside."""
    box = [0]
    token = _statements.set(box)
    try:
        yield box
    finally:
        _statements.reset(token)


# --- operation labels ----------------------------------------------------------------------------------------


def operation_labels(trusted: Any) -> tuple[str, str]:
    """(operation, document) of a request: a trusted document's operation name and id (the registry bounds
    them), else ("other", "none"). ``trusted`` is the request's trusted document, or None."""
    if trusted is None:
        return OTHER, NO_DOCUMENT
    return str(trusted.operation_name), str(trusted.id)


# --- exposition ----------------------------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(path: str) -> None:
    """Start from an empty directory: files of an earlier run would be added to this one's counters."""
    Path(path).mkdir(parents=True, exist_ok=True)
    for entry in Path(path).iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


_PID_FILE = re.compile(r"_(\d+)\.db$")


def forget_dead_processes(path: str) -> None:
    """Remove the live gauges of processes that no longer run (a worker that crashed or was replaced), so a
    dead process's breaker state is not reported. prometheus-client's ``mark_process_dead`` does the removing;
    a process that exits normally calls it itself."""
    for file in glob.glob(os.path.join(path, "gauge_live*.db")):
        match = _PID_FILE.search(file)
        if match is None:
            continue
        pid = int(match.group(1))
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_exiting() -> None:
    """This process stops: its live gauges leave the multi-process directory (counters stay counted)."""
    if (path := multiprocess_dir()) is not None:
        multiprocess.mark_process_dead(os.getpid(), path)


class _LiveMultiProcessCollector(multiprocess.MultiProcessCollector):
    """Every process's values, without the live gauges of processes that have died since the last scrape."""

    def collect(self) -> Any:
        forget_dead_processes(self._path)
        return super().collect()


def exposition_registry(metrics: GatewayMetrics | None) -> CollectorRegistry:
    """What ``/metrics`` shows: every process's values in multi-process mode, else this process's."""
    path = multiprocess_dir()
    if path is None:
        assert metrics is not None, "one process: its own metrics"
        return metrics.registry
    registry = CollectorRegistry()
    _LiveMultiProcessCollector(registry, path=path)
    return registry


def render(metrics: GatewayMetrics) -> bytes:
    return generate_latest(exposition_registry(metrics))


def metrics_endpoint(settings: Settings, metrics: GatewayMetrics) -> Callable[[Request], Any]:
    """``GET /metrics`` on the API's port. With ``GATEWAY_METRICS_TOKEN`` it needs that bearer token; without
    one it is open in development only (production answers 404: set a token, or ``GATEWAY_METRICS_PORT``)."""
    token = settings.metrics_token.get_secret_value().encode() if settings.metrics_token else None

    async def endpoint(request: Request) -> Response:
        if token is None and not settings.is_development:
            return Response(status_code=404)
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token):
                return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(render(metrics), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return endpoint


def serve_metrics_port(host: str, port: int, metrics: GatewayMetrics | None = None) -> None:
    """``/metrics`` on a port of its own (prometheus-client's server, in a daemon thread), for a network that
    only Prometheus reaches. In multi-process mode it adds up every process (the ``gateway serve`` supervisor
    runs it); else it shows ``metrics``'s registry (``gateway worker``)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=exposition_registry(metrics))
