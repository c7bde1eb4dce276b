"""Fixtures of the web page's tests: a browser-like client of the gateway's app (cookies kept, redirects not
followed), signed in through the development sign-in page as a real browser would be."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from adapters.ledger.db import Database
from adapters.simserver import free_port
from gateway.auth import issue_token
from gateway.settings import Settings
from tests.conftest import (
    GENEROUS_TIMEOUT_SECONDS,
    Api,
    ThreadedServer,
    http_client,
    ledger_for,
    live_app,
    make_settings,
    reset_gaeldst_sim,
)

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    """An HTTP client that behaves like a browser on this machine (loopback, so the cookie may be non-Secure)."""

    client: httpx.AsyncClient

    async def get(self, path: str, **kwargs: object) -> httpx.Response:
        return await self.client.get(path, **kwargs)  # type: ignore[arg-type]

    async def csrf(self, path: str = "/log-ind") -> str:
        page = await self.client.get(path)
        match = CSRF_RE.search(page.text)
        assert match, page.text
        return match.group(1)

    async def post_form(self, path: str, data: dict[str, object], *, csrf_from: str = "/log-ind") -> httpx.Response:
        token = await self.csrf(csrf_from)
        return await self.client.post(path, data={"csrf_token": token, **data})  # type: ignore[arg-type]

    async def sign_in(self, cpr: str) -> None:
        response = await self.post_form("/log-ind/udvikling", {"cpr": cpr})
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/"


@pytest.fixture
async def browser(api: Api) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=api.app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield Browser(client)


# --- a gateway served over real HTTP, and a real browser ---------------------------------------------------------

CHROMIUM = os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Each page's axe-core result, by page name: {impact: count} (printed at the end of the session).
AXE_RESULTS: dict[str, dict[str, int]] = {}


@dataclass
class Site:
    """The gateway (API and web page) on a real port, with the payment simulator its checkout leads to."""

    url: str
    settings: Settings
    payments: ThreadedServer
    client: httpx.AsyncClient

    async def provider(self, method: str, path: str, json: Any = None) -> Any:
        r = await self.client.request(method, f"{self.payments.url}{path}", json=json)
        assert r.status_code < 400, r.text
        return r.json() if r.content else None

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **who: str) -> dict[str, Any]:
        token = issue_token(self.settings, citizen_cpr=who.get("citizen"), caseworker_id=who.get("caseworker"))
        r = await self.client.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        body: dict[str, Any] = r.json()
        assert "errors" not in body, body
        return body


@pytest.fixture(scope="session")
def _web_server(migrated: str, gaeldst_sim: ThreadedServer, payments_sim: ThreadedServer) -> Iterator[Site]:
    """One gateway per database for the whole session (the browser tests reseed the ledger between tests)."""
    port = free_port()
    settings = make_settings(
        migrated,
        gaeldst_sim.url,
        payments_url=payments_sim.url,
        payments_webhook_secret="test-webhook-secret",
        payments_poll_interval_seconds=0,  # state changes arrive by webhook
        public_url=f"http://127.0.0.1:{port}",  # the provider sends the browser back here
        rate_limit_enabled=False,  # one citizen clicks through many pages in a few seconds
    )
    server = ThreadedServer(live_app(settings), port=port).start()
    try:
        yield Site(server.url, settings, payments_sim, httpx.AsyncClient())
    finally:
        server.stop()


@pytest.fixture
async def site(
    _web_server: Site,
    migrated: str,
    _live_db: Database,
    gaeldst_sim: ThreadedServer,
    gaeldst_admin_http: httpx.AsyncClient,
) -> AsyncIterator[Site]:
    await ledger_for(migrated).prepare(_live_db)
    await reset_gaeldst_sim(gaeldst_sim, gaeldst_admin_http)
    async with http_client(timeout=GENEROUS_TIMEOUT_SECONDS) as client:
        s = Site(_web_server.url, _web_server.settings, _web_server.payments, client)
        await s.provider("POST", "/admin/reset")
        await s.provider("POST", "/admin/config", {"webhookUrl": f"{s.url}/webhooks/payments"})
        yield s


BROWSER_REQUIRED = os.environ.get("GATEWAY_TEST_BROWSER_REQUIRED") == "1"


def _no_browser(reason: str) -> NoReturn:
    """Skip with the reason, except in CI (``.ci/run`` installs the browsers), where it fails."""
    if BROWSER_REQUIRED:
        pytest.fail(f"browser tests cannot run: {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium, driven by Playwright (its own browser downloads are never used)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _no_browser("Playwright for Python is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        _no_browser(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.async_api import expect

    expect.set_options(timeout=20_000)  # a busy machine: generous waits for conditions, never a sleep
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def browser_page(chromium: Any, site: Site, *, javascript: bool) -> AsyncIterator[Any]:
    """A new browser context (no cookies) and page on the session's one browser."""
    context = await chromium.new_context(base_url=site.url, locale="da-DK", java_script_enabled=javascript)
    context.set_default_timeout(20_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture
async def page(chromium: Any, site: Site) -> AsyncIterator[Any]:
    """A page for each test, with JavaScript on: axe-core runs in the page. The page's one script is the payment
    page's live status (``static/live.js``); every form and link works without it."""
    async with browser_page(chromium, site, javascript=True) as page:
        yield page


@pytest.fixture
async def page_without_javascript(chromium: Any, site: Site) -> AsyncIterator[Any]:
    """A page with JavaScript off (no axe-core: it needs JavaScript, and Playwright waits for it for ever)."""
    async with browser_page(chromium, site, javascript=False) as page:
        yield page


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_databases: a browser journey that runs on PostgreSQL too (the others run on SQLite only)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The browser journeys run on SQLite; those marked ``both_databases`` on PostgreSQL too. The page is a client
    of the API, whose own tests run every database test on both; a browser costs seconds per journey."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgres"
        in_browser = bool({"chromium", "firefox"} & set(getattr(item, "fixturenames", ())))
        if on_postgres and in_browser and item.get_closest_marker("both_databases") is None:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if AXE_RESULTS:
        terminalreporter.write_line("axe-core, violations per page (impact: count):")
        for name, counts in sorted(AXE_RESULTS.items()):
            summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
            terminalreporter.write_line(f"  {name}: {summary}")


async def axe_check(page: Any, name: str) -> dict[str, int]:
    """axe-core (bundled by axe-playwright-python) on the page as it is now: records the violations by impact
    and fails on any serious or critical one."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    violations = results.response["violations"]
    counts: dict[str, int] = {}
    for violation in violations:
        counts[violation["impact"]] = counts.get(violation["impact"], 0) + 1
    previous = AXE_RESULTS.get(name, {})
    AXE_RESULTS[name] = {k: max(previous.get(k, 0), counts.get(k, 0)) for k in previous.keys() | counts.keys()}
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes'][0]['target']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: " + "; ".join(bad)
    return counts
