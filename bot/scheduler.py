"""The scheduler: APScheduler 3's AsyncIOScheduler on the bot's own event loop, as a Service.

Why it is safe with several bot processes on one database: each process keeps its schedule in
memory (no shared APScheduler job store: two schedulers on one store run jobs twice), fires at
epoch-aligned instants, and every run first claims its slot through the store (core.jobs). Why a
job never overlaps itself: `max_instances=1` in this process, and a deadline at 80% of the interval
that long jobs honour, so the next slot's run (maybe in another process) starts after it ended.
A failing job is logged with its name and runs again at its next slot; the scheduler keeps going.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.wiring import Core
from config import Settings
from core.errors import BotError
from core.jobs import (
    JobOptions,
    JobResult,
    Jobs,
    RunClaimer,
    ScheduledJob,
    job_specs,
    run_key,
    run_slot,
)
from core.memory.vectors.postgres_personal import PersonalIndexes
from core.memory.vectors.postgres_purge import VectorPurge

log = logging.getLogger(__name__)

# Every process aligns its interval triggers on this instant, so they fire together and agree on slots.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEADLINE_FRACTION = 0.8
SCHEDULER_STOP_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run this process made (kept for tests and diagnostics; the last 200)."""

    name: str
    slot: int
    started_at: datetime
    seconds: float
    result: JobResult | None
    error: str | None


def job_options(settings: Settings) -> JobOptions:
    return JobOptions(
        idle_timeout=timedelta(minutes=settings.session_idle_minutes),
        retention=(
            timedelta(days=settings.message_retention_days) if settings.message_retention_days else None
        ),
        retry_max_age=timedelta(hours=settings.memory_retry_max_age_hours),
        merge_similarity=settings.memory_merge_similarity,
    )


def build_jobs(core: Core) -> Jobs:
    settings = core.settings
    return Jobs(
        store=core.store,
        memory=core.memory,
        removals=core.removals,
        clock=core.clock,
        options=job_options(settings),
        specs=job_specs(vector_purge_every=timedelta(minutes=settings.vector_purge_interval_minutes)),
        # Memory on Postgres: the batched rewrite of the vector table (embedded memory purges at once).
        vector_purger=VectorPurge(settings.supabase_db_url) if settings.supabase_db_url else None,
        vector_indexer=(
            PersonalIndexes(settings.supabase_db_url, dims=settings.embedding_dims)
            if settings.supabase_db_url
            else None
        ),
    )


def misfire_grace(every: timedelta) -> int:
    """A run late by up to half its interval still runs (an event loop stalled by a burst); a run
    later than that is skipped, and coalescing folds missed runs into one."""
    return max(1, int(every.total_seconds() / 2))


class SchedulerService:
    """Runs `jobs` on their intervals. start() returns at once; stop() lets running jobs finish
    (they see should_stop() turn true) for up to `stop_timeout` seconds, then cancels them."""

    name = "scheduler"

    def __init__(
        self,
        *,
        jobs: Sequence[ScheduledJob],
        claimer: RunClaimer,
        clock: Callable[[], datetime],
        stop_timeout: float,
    ) -> None:
        self._jobs = list(jobs)
        self._claimer = claimer
        self._clock = clock
        self._stop_timeout = stop_timeout
        self._scheduler: AsyncIOScheduler | None = None
        self._active: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self.runs: deque[JobRun] = deque(maxlen=200)
        self._ran = asyncio.Condition()

    @classmethod
    def for_core(cls, core: Core) -> SchedulerService:
        return cls(
            jobs=build_jobs(core).scheduled(),
            claimer=core.store,
            clock=core.clock,
            # Jobs see should_stop() and end between items; a few seconds is plenty, and the
            # platform's kill timer is already running (SIGTERM -> SIGKILL, 30 s on Heroku).
            stop_timeout=min(core.settings.shutdown_grace_seconds, SCHEDULER_STOP_SECONDS),
        )

    def next_run_times(self) -> dict[str, datetime | None]:
        if self._scheduler is None:
            return {}
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    async def start(self) -> None:
        scheduler = AsyncIOScheduler(timezone=UTC)
        for job in self._jobs:
            every = job.spec.every
            scheduler.add_job(
                self._fire_scheduled,
                IntervalTrigger(seconds=every.total_seconds(), start_date=EPOCH, timezone=UTC),
                args=[job],
                id=job.spec.name,
                name=job.spec.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=misfire_grace(every),
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler started jobs=%s", ",".join(j.spec.name for j in self._jobs))

    async def _fire_scheduled(self, job: ScheduledJob) -> None:
        await self.fire(job.spec.name)

    async def fire(self, name: str) -> asyncio.Task[None] | None:
        """What one trigger of job `name` does, now: claim this slot's run (skip if another
        process or an earlier trigger has it), then start the run as a task of ours and return it
        (None when skipped). APScheduler calls this at every interval boundary; `wait_for_runs`
        and `idle` tell when runs have ended.

        The run is our task, not APScheduler's, so its shutdown (which cancels its futures) cannot
        cut a job in half: stop() decides. Hence also our own no-overlap check: APScheduler's
        max_instances only sees this short call."""
        job = next((j for j in self._jobs if j.spec.name == name), None)
        if job is None:
            raise KeyError(f"no job called {name!r}")
        if self._stopping:
            return None
        active = self._active.get(name)
        if active is not None and not active.done():
            log.warning("job still running, skipping this run job=%s", name)
            return None
        now = self._clock()
        slot = run_slot(now, job.spec.every)
        try:
            claimed = await self._claimer.claim_event(run_key(job.spec.name, slot), now=now)
        except BotError as exc:
            log.warning("job skipped, its run could not be claimed job=%s (%s)", job.spec.name, exc)
            return None
        if not claimed:
            log.debug("job already run elsewhere job=%s slot=%d", job.spec.name, slot)
            return None
        task = asyncio.create_task(self._run(job, slot, now), name=f"job-{job.spec.name}")
        self._active[job.spec.name] = task
        return task

    async def _run(self, job: ScheduledJob, slot: int, started_at: datetime) -> None:
        name = job.spec.name
        begin = time.monotonic()
        deadline = begin + job.spec.every.total_seconds() * DEADLINE_FRACTION

        def should_stop() -> bool:
            return self._stopping or time.monotonic() > deadline

        result: JobResult | None = None
        error: str | None = None
        try:
            result = await job.run(should_stop)
        except BotError as exc:
            error = str(exc)
            log.warning("job failed job=%s (%s)", name, exc)
        except Exception as exc:  # a bug in one job must not take the scheduler down
            error = f"{type(exc).__name__}: {exc}"
            log.exception("job crashed job=%s", name)
        seconds = time.monotonic() - begin
        self.runs.append(JobRun(name, slot, started_at, seconds, result, error))
        async with self._ran:
            self._ran.notify_all()
        if result is not None:
            level = logging.INFO if result.did_something or result.stopped_early else logging.DEBUG
            log.log(level, "job done job=%s took_ms=%d %s", name, seconds * 1000, result.summary())

    async def wait_for_runs(self, name: str, count: int, *, timeout: float) -> list[JobRun]:
        """The runs of job `name` once at least `count` have ended (TimeoutError otherwise)."""

        def ended() -> list[JobRun]:
            return [run for run in self.runs if run.name == name]

        async with asyncio.timeout(timeout), self._ran:
            await self._ran.wait_for(lambda: len(ended()) >= count)
        return ended()

    async def idle(self) -> None:
        """Return once no run of this process is in progress."""
        running = [task for task in self._active.values() if not task.done()]
        if running:
            await asyncio.wait(running)

    async def stop(self) -> None:
        self._stopping = True
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
        running = [task for task in self._active.values() if not task.done()]
        if not running:
            return
        _, pending = await asyncio.wait(running, timeout=self._stop_timeout)
        for task in pending:
            log.warning("job still running at shutdown; cancelling it job=%s", task.get_name())
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task


__all__ = ["JobRun", "SchedulerService", "build_jobs", "job_options", "misfire_grace"]
