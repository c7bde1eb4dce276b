"""The ASGI application: built by ``create_app`` from explicit settings (no hidden globals).

Request flow: Starlette -> auth (a Viewer) -> Strawberry -> resolvers -> DataLoaders -> adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
import structlog
from cross_web import HTTPException as CrossWebHTTPException
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult

from adapters.gaeldst.client import GaeldstClient, GaeldstConfig
from adapters.ledger.db import Database
from adapters.ledger.migrate import pending as migrations_pending
from adapters.ledger.queries import citizen_version
from adapters.payments.client import PaymentsClient
from adapters.payments.webhooks import SIGNATURE_HEADER
from gateway.auth import AuthError, CitizenViewer, TokenVerifier
from gateway.domain.clock import today
from gateway.domain.errors import ErrorCode
from gateway.domain.i18n import Language, negotiate, translate
from gateway.logging import configure_logging
from gateway.response_cache import ResponseCache, request_parts
from gateway.settings import Settings
from gateway.usecases.payments import PayFlow
from resolvers.context import Context
from resolvers.loaders import Loaders
from resolvers.schema import build_schema, format_error

log = structlog.get_logger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
GRAPHIQL_ASSETS = "graphene_django_graphiql_static"


@dataclass
class Services:
    """Everything a request may use, created once per process in the lifespan."""

    settings: Settings
    db: Database
    gaeldst: GaeldstClient
    payments: PaymentsClient
    payflow: PayFlow
    verifier: TokenVerifier

    async def aclose(self) -> None:
        await self.gaeldst.aclose()
        await self.payments.aclose()
        await self.db.dispose()


def gaeldst_config(settings: Settings) -> GaeldstConfig:
    cert = (
        (settings.gaeldst_client_cert, settings.gaeldst_client_key or settings.gaeldst_client_cert)
        if settings.gaeldst_client_cert
        else None
    )
    return GaeldstConfig(
        base_url=settings.gaeldst_url,
        timeout_seconds=settings.gaeldst_timeout_seconds,
        connect_timeout=settings.gaeldst_connect_timeout_seconds,
        max_retries=settings.gaeldst_max_retries,
        cache_ttl_seconds=settings.gaeldst_cache_ttl_seconds,
        breaker_threshold=settings.gaeldst_breaker_threshold,
        breaker_ttl_seconds=settings.gaeldst_breaker_ttl_seconds,
        bearer_token=settings.gaeldst_token.get_secret_value() if settings.gaeldst_token else None,
        client_cert=cert,
        ca_bundle=settings.gaeldst_ca_bundle,
    )


def build_services(settings: Settings) -> Services:
    db = Database(settings.database_url, pool_size=settings.database_pool_size)
    payments = PaymentsClient(
        settings.payments_url,
        api_key=settings.payments_api_key.get_secret_value() if settings.payments_api_key else None,
        timeout=settings.payments_timeout_seconds,
    )
    return Services(
        settings=settings,
        db=db,
        gaeldst=GaeldstClient(gaeldst_config(settings)),
        payments=payments,
        payflow=PayFlow(
            db=db,
            provider=payments,
            webhook_secret=settings.payments_webhook_secret.get_secret_value().encode(),
            public_url=settings.public_url,
        ),
        verifier=TokenVerifier(settings),
    )


def _error_body(code: ErrorCode, key: str, language: Language, **params: object) -> dict[str, Any]:
    return {
        "data": None,
        "errors": [{"message": translate(key, language, **params), "extensions": {"code": code.value}}],
    }


class GatewayGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, error format, JSON encoder and request-level errors."""

    def __init__(self, services: Services) -> None:
        super().__init__(
            build_schema(max_depth=services.settings.max_query_depth),
            graphql_ide=None,
            allow_queries_via_get=False,  # a CPR in a query argument must never end up in a URL
        )
        self.services = services
        settings = services.settings
        self.cache = (
            ResponseCache(settings.response_cache_ttl_seconds, settings.response_cache_max_bytes)
            if settings.response_cache_ttl_seconds > 0
            else None
        )
        self.graphiql_page = _graphiql_page(services.settings) if services.settings.graphiql_enabled else None

    async def get_context(self, request: Any, response: Any) -> Context:
        state = request.state
        loaders = Loaders(self.services.db)
        citizen = getattr(state, "citizen_row", None)
        if citizen is not None:  # read for the response cache already: no second query for `me`
            loaders.citizen_by_cpr.prime(citizen.cpr, citizen)
        return Context(
            services=self.services,
            viewer=state.viewer,
            language=state.language,
            request_id=state.request_id,
            loaders=loaders,
        )

    async def process_result(self, request: Any, result: ExecutionResult) -> Any:
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [format_error(e, request.state.language) for e in result.errors]
        if result.extensions:
            body["extensions"] = result.extensions
        return body

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.respond(request)
        response.headers["X-Request-ID"] = request.state.request_id
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        language = negotiate(request.headers.get("accept-language"))
        rid = request.headers.get("x-request-id", "")
        request_id = rid if _REQUEST_ID.match(rid) else uuid.uuid4().hex
        request.state.language, request.state.request_id = language, request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        if request.method == "GET" and self.graphiql_page and "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(self.graphiql_page)
        if request.method != "POST":
            body = _error_body(ErrorCode.BAD_USER_INPUT, "BAD_REQUEST", language, detail="use POST")
            return JSONResponse(body, status_code=405, headers={"Allow": "POST"})
        try:
            request.state.viewer = await self.services.verifier.verify(request.headers.get("authorization"))
        except AuthError as exc:
            log.info("auth.rejected", reason=str(exc))
            body = _error_body(ErrorCode.UNAUTHENTICATED, "TOKEN_INVALID", language)
            return Response(
                orjson.dumps(body),
                media_type="application/json",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        cache_key = await self._cache_key(request)
        if cache_key is not None and (cached := self.cache.get(cache_key)) is not None:  # type: ignore[union-attr]
            return Response(cached, media_type="application/json", headers={"X-Cache": "hit"})
        try:
            response = await self.run(request)
        except (HTTPException, CrossWebHTTPException) as exc:
            # Strawberry's request-level errors (bad JSON, no query, …) as a JSON error with a code.
            detail = getattr(exc, "detail", None) or getattr(exc, "reason", "") or "bad request"
            status = getattr(exc, "status_code", 400)
            body = _error_body(ErrorCode.BAD_USER_INPUT, "BAD_REQUEST", language, detail=detail)
            return JSONResponse(body, status_code=status)
        if cache_key is not None and response.status_code == 200 and b'"errors":' not in response.body:
            self.cache.put(cache_key, bytes(response.body))  # type: ignore[union-attr]
            response.headers["X-Cache"] = "miss"
        return response

    async def _cache_key(self, request: Request) -> tuple[Any, ...] | None:
        viewer = request.state.viewer
        if self.cache is None or not isinstance(viewer, CitizenViewer):
            return None
        parts = request_parts(await request.body())
        if parts is None:
            return None
        async with self.services.db.read() as conn:
            citizen = await citizen_version(conn, viewer.cpr.value)
        if citizen is None:
            return None
        request.state.citizen_row = citizen
        return ResponseCache.key(citizen, today(), request.state.language, parts)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or (services.settings if services else Settings())
    configure_logging(settings.log_level, settings.log_json)
    own_services = services is None
    svc = services or build_services(settings)
    graphql = GatewayGraphQL(svc)
    graphiql_page = graphql.graphiql_page

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            async with svc.db.read() as conn:
                await conn.exec_driver_sql("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def payments_webhook(request: Request) -> Response:
        """Signed state changes from the payment provider (HMAC-SHA256 over the raw body)."""
        body = await request.body()
        status, answer = await svc.payflow.handle_webhook(body, request.headers.get(SIGNATURE_HEADER, ""))
        return JSONResponse(answer, status_code=status)

    routes: list[Any] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/webhooks/payments", payments_webhook, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if graphiql_page is not None:
        routes.append(Mount("/graphiql-assets", app=StaticFiles(directory=_graphiql_assets_dir()), name="graphiql"))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if await migrations_pending(svc.db):
            raise RuntimeError("the ledger database is not at the latest migration: run `gateway migrate` first")
        # The status poll catches lost webhooks. Every gateway process may run it: applying is idempotent.
        poller = (
            asyncio.create_task(
                svc.payflow.run_poller(settings.payments_poll_interval_seconds, settings.payments_poll_min_age_seconds)
            )
            if settings.payments_poll_interval_seconds > 0
            else None
        )
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            if own_services:
                await svc.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.services = svc
    return app


def _graphiql_assets_dir() -> Path:
    return Path(str(files(GRAPHIQL_ASSETS) / "static" / GRAPHIQL_ASSETS))


DEFAULT_QUERY = """# Mit betalingsoverblik: a citizen's overview (R1, R2). The Headers tab holds the bearer token.
query Overview {
  me {
    cpr
    name
    totalOutstanding { formatted }
    claims(first: 20) {
      totalCount
      nodes {
        reference
        title
        outstanding { amount formatted }
        collection { status marker }
        sender { name contact { phone email } }
        statement { lines { postedOn kind text amount { formatted } balanceAfter { formatted } } }
      }
    }
    notices { code message }
  }
}
"""


def _default_headers(settings: Settings) -> str:
    # `gateway dev` pre-fills the demo citizen's token so the overview runs at once; otherwise no header
    # (the schema can be explored without a token).
    if settings.graphiql_demo_token:
        return json.dumps({"Authorization": f"Bearer {settings.graphiql_demo_token}"}, indent=2)
    return "{}"


def _graphiql_page(settings: Settings) -> str:
    template = (files("gateway") / "static" / "graphiql.html").read_text(encoding="utf-8")
    return (
        template.replace("__STATIC__", "/graphiql-assets")
        .replace("__DEFAULT_QUERY__", json.dumps(DEFAULT_QUERY))
        .replace("__DEFAULT_HEADERS__", json.dumps(_default_headers(settings)))
    )
