"""``gateway dev`` (``make run``): migrate and seed the embedded ledger, start the simulators, print demo
tokens, and serve the gateway with GraphiQL."""

from __future__ import annotations

import asyncio
import sys

from gateway.settings import Settings

DEMO_CITIZEN = "1507804321"
DEMO_CASEWORKER = "cw-1001"


def run_dev(settings: Settings, *, reseed: bool = True) -> int:
    import uvicorn

    from adapters.gaeldst.simulator import create_demo_app
    from adapters.payments.simulator import create_simulator_app as create_payments_app
    from adapters.simserver import ThreadedServer, port_of
    from gateway.app import create_app
    from gateway.auth import issue_token
    from gateway.http_edge import server_options
    from gateway.ledger_admin import migrate_ledger, seed_ledger

    if not settings.is_development:
        print("gateway dev is for development only (GATEWAY_ENVIRONMENT=development)", file=sys.stderr)
        return 2
    asyncio.run(migrate_ledger(settings))
    if reseed:
        asyncio.run(seed_ledger(settings, None))

    try:
        gaeldst = ThreadedServer(create_demo_app(), port=port_of(settings.gaeldst_url)).start()
    except OSError as exc:
        print(f"cannot start the Gældsstyrelsen simulator on {settings.gaeldst_url}: {exc.strerror}", file=sys.stderr)
        return 1
    payments = ThreadedServer(
        create_payments_app(
            webhook_url=f"{settings.public_url}/webhooks/payments",
            webhook_secret=settings.payments_webhook_secret.get_secret_value().encode(),
            public_url=settings.payments_url,
        ),
        port=port_of(settings.payments_url),
    )
    try:
        payments.start()
    except OSError as exc:
        gaeldst.stop()
        print(f"cannot start the payment simulator on {settings.payments_url}: {exc.strerror}", file=sys.stderr)
        return 1

    citizen = issue_token(settings, citizen_cpr=DEMO_CITIZEN)
    caseworker = issue_token(
        settings, caseworker_id=DEMO_CASEWORKER, name="Demo Sagsbehandler", unit="Betalingskontoret"
    )
    reader = issue_token(
        settings, caseworker_id=DEMO_CASEWORKER, name="Demo Sagsbehandler", unit="Betalingskontoret", read_only=True
    )
    base = f"http://{settings.host}:{settings.port}"
    print(
        f"""
Mit betalingsoverblik gateway (development)
  Web page:       {base}/  (sign in as a demo citizen, e.g. Anna Jensen)
  GraphiQL:       {base}/graphql
  Gældsstyrelsen: {gaeldst.url}  (simulator)
  Payments:       {payments.url}  (simulator)
  Worker:         in this process, every 30 s (draws, outcomes, plan endings); `gateway simulate` moves time

Citizen token (Anna Jensen, {DEMO_CITIZEN}):
{citizen}

Caseworker token ({DEMO_CASEWORKER}, reads and acts):
{caseworker}

Read-only caseworker token ({DEMO_CASEWORKER}, dashboards: reads, cannot act):
{reader}

GraphiQL starts with Anna's token in its Headers tab; replace it with the caseworker's to act as cw-1001.
Ctrl+C stops everything.
""",
        flush=True,
    )
    try:
        # The worker runs inside the dev server (production runs `gateway worker` processes).
        app = create_app(
            settings.model_copy(
                update={"graphiql_demo_token": citizen, "worker_in_process": True, "worker_interval_seconds": 30.0}
            )
        )
        # The same server options as `gateway serve` (timeouts, header size, concurrency), quieter.
        options = server_options(settings) | {"log_level": "warning"}
        uvicorn.run(app, host=settings.host, port=settings.port, **options)
    finally:
        payments.stop()
        gaeldst.stop()
    return 0
