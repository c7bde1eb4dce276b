"""The GraphQL endpoint: Strawberry's ASGI view with our auth, response cache, context, error format and JSON.

Request flow: Starlette -> auth (a Viewer) -> response cache (citizens' repeated reads) -> Strawberry ->
resolvers -> use-cases / DataLoaders -> adapters.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
import structlog
from cross_web import HTTPException as CrossWebHTTPException
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult

from adapters.ledger.queries import citizen_version
from gateway.auth import AuthError
from gateway.domain.clock import today
from gateway.domain.errors import ErrorCode
from gateway.domain.i18n import Language, negotiate, translate
from gateway.domain.viewers import CitizenViewer
from gateway.graphiql import graphiql_page
from gateway.response_cache import ResponseCache, request_parts
from gateway.services import Services
from resolvers.context import Context
from resolvers.loaders import Loaders
from resolvers.schema import build_schema, format_error

log = structlog.get_logger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def error_body(code: ErrorCode, key: str, language: Language, **params: object) -> dict[str, Any]:
    return {
        "data": None,
        "errors": [{"message": translate(key, language, **params), "extensions": {"code": code.value}}],
    }


class GatewayGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, error format, JSON encoder and request-level errors."""

    def __init__(self, services: Services) -> None:
        super().__init__(
            build_schema(services.settings),
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
        self.graphiql_page = graphiql_page(services.settings) if services.settings.graphiql_enabled else None

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
            body = error_body(ErrorCode.BAD_USER_INPUT, "BAD_REQUEST", language, detail="use POST")
            return JSONResponse(body, status_code=405, headers={"Allow": "POST"})
        try:
            request.state.viewer = await self.services.verifier.verify(request.headers.get("authorization"))
        except AuthError as exc:
            log.info("auth.rejected", reason=str(exc))
            body = error_body(ErrorCode.UNAUTHENTICATED, "TOKEN_INVALID", language)
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
            body = error_body(ErrorCode.BAD_USER_INPUT, "BAD_REQUEST", language, detail=detail)
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
