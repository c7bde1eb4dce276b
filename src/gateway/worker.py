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
from collections.abc import Callable

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from gateway.domain.clock import utcnow
from gateway.services import Services

log = structlog.get_logger(__name__)


class Worker:
    def __init__(self, services: Services, *, interval_seconds: float) -> None:
        self.services = services
        self.interval_seconds = interval_seconds
        self._running = asyncio.Lock()  # held while a job runs: shutdown waits for it

    async def sweep(self) -> None:
        async with self._running:
            try:
                report = await self.services.draws.sweep()
                polled = await self.services.provider_events.poll_once(
                    min_age_seconds=self.services.settings.payments_poll_min_age_seconds
                )
            except Exception:  # a sweep must never kill the worker; the next run tries again
                log.exception("worker.sweep_failed")
                return
            log.info("worker.sweep", polled=polled, **{k: v for k, v in vars(report).items() if v})

    async def run(self, stop: asyncio.Event) -> None:
        scheduler = AsyncIOScheduler(job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None})
        scheduler.add_job(self.sweep, "interval", seconds=self.interval_seconds, next_run_time=utcnow())
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
