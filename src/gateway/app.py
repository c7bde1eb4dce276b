"""The ASGI application, built by ``create_app`` from explicit settings (no hidden globals): the GraphQL
endpoint, the payment provider's webhooks, health checks, ``/metrics`` and GraphiQL's assets, behind the body
limits and security headers of ``gateway.http_edge`` (and the request's trace span when tracing is on).

Health: ``/healthz`` says the process answers; ``/readyz`` that it should be sent requests: the database answers
and is at the latest migration, and the process is not draining (after SIGTERM, ``GATEWAY_HTTP_DRAIN_SECONDS``
of 503 before the server stops accepting). It reports the upstreams' breaker states without failing on them:
the gateway answers without Gældsstyrelsen (claims' collection status unknown) and without the provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import threading
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from adapters.ledger.migrate import pending as migrations_pending
from gateway.auth import issue_token
from gateway.graphiql import ASSETS_PATH, assets_dir
from gateway.graphql_view import GatewayGraphQL
from gateway.http_edge import BodyLimit, SecurityHeaders
from gateway.logging import configure_logging
from gateway.metrics import metrics_endpoint, operation_labels, process_exiting
from gateway.services import Services, build_services
from gateway.settings import Settings
from gateway.tracing import instrument_asgi
from gateway.webhooks import payments_webhook_endpoint
from gateway.worker import Worker
from web.api import Api
from web.app import create_web_app, session_secret
from web.documents import Documents

__all__ = ["Services", "build_services", "create_app"]

log = structlog.get_logger(__name__)


class Drain:
    """This process is going away: /readyz says so while requests are still served, so that a load balancer
    takes it out of rotation before the server stops accepting connections."""

    def __init__(self) -> None:
        self.draining = asyncio.Event()

    def install(self, seconds: float) -> Callable[[], None]:
        """Wrap the server's SIGTERM handler (uvicorn's, which starts its graceful shutdown): the first SIGTERM
        starts draining and hands the signal on ``seconds`` later. Only in the main thread (a server in a thread
        of a test has no signals); returns the function that puts the handler back."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return lambda: None
        loop = asyncio.get_running_loop()

        def on_term(signum: int, frame: FrameType | None) -> None:
            if self.draining.is_set():
                previous(signum, frame)  # a second SIGTERM: stop now
                return
            log.info("server.draining", seconds=seconds)
            loop.call_soon_threadsafe(self.draining.set)
            loop.call_soon_threadsafe(loop.call_later, seconds, previous, signum, frame)

        signal.signal(signal.SIGTERM, on_term)

        def restore() -> None:
            if signal.getsignal(signal.SIGTERM) is on_term:
                signal.signal(signal.SIGTERM, previous)

        return restore


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or (services.settings if services else Settings())
    configure_logging(settings.log_level, settings.log_json)
    own_services = services is None
    svc = services or build_services(settings)
    graphql = GatewayGraphQL(svc)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    drain = Drain()

    async def readyz(_: Request) -> Response:
        upstreams = {
            "gaeldst": {"breaker": svc.gaeldst.breaker_state},
            "payments": {"breaker": svc.payments_client.breaker.state},
        }
        if drain.draining.is_set():
            return JSONResponse({"status": "draining", "upstreams": upstreams}, status_code=503)
        try:
            behind = await migrations_pending(svc.db)
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return JSONResponse({"status": "unavailable", "upstreams": upstreams}, status_code=503)
        if behind:
            return JSONResponse({"status": "migrations pending", "upstreams": upstreams}, status_code=503)
        return JSONResponse({"status": "ok", "upstreams": upstreams})

    routes: list[Any] = [
        # Every method reaches the view, which answers any but GET and POST with a JSON 405 (else the web page's
        # catch-all Mount below answered PUT /graphql with its HTML 404).
        Route("/graphql", graphql, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        WebSocketRoute("/graphql", graphql),  # subscriptions (graphql-transport-ws)
        Route("/webhooks/payments", payments_webhook_endpoint(svc), methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if settings.metrics_port is None:  # else it is served on its own port (gateway serve)
        routes.append(Route("/metrics", metrics_endpoint(settings, svc.metrics)))
    if graphql.graphiql_enabled:
        routes.append(Mount(ASSETS_PATH, app=StaticFiles(directory=assets_dir()), name="graphiql"))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if await migrations_pending(svc.db):
            raise RuntimeError("the ledger database is not at the latest migration: run `gateway migrate` first")
        # The status poll catches lost webhooks. Every gateway process may run it: applying is idempotent.
        poller = (
            asyncio.create_task(
                svc.provider_events.run_poller(
                    settings.payments_poll_interval_seconds, settings.payments_poll_min_age_seconds
                )
            )
            if settings.payments_poll_interval_seconds > 0
            else None
        )
        restore_sigterm = drain.install(settings.drain_seconds) if settings.drain_seconds > 0 else lambda: None
        stop_worker = asyncio.Event()
        worker = (
            asyncio.create_task(Worker(svc, interval_seconds=settings.worker_interval_seconds).run(stop_worker))
            if settings.worker_in_process
            else None
        )
        # Everything built so far (modules, the schema, settings, pools) lives as long as the process: frozen out
        # of the collector's generations, a full collection no longer walks it on every request's garbage.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            restore_sigterm()
            if worker is not None:
                stop_worker.set()
                await worker
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            await graphql.rate_limiter.aclose()
            if web_api is not None:
                await web_api.aclose()
            if own_services:
                await svc.aclose()
                process_exiting()

    body_limits = {"/graphql": settings.graphql_max_body_bytes, "/webhooks/payments": settings.webhook_max_body_bytes}

    def body_refused(path: str, body: dict[str, Any], seconds: float) -> None:
        """A 413 of BodyLimit, counted as its route counts what it answers."""
        if path == "/graphql":  # a request that never reached an operation: labelled as the GraphQL view does
            operation, document = operation_labels(None)
            svc.metrics.request(operation, document, 413, seconds, 0)
            svc.metrics.error_codes(body)
        else:
            svc.metrics.webhooks.labels("unknown", "too_large").inc()

    middleware = [
        Middleware(SecurityHeaders),
        Middleware(BodyLimit, limits=body_limits, on_refused=body_refused),
    ]
    if svc.tracer_provider is not None:  # outermost: the request's span is the trace's root
        middleware.insert(0, Middleware(instrument_asgi, provider=svc.tracer_provider))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    # The citizens' web page at / (after every other route): a client of this very app's GraphQL endpoint.
    web_api = mount_web_page(app, settings)
    app.state.services = svc
    app.state.rate_limiter = graphql.rate_limiter
    app.state.graphql = graphql
    return app


def mount_web_page(app: Starlette, settings: Settings) -> Api | None:
    """Mount the web page (``web``) at ``/``, unless it is off or, in production, has no session secret."""
    if not settings.web_enabled or session_secret(settings) is None:
        if settings.web_enabled:
            log.warning("web_page_off", reason="production needs GATEWAY_WEB_SESSION_SECRET")
        return None
    documents = Documents()
    api = Api.remote(settings.web_api_url, documents) if settings.web_api_url else Api.in_process(app, documents)

    def dev_token(cpr: str) -> str:
        return issue_token(settings, citizen_cpr=cpr)

    dev_tokens = dev_token if settings.is_development and settings.signing_secret is not None else None
    app.router.routes.append(Mount("/", app=create_web_app(settings, api, dev_tokens=dev_tokens)))
    return api
