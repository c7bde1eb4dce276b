"""``gateway worker``: the time-driven work — draws created and handed to the provider, outcomes applied, the
status poll, plans that complete or lapse, claims that leave plans for collection — on a schedule.

APScheduler runs the jobs (interval, never two runs of a job at once in a process, missed runs coalesced).
Correctness never depends on there being one worker: every job is an idempotent sweep guarded by unique keys
and row locks (``gateway.usecases.draws``), so any number of worker processes may run against one database.
On SIGTERM or SIGINT no new run starts and the running one finishes before the process exits.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from adapters.ledger.backlog import worker_backlog
from gateway.services import Services
from gateway.tracing import tracer

log = structlog.get_logger(__name__)


class Worker:
    def __init__(self, services: Services, *, interval_seconds: float) -> None:
        self.services = services
        self.interval_seconds = interval_seconds
        self._running = asyncio.Lock()  # held while a job runs: shutdown waits for it
        self._tracer = tracer(services.tracer_provider)

    async def sweep(self) -> None:
        async with self._running:
            with self._tracer.start_as_current_span("worker.sweep"):
                await self._sweep()

    async def _sweep(self) -> None:
        metrics = self.services.metrics
        started = time.perf_counter()
        try:
            report = await self.services.draws.sweep()
            polled = await self.services.provider_events.poll_once(
                min_age_seconds=self.services.settings.payments_poll_min_age_seconds
            )
        except Exception:  # a sweep must never kill the worker; the next run tries again
            metrics.sweep_failed(time.perf_counter() - started)
            log.exception("worker.sweep_failed")
            return
        metrics.sweep(report, time.perf_counter() - started, polled)
        log.info("worker.sweep", polled=polled, **{k: v for k, v in vars(report).items() if v})
        try:
            async with self.services.db.read() as conn:
                backlog = await worker_backlog(conn)
        except Exception:  # the gauge waits for the next sweep; the work was done
            log.exception("worker.backlog_failed")
            return
        for kind, count in backlog.items():
            metrics.backlog.labels(kind).set(count)

    async def run(self, stop: asyncio.Event) -> None:
        scheduler = AsyncIOScheduler(job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None})
        # The first sweep now by the scheduler's own (real) clock: the movable one (``gateway.domain.clock``) may be
        # years ahead in a simulation or a test, and the scheduler would wait for that day to come.
        scheduler.add_job(self.sweep, "interval", seconds=self.interval_seconds, next_run_time=datetime.now(UTC))
        scheduler.start()
        log.info("worker.started", interval_seconds=self.interval_seconds)
        try:
            await stop.wait()
        finally:
            scheduler.pause()
            async with self._running:  # the run in progress finishes
                scheduler.shutdown(wait=False)
            log.info("worker.stopped")


def install_stop_signals(stop: asyncio.Event) -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def remove() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)

    return remove


async def run_worker(services: Services) -> None:
    """Run until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    remove = install_stop_signals(stop)
    try:
        await Worker(services, interval_seconds=services.settings.worker_interval_seconds).run(stop)
    finally:
        remove()
        await services.aclose()
