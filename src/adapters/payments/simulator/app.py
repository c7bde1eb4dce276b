"""Assemble the simulator app (routes, state, lifespan) and run it from the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Final

from starlette.applications import Starlette
from starlette.routing import Route

from adapters.payments.simulator import admin, api, pages
from adapters.payments.simulator.state import SimulatorState
from adapters.payments.simulator.web import endpoint

DEFAULT_WEBHOOK_SECRET: Final = b"dev-webhook-secret"


def create_simulator_app(
    *,
    webhook_url: str | None = None,
    webhook_secret: bytes = DEFAULT_WEBHOOK_SECRET,
    public_url: str | None = None,
    api_key: str | None = None,
) -> Starlette:
    """Build a fresh simulator. ``public_url`` (default: the request's own base URL) prefixes the
    checkout and confirmation links; ``api_key``, if given, is required as ``Authorization: Bearer``
    on ``/v1``."""
    routes = [
        Route(path, endpoint(f"{method} {path}", handler, provider_api=module is api), methods=[method])
        for module in (api, pages, admin)
        for method, path, handler in module.ROUTES
    ]
    sim = SimulatorState(webhook_url=webhook_url, webhook_secret=webhook_secret, public_url=public_url, api_key=api_key)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sim.bind_loop(asyncio.get_running_loop())  # webhooks emitted from other threads are delivered here
        try:
            yield
        finally:
            await sim.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sim = sim
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Payment provider simulator (MobilePay, card, Betalingsservice)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--webhook-url", default=None, help="where to POST signed webhooks")
    parser.add_argument("--public-url", default=None, help="base URL browsers use to reach the simulator")
    parser.add_argument("--api-key", default=None, help="require this bearer token on /v1")
    args = parser.parse_args(argv)
    secret = os.environ.get("PAYMENTS_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET.decode()).encode()
    app = create_simulator_app(
        webhook_url=args.webhook_url, webhook_secret=secret, public_url=args.public_url, api_key=args.api_key
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
