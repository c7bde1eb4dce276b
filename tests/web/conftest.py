"""Fixtures of the web page's tests: a browser-like client of the gateway's app (cookies kept, redirects not
followed), signed in through the development sign-in page as a real browser would be."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import Api

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
