"""``gateway``: serve, migrate, seed, import, token, export-schema, dev (everything for ``make run``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.ledger_admin import migrate_ledger, seed_ledger
from gateway.settings import Settings


def _settings() -> Settings:
    return Settings()


def cmd_serve(args: argparse.Namespace) -> int:
    import os
    import shutil
    import tempfile

    settings = _settings()
    # Timeouts, header size and concurrency from settings (README: what a reverse proxy adds on top).
    host, port = args.host or settings.host, args.port or settings.port
    workers = args.workers
    if workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    if workers > 1 and settings.events == "memory":
        # In-process status events stay in the process that wrote them: a subscriber on another one hears nothing.
        print(
            "warning: subscriptions across --workers need GATEWAY_EVENTS_BACKEND=redis (or a PostgreSQL ledger)",
            file=sys.stderr,
        )
    # Several processes keep their metrics in files of one directory (prometheus-client's multi-process mode),
    # set before prometheus_client is first imported, here and in every worker process (they inherit it).
    made_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        made_dir = tempfile.mkdtemp(prefix="gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made_dir
    try:
        return _serve(settings, host, port, workers)
    finally:
        if made_dir is not None:
            shutil.rmtree(made_dir, ignore_errors=True)


def _serve(settings: Settings, host: str, port: int, workers: int) -> int:
    import uvicorn

    from gateway.app import create_app
    from gateway.http_edge import server_options
    from gateway.metrics import multiprocess_dir, prepare_multiprocess_dir, serve_metrics_port

    if (path := multiprocess_dir()) is not None:
        prepare_multiprocess_dir(path)  # an earlier run's files would be added to this run's counters
    options = server_options(settings, workers=workers)
    if workers == 1:
        app = create_app(settings)
        if settings.metrics_port is not None:
            serve_metrics_port(settings.metrics_host, settings.metrics_port, app.state.services.metrics)
        uvicorn.run(app, host=host, port=port, **options)
        return 0
    # uvicorn's supervisor starts the processes, each building its app from the environment (the factory).
    if settings.metrics_port is not None:
        serve_metrics_port(settings.metrics_host, settings.metrics_port)  # in the supervisor: all processes
    uvicorn.run("gateway.app:create_app", factory=True, host=host, port=port, workers=workers, **options)
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    asyncio.run(migrate_ledger(_settings()))
    print("database is at the latest migration", file=sys.stderr)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    settings = _settings()
    asyncio.run(migrate_ledger(settings))
    print(asyncio.run(seed_ledger(settings, args.citizens)), file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from adapters.ledger.importer import run_import_file

    settings = _settings()
    asyncio.run(migrate_ledger(settings))
    report = asyncio.run(run_import_file(settings.database_url, Path(args.file)))
    if report.problems:
        print(f"import refused: {len(report.problems)} problem(s); nothing was written", file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem.location}: {problem.message}", file=sys.stderr)
        return 1
    print(report.summary(), file=sys.stderr)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from gateway.auth import issue_token
    from gateway.domain.cpr import InvalidCpr

    settings = _settings()
    try:
        token = issue_token(
            settings,
            citizen_cpr=args.citizen,
            caseworker_id=args.caseworker,
            ttl_seconds=args.ttl,
            read_only=args.read_only,
            unit=args.unit,
        )
    except InvalidCpr:
        print("invalid CPR number", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(token)
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from resolvers.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from gateway.devserver import run_dev

    return run_dev(_settings(), reseed=not args.keep_data)


def cmd_worker(args: argparse.Namespace) -> int:
    import os

    # A worker's metrics are its own (served on its port): never mixed into a `gateway serve`'s directory.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from adapters.ledger.migrate import pending
    from gateway.logging import configure_logging
    from gateway.services import build_services
    from gateway.worker import run_worker

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    port = args.metrics_port or settings.worker_metrics_port

    async def main() -> int:
        services = build_services(settings)
        if await pending(services.db):
            await services.aclose()
            print("the ledger database is not at the latest migration: run `gateway migrate` first", file=sys.stderr)
            return 1
        if port is not None:
            from gateway.metrics import serve_metrics_port

            serve_metrics_port(settings.metrics_host, port, services.metrics)
        await run_worker(services)
        return 0

    return asyncio.run(main())


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.logging import configure_logging
    from gateway.simulation import simulate

    settings = _settings()
    if not settings.is_development:
        print("gateway simulate moves time: development only (GATEWAY_ENVIRONMENT=development)", file=sys.stderr)
        return 2
    configure_logging("WARNING", settings.log_json)
    asyncio.run(migrate_ledger(settings))
    print(asyncio.run(simulate(settings, args.months, fail_month=args.fail_month)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="Mit betalingsoverblik GraphQL gateway")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the GraphQL API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (uvicorn's supervisor; default 1)"
    )
    p.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="migrate the ledger database to the latest schema").set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed", help="load the demo citizens (or bulk data with --citizens N)")
    p.add_argument("--citizens", type=int, help="generate N citizens with ~20 claims each (benchmarks)")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("import", help="import citizens, departments, claims and entries from a JSON file")
    p.add_argument("file")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("token", help="print a development token (needs the local signing key)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--citizen", metavar="CPR")
    who.add_argument("--caseworker", metavar="ID")
    p.add_argument("--ttl", type=int, help="lifetime in seconds")
    p.add_argument("--read-only", action="store_true", help="caseworker: the read-only role (no acting)")
    p.add_argument("--unit", help="caseworker: the unit claim (shown in citizens' access logs)")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("export-schema", help="print or write the GraphQL SDL")
    p.add_argument("output", nargs="?", default="-")
    p.set_defaults(func=cmd_export_schema)

    p = sub.add_parser("worker", help="run the time-driven work: draws, outcomes, the poll, plan endings")
    p.add_argument("--metrics-port", type=int, help="serve this worker's /metrics here (GATEWAY_WORKER_METRICS_PORT)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("simulate", help="move the demo ledger's plans through the coming months (development)")
    p.add_argument("--months", type=int, default=12, choices=range(1, 61), metavar="N", help="1-60 (default 12)")
    p.add_argument("--fail-month", type=int, metavar="M", help="in month M, MobilePay charges fail (no money)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("dev", help="migrate, seed, start the simulators and serve (what `make run` does)")
    p.add_argument("--keep-data", action="store_true", help="do not re-seed the demo citizens")
    p.set_defaults(func=cmd_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
