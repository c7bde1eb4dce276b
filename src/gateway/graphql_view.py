"""The GraphQL endpoint: Strawberry's ASGI view with our auth, rate limits, response cache, context, error
format, JSON and media types (application/json, application/graphql-response+json), and subscriptions over
WebSocket (graphql-transport-ws, docs/subscriptions.md).

Request flow: Starlette (body limits, security headers) -> auth (a Viewer) -> rate limit -> trusted documents
(``documentId`` / APQ, the citizens-only setting) -> response cache (citizens' repeated reads) -> Strawberry ->
resolvers -> use-cases / DataLoaders -> adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import structlog
from cross_web import HTTPException as CrossWebHTTPException
from graphql import GraphQLSyntaxError, OperationType
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.async_base_view import AsyncHTTPRequestAdapter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    _OperationStreamClosed as OperationStreamClosed,  # how the handler's own syntax-error path ends an operation
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from adapters.ledger.queries import citizen_version
from gateway.auth import AuthError, token_expiry
from gateway.domain.clock import today
from gateway.domain.cpr import looks_like_cpr, redact
from gateway.domain.errors import ErrorCode
from gateway.domain.i18n import Language, negotiate
from gateway.domain.viewers import Anonymous, CitizenViewer, Viewer
from gateway.graphiql import content_security_policy, graphiql_page
from gateway.http_edge import (
    GRAPHQL_RESPONSE,
    JSON,
    client_request_id,
    error_body,
    new_request_id,
    response_media_type,
)
from gateway.metrics import operation_labels, statements
from gateway.ratelimit import Decision, build_rate_limiter
from gateway.response_cache import ResponseCache, request_parts
from gateway.services import Services
from gateway.tracing import GraphQLOperationSpans
from gateway.trusted_documents import trusted_documents
from gateway.trusted_documents.requests import Refusal, Resolved, requested_id, resolve
from resolvers.compiled import CompiledReads, Fallback, differences
from resolvers.context import Context
from resolvers.limits import LimitsConfig
from resolvers.loaders import Loaders
from resolvers.node import MAX_NODES
from resolvers.schema import build_schema, format_error

log = structlog.get_logger(__name__)

GRAPHQL_RESPONSE_CONTENT_TYPE = f"{GRAPHQL_RESPONSE}; charset=utf-8"
# The request being answered, as ``respond`` resolved it, for Strawberry's parsing (``parse_http_body``) in the
# same task: the request adapter Strawberry hands over does not expose the request's state.
_RESOLVED: ContextVar[Resolved | None] = ContextVar("resolved_graphql_request", default=None)


def with_rate_limit(content: bytes, decision: Decision | None) -> bytes:
    """``extensions.rateLimit`` added to an answer once less than half the burst is left, so a client sees it
    coming before it is refused (the RateLimit-* headers carry it on every answer). Added per response, after
    the response cache: a cached answer never carries an earlier request's count."""
    if decision is None or not decision.running_low:
        return content
    body = orjson.loads(content)
    body.setdefault("extensions", {})["rateLimit"] = decision.extension()
    return orjson.dumps(body)


@dataclass
class ConnectionContext(Context):
    """A WebSocket connection's context: Strawberry makes one per connection and hands it to every subscription on
    it. The viewer is set by ``connection_init``; until then it is anonymous."""

    connection_params: dict[str, object] | None = None  # the connection_init payload (Strawberry sets it)
    header_authorization: str | None = None  # the upgrade request's Authorization header, if any
    client_host: str | None = None
    token_expires_at: float | None = None


def refusal_body(refusal: Refusal, language: Language) -> dict[str, Any]:
    params = {"detail": refusal.detail} if refusal.detail is not None else {}
    return error_body(refusal.code, refusal.message_key, language, **params)


def localize(errors: list[Any] | None, language: Language) -> None:
    """Our error format (a translated message, ``extensions.code``) on errors Strawberry's WebSocket handler sends
    as ``error.formatted``: rewritten in place, so it keeps their class (a syntax error still closes the socket, as
    the protocol asks)."""
    for error in errors or ():
        formatted = format_error(error, language)
        error.message = formatted["message"]
        error.extensions = formatted["extensions"]


class GatewayTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler with our error format, the viewer's rate limit per subscription,
    a coded answer at the subscription limit, and the connection closed when the viewer's token expires."""

    view: GatewayGraphQL
    context: ConnectionContext
    _expiry: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        expires_at = self.context.token_expires_at
        if self.connection_acknowledged and expires_at is not None and self._expiry is None:
            self._expiry = asyncio.create_task(self._close_at(expires_at))

    async def _close_at(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        # The token no longer authorizes anything: its subscriptions end with it (the client signs in again).
        await self.websocket.close(code=4403, reason="Token expired")

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and isinstance(message, dict) and isinstance(message.get("id"), str):
            payload = message.get("payload")
            if isinstance(payload, dict):
                # Trusted documents as over HTTP: by documentId / APQ hash, or (citizens, with the setting) only.
                resolved = resolve(
                    payload,
                    self.context.viewer,
                    self.view.trusted_documents,
                    only_trusted_for_citizens=self.view.services.settings.trusted_documents_only_for_citizens,
                )
                if isinstance(resolved, Refusal):
                    await self._refuse(message["id"], refusal_body(resolved, self.context.language)["errors"])
                    return
                if resolved.query is not None:
                    payload["query"] = resolved.query
            limit = self.max_subscriptions_per_connection
            if limit is not None and message["id"] not in self.operations and len(self.operations) >= limit:
                body = error_body(
                    ErrorCode.BAD_USER_INPUT, "TOO_MANY_SUBSCRIPTIONS", self.context.language, limit=limit
                )
                await self._refuse(message["id"], body["errors"])
                return
            refusal = await self.view.ws_rate_limit(self.context)
            if refusal is not None:
                await self._refuse(message["id"], refusal)
                return
        await super().handle_subscribe(message)

    async def _refuse(self, operation_id: str, errors: list[dict[str, Any]]) -> None:
        """The protocol's ``error`` message for a subscription that is not started."""
        await self.send_message(ErrorMessage(id=operation_id, type="error", payload=errors))  # type: ignore[typeddict-item]

    async def _send_result_stream(self, operation: Any, result_source: Any) -> None:
        try:
            await super()._send_result_stream(operation, self._localized(result_source))
        except GraphQLSyntaxError as error:
            # Our parser cache (and the token limit) parse in an extension hook, where Strawberry does not catch a
            # syntax error; the protocol's answer all the same: close with 4400 and the message (a close reason
            # has at most 123 bytes), masked like any error message: it quotes the document ("found Int '…'").
            reason = redact(error.message).encode()[:120].decode(errors="ignore")
            await self.websocket.close(code=4400, reason=reason)
            self.operations.pop(operation.id, None)
            raise OperationStreamClosed from None

    async def _localized(self, result_source: Any) -> Any:
        async for result in result_source:
            localize(getattr(result, "errors", None), self.context.language)
            yield result

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
        await super().shutdown()


class GatewayGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, error format, JSON encoder and request-level errors."""

    graphql_transport_ws_handler_class = GatewayTransportWS

    def __init__(self, services: Services) -> None:
        provider = services.tracer_provider
        tracing = [] if provider is None else [lambda: GraphQLOperationSpans(tracer_provider=provider)]
        schema = build_schema(services.settings, tracing)
        settings = services.settings
        super().__init__(
            schema,
            graphql_ide=None,
            # GET runs trusted documents named by id only (``respond`` refuses any other GET): a query's text, and
            # so a CPR in a query argument, never ends up in a URL.
            allow_queries_via_get=True,
            # Only the current protocol (the legacy subscriptions-transport-ws is unmaintained); browsers' pages
            # from other origins are refused by Strawberry's Origin check (no allowed_origins).
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.subscriptions_connection_init_timeout_seconds),
            max_subscriptions_per_connection=settings.subscriptions_max_per_connection,
        )
        self.services = services
        self.cache = (
            ResponseCache(settings.response_cache_ttl_seconds, settings.response_cache_max_bytes)
            if settings.response_cache_ttl_seconds > 0
            else None
        )
        self.graphiql_enabled = settings.graphiql_enabled
        self.rate_limiter = build_rate_limiter(settings)
        self.trusted_documents = trusted_documents()
        self.compiled = (
            CompiledReads(schema, settings, LimitsConfig.from_settings(settings, max_ids=MAX_NODES))
            if settings.compiled_reads
            else None
        )
        if self.compiled is not None:  # the trusted queries, compiled once at start-up
            self.compiled.add_all(d.text for d in self.trusted_documents if d.operation_type is OperationType.QUERY)

    async def get_context(self, request: Any, response: Any) -> Context:
        if isinstance(request, WebSocket):
            return ConnectionContext(
                services=self.services,
                viewer=Anonymous(),
                language=negotiate(request.headers.get("accept-language")),
                request_id=new_request_id(),  # the connection's: a caseworker's subscriptions are logged with it
                loaders=Loaders(self.services.db),
                transport="websocket",
                header_authorization=request.headers.get("authorization"),
                client_host=request.client.host if request.client else None,
            )
        # A request the compiled path handed over comes with its context: what it loaded is primed there.
        handed_over = getattr(request.state, "context", None)
        return handed_over if handed_over is not None else self._new_context(request)

    def _new_context(self, request: Any) -> Context:
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

    async def _compiled_response(self, request: Request, params: Mapping[str, Any] | None) -> Response | None:
        """A citizen's trusted query answered by its compiled plan (docs/compiled-reads.md); None: the ordinary
        way, on the context the plan leaves in ``request.state.context`` (its loaded rows primed there)."""
        state = request.state
        viewer, document = state.viewer, state.trusted_document
        if self.compiled is None or document is None or params is None or not isinstance(viewer, CitizenViewer):
            return None
        compiled = self.compiled.plan(document.text)
        if compiled is None:
            return None
        variables, operation_name = params.get("variables"), params.get("operationName")
        if not isinstance(variables, dict | None) or not isinstance(operation_name, str | None):
            return None  # Strawberry's own answer to them
        ctx = self._new_context(request)
        citizen = getattr(state, "citizen_row", None)
        loaded = {"citizen_by_cpr": {viewer.cpr.value: citizen}} if citizen is not None else None
        try:
            body = await self.compiled.execute(compiled, ctx, variables, operation_name, loaded=loaded)
        except Fallback as exc:
            log.debug("compiled.fallback", reason=str(exc))
            state.context = ctx
            return None
        self.services.metrics.error_codes(body)  # as process_result does for Strawberry's answers
        content = orjson.dumps(body)
        response = Response(content, status_code=200, media_type=JSON)
        rate = self.services.settings.compiled_shadow_sample_rate
        if rate > 0 and random.random() < rate:  # noqa: S311 - a sample, not a secret
            response.background = BackgroundTask(self._shadow, request, content, compiled.operation_name)
        return response

    async def _shadow(self, request: Request, compiled: bytes, operation: str | None) -> None:
        """Shadow mode: the same request the ordinary way, after the compiled answer went out; a difference is
        logged with the JSON paths where the answers differ (never a value: no CPR reaches the log)."""
        request.state.context = None
        try:
            ordinary = await self.run(request)
        except Exception:
            log.warning("compiled.shadow_failed", operation=operation, exc_info=True)
            return
        if bytes(ordinary.body) != compiled:
            paths = differences(orjson.loads(compiled), orjson.loads(ordinary.body))
            log.warning("compiled.mismatch", operation=operation, paths=paths[:10])

    async def process_result(self, request: Any, result: ExecutionResult) -> Any:
        state = request.state
        body: dict[str, Any] = {}
        if (
            state.media_type == GRAPHQL_RESPONSE
            and result.data is None
            and result.errors
            and all(e.path is None for e in result.errors)
        ):
            # Nothing was executed (syntax, validation or variable errors): GraphQL over HTTP answers such a
            # request with 400 and no `data` in application/graphql-response+json (application/json keeps 200).
            state.request_error = True
        else:
            body["data"] = result.data
        if result.errors:
            body["errors"] = [format_error(e, state.language) for e in result.errors]
        if result.extensions:
            body["extensions"] = dict(result.extensions)
        self.services.metrics.error_codes(body)
        return body

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Never Strawberry's IDE: ``respond`` serves GraphiQL itself, and a GET that reaches Strawberry is a
        trusted document (which Strawberry would otherwise take for a browser when it accepts ``*/*``)."""
        return False

    def parse_json(self, data: str | bytes) -> Any:
        """Strawberry's JSON parsing, refusing a body (or a GET's ``variables`` / ``extensions``) that is JSON but
        not an object: Strawberry would call ``.get`` on a number, a string or ``null`` and fail with a 500."""
        parsed = super().parse_json(data)
        if not isinstance(parsed, (dict, list)):
            raise CrossWebHTTPException(400, "The body must be a JSON object")
        return parsed

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry's parsing, with the text of the trusted document a request names by id as its query."""
        data = await super().parse_http_body(request)
        resolved = _RESOLVED.get()
        if resolved is not None and resolved.query is not None and isinstance(data, GraphQLRequestData):
            data.query = resolved.query
        return data

    async def on_ws_connect(self, context: Context) -> Any:
        """``connection_init``: the token from its payload (``{"Authorization": "Bearer …"}``, as the HTTP header
        would carry it) or the upgrade request's header, verified like an HTTP request's and rate limited the same
        way. Without a valid one the connection is refused (4403): no subscription is open to anonymous users."""
        assert isinstance(context, ConnectionContext)
        params = context.connection_params or {}
        authorization = params.get("Authorization", params.get("authorization")) or context.header_authorization
        if not isinstance(authorization, str) or not authorization:
            log.info("ws.rejected", reason="no token")
            raise ConnectionRejectionError
        try:
            viewer = await self.services.verifier.verify(authorization)
        except AuthError as exc:
            log.info("ws.rejected", reason=str(exc))
            await self.rate_limiter.check(Anonymous(), context.client_host)  # guessing tokens costs the address
            raise ConnectionRejectionError from None
        context.viewer = viewer
        context.token_expires_at = token_expiry(authorization)
        if await self.ws_rate_limit(context) is not None:
            raise ConnectionRejectionError
        structlog.contextvars.bind_contextvars(request_id=context.request_id)
        return UNSET

    async def ws_rate_limit(self, context: ConnectionContext) -> list[dict[str, Any]] | None:
        """A connection and each subscription take a token from the viewer's bucket, like an HTTP request; the
        error to send when there was none."""
        decision = await self.rate_limiter.check(context.viewer, context.client_host)
        if decision is None or decision.allowed:
            return None
        log.info("ratelimit.refused", kind=context.viewer.kind, retry_after=decision.retry_after, transport="ws")
        body = error_body(ErrorCode.RATE_LIMITED, "RATE_LIMITED", context.language, seconds=decision.retry_after)
        errors: list[dict[str, Any]] = body["errors"]
        errors[0]["extensions"]["rateLimit"] = decision.extension()
        return errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.run(WebSocket(scope, receive=receive, send=send))
            return
        request = Request(scope, receive)
        started = time.perf_counter()
        with statements() as counted:  # every SQL statement this request causes, DataLoaders' included
            response = await self.respond(request)
        if not isinstance(response, HTMLResponse):  # GraphiQL's page is not a GraphQL request
            operation, document = operation_labels(getattr(request.state, "trusted_document", None))
            self.services.metrics.request(
                operation, document, response.status_code, time.perf_counter() - started, counted[0]
            )
        response.headers["X-Request-ID"] = request.state.request_id
        if request.state.client_request_id is not None:
            response.headers["X-Client-Request-ID"] = request.state.client_request_id
        if (decision := request.state.rate_limit) is not None:
            response.headers.update(decision.headers())
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        state = request.state
        state.language = language = negotiate(request.headers.get("accept-language"))
        # The request id is always ours: it is the audit id of the access log a citizen reads. A client's own id
        # is only logged and echoed (X-Client-Request-ID), and only when it is harmless.
        state.request_id = new_request_id()
        state.client_request_id = client_request_id(request.headers.get("x-request-id"))
        state.media_type = response_media_type(request.headers.get("accept"))
        state.rate_limit, state.request_error = None, False
        state.resolved = state.trusted_document = None
        _RESOLVED.set(None)
        structlog.contextvars.bind_contextvars(request_id=state.request_id)
        if state.client_request_id is not None:
            structlog.contextvars.bind_contextvars(client_request_id=state.client_request_id)
        else:
            structlog.contextvars.unbind_contextvars("client_request_id")
        if request.method == "GET" and self.graphiql_enabled and "text/html" in request.headers.get("accept", ""):
            return self._graphiql(request)
        params = await self._params(request)
        if request.method == "GET" and (refused := self._refuse_get(request, params)) is not None:
            return refused
        if request.method not in ("GET", "POST"):
            return self._not_allowed(language)
        try:
            viewer = await self.services.verifier.verify(request.headers.get("authorization"))
        except AuthError as exc:
            log.info("auth.rejected", reason=str(exc))
            # Bad tokens count against the client address, so guessing tokens is rate limited too.
            if (refused := await self._rate_limit(request, Anonymous())) is not None:
                return refused
            body = error_body(ErrorCode.UNAUTHENTICATED, "TOKEN_INVALID", language)
            # application/json keeps HTTP 200 for every GraphQL response; the newer media type says 401.
            status = 401 if state.media_type == GRAPHQL_RESPONSE else 200
            return self._json(request, body, status, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        state.viewer = viewer
        if (refused := await self._rate_limit(request, viewer)) is not None:
            return refused
        if params is not None:
            resolution = resolve(
                params,
                viewer,
                self.trusted_documents,
                only_trusted_for_citizens=self.services.settings.trusted_documents_only_for_citizens,
            )
            if isinstance(resolution, Refusal):
                return self._refusal(request, resolution)
            state.resolved = resolution
            state.trusted_document = resolution.trusted
            _RESOLVED.set(resolution)
        cache_key = await self._cache_key(request, params)
        if cache_key is not None and (cached := self.cache.get(cache_key)) is not None:  # type: ignore[union-attr]
            self.services.metrics.response_cache.labels("hit").inc()
            content = with_rate_limit(cached, state.rate_limit)
            return Response(content, media_type=self._content_type(request), headers={"X-Cache": "hit"})
        if cache_key is not None:
            self.services.metrics.response_cache.labels("miss").inc()
        try:
            response = await self._compiled_response(request, params) or await self.run(request)
        except (HTTPException, CrossWebHTTPException) as exc:
            # Strawberry's request-level errors (bad JSON, no query, …) as a JSON error with a code.
            detail = getattr(exc, "detail", None) or getattr(exc, "reason", "") or "bad request"
            status = getattr(exc, "status_code", 400)
            body = error_body(ErrorCode.BAD_USER_INPUT, "BAD_REQUEST", language, detail=detail)
            return self._json(request, body, status)
        if state.media_type == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE_CONTENT_TYPE
            if state.request_error:
                response.status_code = 400
        if cache_key is not None and response.status_code == 200 and b'"errors":' not in response.body:
            self.cache.put(cache_key, bytes(response.body))  # type: ignore[union-attr]
            response.headers["X-Cache"] = "miss"
        if state.rate_limit is not None and state.rate_limit.running_low:
            response.body = with_rate_limit(bytes(response.body), state.rate_limit)
            response.headers["content-length"] = str(len(response.body))
        return response

    async def _params(self, request: Request) -> dict[str, Any] | None:
        """The request's GraphQL parameters (a JSON body, or a GET's query string), decoded as Strawberry decodes
        them, so that both always see the same request; None when there are none to read (not JSON, bad JSON, a
        batch): Strawberry then refuses the request as it always has."""
        try:
            if request.method == "GET":
                params: Any = self.parse_query_params(request.query_params)
            elif request.method == "POST" and "application/json" in request.headers.get("content-type", ""):
                params = self.decode_json(await request.body())
            else:
                return None
        except (json.JSONDecodeError, CrossWebHTTPException, HTTPException, UnicodeDecodeError):
            return None
        return params if isinstance(params, dict) else None

    def _refuse_get(self, request: Request, params: Mapping[str, Any] | None) -> Response | None:
        """GET runs only a trusted document named by id, only a query (GraphQL over HTTP: a mutation by GET is
        405), and never with anything CPR-shaped in the URL; the answer for any other GET."""
        language = request.state.language
        identifier = requested_id(params) if params is not None and "query" not in params else None
        if identifier is None:
            return self._not_allowed(language)
        if isinstance(identifier, Refusal):
            return None  # ``resolve`` answers it, as for POST
        document = self.trusted_documents.by_id(identifier)
        if document is not None and document.operation_type is not OperationType.QUERY:
            return self._not_allowed(language)
        if looks_like_cpr(request.url.query):
            body = error_body(ErrorCode.BAD_USER_INPUT, "BAD_REQUEST", language, detail="use POST")
            return self._json(request, body, 400)
        return None

    def _not_allowed(self, language: Language) -> Response:
        # Not a GraphQL request we run at all, so no GraphQL media type either: plain application/json.
        body = error_body(ErrorCode.BAD_USER_INPUT, "BAD_REQUEST", language, detail="use POST")
        self.services.metrics.error_codes(body)
        return Response(orjson.dumps(body), status_code=405, media_type=JSON, headers={"Allow": "POST"})

    def _refusal(self, request: Request, refusal: Refusal) -> Response:
        state = request.state
        body = refusal_body(refusal, state.language)
        graphql_response = state.media_type == GRAPHQL_RESPONSE
        log.info("graphql.refused", code=refusal.code.value)
        return self._json(request, body, refusal.graphql_response_status if graphql_response else refusal.json_status)

    def _content_type(self, request: Request) -> str:
        return GRAPHQL_RESPONSE_CONTENT_TYPE if request.state.media_type == GRAPHQL_RESPONSE else JSON

    def _json(
        self, request: Request, body: dict[str, Any], status: int, headers: dict[str, str] | None = None
    ) -> Response:
        """A request-level error in the negotiated media type (application/graphql-response+json has no `data`
        when nothing was executed)."""
        self.services.metrics.error_codes(body)
        if request.state.media_type == GRAPHQL_RESPONSE:
            body = {k: v for k, v in body.items() if k != "data"}
        return Response(orjson.dumps(body), status_code=status, media_type=self._content_type(request), headers=headers)

    async def _rate_limit(self, request: Request, viewer: Viewer) -> Response | None:
        """Take a token from the subject's bucket; the 429 answer when there was none."""
        decision = await self.rate_limiter.check(viewer, request.client.host if request.client else None)
        request.state.rate_limit = decision
        if decision is None or decision.allowed:
            return None
        log.info("ratelimit.refused", kind=viewer.kind, retry_after=decision.retry_after)
        self.services.metrics.rate_limited.labels(viewer.kind).inc()
        body = error_body(ErrorCode.RATE_LIMITED, "RATE_LIMITED", request.state.language, seconds=decision.retry_after)
        body["extensions"] = {"rateLimit": decision.extension()}
        return self._json(request, body, 429, {"Retry-After": str(decision.retry_after)})

    def _graphiql(self, request: Request) -> Response:
        nonce = secrets.token_urlsafe(18)
        client_host = request.client.host if request.client else None
        page = graphiql_page(self.services.settings, nonce=nonce, client_host=client_host)
        return HTMLResponse(
            page,
            headers={
                "Content-Security-Policy": content_security_policy(nonce),
                "Cache-Control": "no-store",  # it may hold a development token
            },
        )

    async def _cache_key(self, request: Request, params: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
        viewer = request.state.viewer
        if self.cache is None or not isinstance(viewer, CitizenViewer) or params is None:
            return None
        resolved: Resolved | None = request.state.resolved
        parts = request_parts(params, resolved.query if resolved is not None else None)
        if parts is None:
            return None
        async with self.services.db.read() as conn:
            citizen = await citizen_version(conn, viewer.cpr.value)
        if citizen is None:
            return None
        request.state.citizen_row = citizen
        return ResponseCache.key(citizen, today(), request.state.language, parts)
