"""The citizens' web page "Mit betalingsoverblik": server-rendered pages (Jinja2) that work without JavaScript,
in Danish (English by a switch), on the public GraphQL API only (``web.api``).

``create_web_app`` builds a Starlette app that the gateway's app mounts at ``/`` (docs/web.md).
"""

from __future__ import annotations

import collections
import functools
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import jwt
import structlog
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.settings import Settings
from web import i18n, oidc, pages, session
from web.api import Api, ApiError, Result, SignedOut, set_client_address

log = structlog.get_logger(__name__)

# Mints a development token for a demo citizen's CPR (``gateway.auth.issue_token``); None outside development.
DevTokens = Callable[[str], str]
Handler = Callable[[Request], Awaitable[Response]]

# The demo ledger's citizens (``gateway seed``; README, "Demo data"), offered by the development sign-in page.
DEMO_CITIZENS: Final = (
    ("1507804321", "Anna Jensen"),
    ("2203651122", "Bo Nielsen"),
    ("0311922345", "Camilla Hansen"),
    ("1010005678", "David Larsen"),
)


class PageHeaders:
    """Every page is personal and server-rendered: never stored by a cache, and a Content-Security-Policy that
    allows only the gateway's own stylesheet and script. Forms may lead to the payment provider's checkout
    (a redirect after our own form), so ``form-action`` allows it."""

    def __init__(self, app: ASGIApp, form_targets: str) -> None:
        self.app = app
        self.csp = (
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
            f"form-action 'self' {form_targets}; base-uri 'none'; frame-ancestors 'none'"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("client"):
            set_client_address(tuple(scope["client"]))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Cache-Control"] = "no-store"
                    headers["Content-Security-Policy"] = self.csp
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class WebApp:
    """The page's routes, with what they share: settings, the API client, templates."""

    def __init__(self, settings: Settings, api: Api, dev_tokens: DevTokens | None, secret: str) -> None:
        self.settings = settings
        self.api = api
        # Open live status streams by session (a hash of its CSRF secret), in this process
        # (pages.payment_status_events).
        self.live_streams: collections.Counter[str] = collections.Counter()
        self.dev_tokens = dev_tokens
        config = oidc.OidcConfig.from_settings(settings)
        self.oidc = oidc.OidcSignIn(config, secret, self.sign_in_failed) if config is not None else None
        env = Environment(loader=PackageLoader("web", "templates"), autoescape=select_autoescape(), auto_reload=False)
        self.templates = Jinja2Templates(env=env)

    # --- rendering ------------------------------------------------------------------------------------------

    def render(
        self, request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
    ) -> Response:
        return self.templates.TemplateResponse(request, template, self.context(request, context), status_code=status)

    def render_fragment(self, request: Request, template: str, context: dict[str, Any]) -> str:
        """A part of a page (e.g. the payment's status notice), rendered as the page renders it."""
        return self.templates.get_template(template).render(self.context(request, context))

    def context(self, request: Request, context: dict[str, Any] | None = None) -> dict[str, Any]:
        lang = i18n.language_of(request)
        s = session.current(request)
        ctx: dict[str, Any] = {
            "_": i18n.translator(lang),
            "lang": lang,
            "session": s,
            "csrf_field": session.CSRF_FIELD,
            "path": request.url.path,
            "query": request.url.query,
            "fmt_date": lambda v: i18n.fmt_date(v, lang),
            "fmt_datetime": lambda v: i18n.fmt_datetime(v, lang),
            "fmt_money": lambda v: i18n.fmt_money(v, lang),
            "fmt_weekday": lambda v: i18n.fmt_weekday(v, lang),
            "fmt_oere": lambda v: i18n.fmt_oere(v, lang),
            "label": lambda kind, value: i18n.label(kind, value, lang),
            "errors": {},
            # A new idempotency key for the forms of this page (``pages.new_key``): a double submit does it once.
            "key": pages.new_key(),
            "fmt_cpr": i18n.fmt_cpr,
            "dev_signin": self.dev_tokens is not None,
            "oidc_enabled": self.oidc is not None,
        }
        ctx.update(context or {})
        return ctx

    async def query(self, request: Request, operation: str, variables: dict[str, Any] | None = None) -> Result:
        s = session.current(request)
        return await self.api.run(operation, variables, token=s.token, language=i18n.language_of(request))

    # --- pages ----------------------------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        result = await self.query(request, "WebOverview")
        me = result.data["me"]
        claims = me["claims"]["nodes"]
        return self.render(
            request,
            "overview.html",
            {
                "me": me,
                "claims": claims,
                "any_at_collection": any(c["collection"]["marker"] for c in claims),
                "collection_unknown": "UPSTREAM_UNAVAILABLE" in result.codes(),
            },
        )

    async def sign_in_page(self, request: Request) -> Response:
        message = {"udloebet": "Din session er udløbet. Log ind igen.", "logget-ud": "Du er logget ud."}.get(
            request.query_params.get("besked", "")
        )
        target = session.safe_next(request.query_params.get(session.NEXT_FIELD))
        context = {"demo_citizens": DEMO_CITIZENS, "message": message, "next": target}
        return self.render(request, "sign_in.html", context)

    def sign_in_failed(self, request: Request, message: str, detail: str | None, status: int) -> Response:
        """The OpenID Connect sign-in went wrong (``web.oidc``): what happened, in words, and a way to try again."""
        return self.render(request, "sign_in_failed.html", {"message": message, "detail": detail}, status=status)

    async def dev_sign_in(self, request: Request) -> Response:
        if self.dev_tokens is None:
            raise HTTPException(404)
        form = await request.form()
        cpr = form.get("cpr")
        names = dict(DEMO_CITIZENS)
        target = session.safe_next(form.get(session.NEXT_FIELD))
        if not isinstance(cpr, str) or cpr not in names:
            return self.render(
                request,
                "sign_in.html",
                {"demo_citizens": DEMO_CITIZENS, "errors": {"cpr": "Vælg en demoborger"}, "next": target},
                status=400,
            )
        token = self.dev_tokens(cpr)
        # The expiry only decides when the session ends; the API verifies the token itself on every request.
        expires_at = int(jwt.decode(token, options={"verify_signature": False})["exp"])
        session.begin(request, token, expires_at, names[cpr])
        return RedirectResponse(target, status_code=303)

    async def sign_out(self, request: Request) -> Response:
        session.end(request)
        return RedirectResponse("/log-ind?besked=logget-ud", status_code=303)

    async def switch_language(self, request: Request) -> Response:
        lang = request.path_params["lang"]
        if lang not in i18n.LANGUAGES:
            raise HTTPException(404)
        response = RedirectResponse(session.safe_next(request.query_params.get("naeste")), status_code=303)
        response.set_cookie(
            i18n.COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=session.cookie_secure(request),
        )
        return response


def _sign_in_first(request: Request, *, expired: bool, come_back: bool) -> Response:
    """To the sign-in page; a page asked for by a link (e.g. a payment link, ``/betal?krav=…``) is where the
    citizen comes back to after signing in."""
    query: dict[str, str] = {"besked": "udloebet"} if expired else {}
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if come_back and request.method == "GET" and here != "/" and session.safe_next(here) == here:
        query[session.NEXT_FIELD] = here
    return RedirectResponse("/log-ind" + (f"?{urlencode(query)}" if query else ""), status_code=303)


def _guarded(web: WebApp, handler: Handler, *, signed_in: bool = True, come_back: bool = True) -> Handler:
    """What every route shares: the sign-in requirement, CSRF on every POST, and the API's refusal of the token
    (the session is over)."""

    async def route(request: Request) -> Response:
        s = session.current(request)
        if request.method == "POST":
            form = await request.form()
            if not session.csrf_ok(request, form.get(session.CSRF_FIELD)):
                return web.render(request, "csrf.html", status=403)
        if signed_in and not s.signed_in:
            return _sign_in_first(request, expired=s.expired, come_back=come_back)
        try:
            return await handler(request)
        except SignedOut:
            session.end(request)
            return _sign_in_first(request, expired=True, come_back=come_back)
        except ApiError as exc:
            if exc.code == "RATE_LIMITED":
                return web.render(request, "error.html", {"rate_limited": True}, status=429)
            log.warning("web_api_error", code=exc.code, path=request.url.path)
            return web.render(request, "error.html", status=502)

    return route


def session_secret(settings: Settings) -> str | None:
    """The session cookie's secret: configured, or in development derived from the development signing key."""
    if settings.web_session_secret is not None:
        return settings.web_session_secret.get_secret_value()
    if settings.is_development and settings.signing_secret is not None:
        return hashlib.sha256(b"web-session:" + settings.signing_secret.encode()).hexdigest()
    return None


def create_web_app(settings: Settings, api: Api, *, dev_tokens: DevTokens | None = None) -> Starlette:
    """The web page. ``dev_tokens`` (development only) enables the demo citizens' sign-in page."""
    secret = session_secret(settings)
    if secret is None:
        raise RuntimeError("the web page needs GATEWAY_WEB_SESSION_SECRET in production")
    web = WebApp(settings, api, dev_tokens if settings.is_development else None, secret)

    def page(
        path: str,
        handler: Handler,
        *,
        methods: tuple[str, ...] = ("GET",),
        signed_in: bool = True,
        come_back: bool = True,
    ) -> Route:
        guarded = _guarded(web, handler, signed_in=signed_in, come_back=come_back)
        return Route(path, guarded, methods=list(methods))

    def journey(handler: Callable[[WebApp, Request], Awaitable[Response]]) -> Handler:
        return functools.partial(handler, web)

    routes: list[Any] = [
        page("/", web.overview),
        page("/betal", journey(pages.pay_page)),
        page("/betal", journey(pages.start_payment), methods=("POST",)),
        page("/betaling/retur", journey(pages.payment_return)),
        page("/betalinger", journey(pages.payments_page)),
        page("/betalinger/{id}", journey(pages.payment_page)),
        # The live status is the page's script's, not a page to come back to after signing in.
        page("/betalinger/{id}/status", journey(pages.payment_status_events), come_back=False),
        page("/afdragsordning", journey(pages.plan_page)),
        page("/afdragsordning", journey(pages.create_plan), methods=("POST",)),
        page("/afdragsordninger", journey(pages.plans_page)),
        page("/afdragsordninger/{id}", journey(pages.plan_detail_page)),
        page("/afdragsordninger/{id}/annuller", journey(pages.cancel_plan), methods=("POST",)),
        page("/afdragsordninger/{id}/modtilbud/accepter", journey(pages.accept_counter_offer), methods=("POST",)),
        page("/afdragsordninger/{id}/modtilbud/afvis", journey(pages.decline_counter_offer), methods=("POST",)),
        page("/automatisk-betaling", journey(pages.automatic_page)),
        page("/automatisk-betaling/ny", journey(pages.enrol_page)),
        page("/automatisk-betaling/ny", journey(pages.enrol), methods=("POST",)),
        page("/automatisk-betaling/retur", journey(pages.enrol_return)),
        page("/automatisk-betaling/{id}/stop", journey(pages.stop_automatic), methods=("POST",)),
        page("/beskeder", journey(pages.notices_page)),
        page("/kontakt", journey(pages.contacts_page), signed_in=False),
        page("/indsigt", journey(pages.access_log_page)),
        page("/log-ind", web.sign_in_page, signed_in=False),
        page("/log-ud", web.sign_out, methods=("POST",), signed_in=False),
        Route("/sprog/{lang}", web.switch_language),
        Mount("/static", app=StaticFiles(packages=[("web", "static")]), name="static"),
    ]
    if web.dev_tokens is not None:
        routes.append(page("/log-ind/udvikling", web.dev_sign_in, methods=("POST",), signed_in=False))
    if web.oidc is not None:
        routes.append(page(oidc.START_PATH, web.oidc.start, signed_in=False))
        routes.append(page(oidc.CALLBACK_PATH, web.oidc.callback, signed_in=False))

    async def not_found(request: Request, _: Exception) -> Response:
        return web.render(request, "not_found.html", status=404)

    async def refused(request: Request, exc: Exception) -> Response:
        """A request the page cannot serve, as a page: a refusal of the API's (its message, translated), or one of
        Starlette's (a form with too many fields or files: said in words, not in Starlette's English)."""
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return await not_found(request, exc)
        message = exc.detail if isinstance(exc, pages.Refused) else None
        return web.render(request, "refused.html", {"message": message}, status=exc.status_code)

    cookies = session.SessionCookies(secret, development=settings.is_development)
    middleware = [
        Middleware(PageHeaders, form_targets=f"{_origin(settings.payments_url)} https:"),
        Middleware(session.SessionMiddleware, cookies=cookies),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: refused})
    app.state.web = web
    return app
