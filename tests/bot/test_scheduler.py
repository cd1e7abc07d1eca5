"""The scheduler service: what one trigger does (claim the slot, run, never overlap), driven by a
clock the test moves; and the real APScheduler on the test's event loop, firing on boundaries."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import JobRun, SchedulerService, misfire_grace
from bot.wiring import build_core
from core.clock import utc_now
from core.errors import StorageError
from core.jobs import DEFAULT_SPECS, JobResult, JobSpec, ScheduledJob, ShouldStop
from core.storage.sqlite import SQLiteStore
from tests.conftest import make_settings
from tests.core.jobs.helpers import FakeClock
from tests.fakes.openai_server import FakeOpenAI

EVERY = timedelta(seconds=0.5)  # exact in binary: slot arithmetic on the fake clock stays exact


class Recorder:
    """Job bodies that record what ran, when, and how many ran at once."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, float]] = []
        self.active = 0
        self.max_active = 0

    def job(self, name: str, *, every: timedelta = EVERY, seconds: float = 0.0) -> ScheduledJob:
        async def run(should_stop: ShouldStop) -> JobResult:
            self.runs.append((name, time.monotonic()))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            try:
                await asyncio.sleep(seconds)
            finally:
                self.active -= 1
            return JobResult({"ran": 1})

        return ScheduledJob(JobSpec(name, every, "test job"), run)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path / "jobs.db")
    yield opened
    await opened.close()


def service(
    store: SQLiteStore,
    *jobs: ScheduledJob,
    stop_timeout: float = 2.0,
    clock: Callable[[], datetime] = utc_now,
) -> SchedulerService:
    return SchedulerService(jobs=jobs, claimer=store, clock=clock, stop_timeout=stop_timeout)


def slots(svc: SchedulerService, name: str) -> list[int]:
    return [run.slot for run in svc.runs if run.name == name]


async def fire_and_finish(svc: SchedulerService, name: str) -> JobRun | None:
    """One trigger of `name`, run to its end: the run it made, or None if it was skipped."""
    task = await svc.fire(name)
    if task is None:
        return None
    await task
    return svc.runs[-1]


async def test_each_slot_runs_once_in_order(store: SQLiteStore) -> None:
    clock = FakeClock()
    recorder = Recorder()
    svc = service(store, recorder.job("tick", every=timedelta(minutes=5)), clock=clock)
    made = []
    for advance in (0, 0, 5, 5, 2, 3):  # twice in one slot, then slot after slot
        clock.advance(minutes=advance)
        made.append(await fire_and_finish(svc, "tick"))
    await svc.stop()

    slot = int(clock.now.timestamp() // 300)
    assert [run.slot if run else None for run in made] == [slot - 3, None, slot - 2, slot - 1, None, slot]
    assert all(run.result == JobResult({"ran": 1}) and run.error is None for run in svc.runs)


async def test_real_triggers_fire_on_interval_boundaries(store: SQLiteStore) -> None:
    recorder = Recorder()
    svc = service(store, recorder.job("aligned", every=timedelta(seconds=1)), recorder.job("fast"))
    await svc.start()
    next_run = svc.next_run_times()["aligned"]
    assert next_run is not None
    assert next_run.timestamp() == int(next_run.timestamp())  # epoch-aligned: every process agrees
    # APScheduler really fires them (the intervals are short; this waits for the runs, not a time).
    runs = await svc.wait_for_runs("fast", 2, timeout=10)
    await svc.stop()
    assert runs[1].slot == runs[0].slot + 1


async def test_a_failing_job_is_logged_with_its_name_and_runs_again(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    attempts = 0

    async def flaky(should_stop: ShouldStop) -> JobResult:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("a bug in the job")
        if attempts == 2:
            raise StorageError("database unavailable")
        return JobResult({"ok": 1})

    clock = FakeClock()
    recorder = Recorder()
    svc = service(
        store, ScheduledJob(JobSpec("flaky", EVERY, "fails twice"), flaky), recorder.job("other"), clock=clock
    )
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    for _ in range(3):
        clock.advance(seconds=EVERY.total_seconds())
        await fire_and_finish(svc, "flaky")
        await fire_and_finish(svc, "other")
    await svc.stop()

    errors = [run.error for run in svc.runs if run.name == "flaky"]
    assert errors == ["RuntimeError: a bug in the job", "database unavailable", None]
    crashed = [r for r in caplog.records if "job crashed job=flaky" in r.getMessage()]
    assert crashed
    assert crashed[0].exc_info is not None
    failed = [r for r in caplog.records if "job failed job=flaky" in r.getMessage()]
    assert failed
    assert failed[0].exc_info is None
    assert len(slots(svc, "other")) == 3  # the other job kept running throughout


async def test_a_slow_job_never_overlaps_itself(store: SQLiteStore, caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()
    clock = FakeClock()

    async def slow(should_stop: ShouldStop) -> JobResult:
        await release.wait()
        return JobResult({"ran": 1})

    svc = service(store, ScheduledJob(JobSpec("slow", EVERY, "slow"), slow), clock=clock)
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    first = await svc.fire("slow")
    assert first is not None
    clock.advance(seconds=EVERY.total_seconds())  # the next slot comes while it still runs
    assert await svc.fire("slow") is None
    release.set()
    await first
    clock.advance(seconds=EVERY.total_seconds())
    assert await fire_and_finish(svc, "slow") is not None  # after it ended, the next one runs
    await svc.stop()
    assert len(svc.runs) == 2
    assert any("job still running, skipping this run job=slow" in r.getMessage() for r in caplog.records)


async def test_stop_lets_a_running_job_finish_when_it_heeds_should_stop(store: SQLiteStore) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def patient(should_stop: ShouldStop) -> JobResult:
        started.set()
        while not should_stop():
            await asyncio.sleep(0.01)
        finished.append("cleanly")
        return JobResult({"items": 1}, stopped_early=True)

    svc = service(store, ScheduledJob(JobSpec("patient", timedelta(seconds=10), "loops"), patient))
    await svc.start()
    await svc.fire("patient")
    await asyncio.wait_for(started.wait(), 5)
    await svc.stop()
    assert finished == ["cleanly"]
    assert svc.runs[-1].result is not None
    assert svc.runs[-1].result.stopped_early


async def test_stop_cancels_a_job_that_overstays_the_grace_period(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def stubborn(should_stop: ShouldStop) -> JobResult:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return JobResult()

    svc = service(
        store, ScheduledJob(JobSpec("stubborn", timedelta(minutes=1), "."), stubborn), stop_timeout=0.3
    )
    await svc.start()
    await svc.fire("stubborn")
    await asyncio.wait_for(started.wait(), 5)
    await svc.stop()
    assert cancelled.is_set()
    assert any("cancelling it job=job-stubborn" in r.getMessage() for r in caplog.records)


class BrokenClaimer:
    async def claim_event(self, key: str, *, now: datetime) -> bool:
        raise StorageError("claims table unreachable")


async def test_a_run_that_cannot_be_claimed_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    svc = SchedulerService(
        jobs=[recorder.job("guarded")], claimer=BrokenClaimer(), clock=utc_now, stop_timeout=1
    )
    assert await svc.fire("guarded") is None
    await svc.stop()
    assert recorder.runs == []  # never run without a claim: another process may have it
    assert any("could not be claimed job=guarded" in r.getMessage() for r in caplog.records)


async def test_two_schedulers_sharing_one_sqlite_file_run_each_slot_once(tmp_path: Path) -> None:
    first, second = [await SQLiteStore.open(tmp_path / "shared.db") for _ in range(2)]
    clock = FakeClock()
    recorder = Recorder()
    services = [
        service(first, recorder.job("alpha"), recorder.job("beta"), clock=clock),
        service(second, recorder.job("alpha"), recorder.job("beta"), clock=clock),
    ]
    try:
        for _ in range(5):
            clock.advance(seconds=EVERY.total_seconds())
            fired = await asyncio.gather(*(svc.fire(name) for svc in services for name in ("alpha", "beta")))
            await asyncio.gather(*(task for task in fired if task is not None))
        for svc in services:
            await svc.stop()
    finally:
        await first.close()
        await second.close()
    for name in ("alpha", "beta"):
        ran = sorted(slot for svc in services for slot in slots(svc, name))
        assert len(ran) == 5
        assert ran == sorted(set(ran)), f"{name} ran twice in one slot: {ran}"
        assert ran[-1] - ran[0] == 4, f"{name} skipped a slot: {ran}"


def test_misfire_grace_is_half_the_interval_and_at_least_a_second() -> None:
    assert misfire_grace(timedelta(minutes=1)) == 30
    assert misfire_grace(timedelta(hours=6)) == 3 * 3600
    assert misfire_grace(timedelta(seconds=0.4)) == 1


async def test_the_production_schedule_starts_and_stops_with_a_real_core(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with build_core(make_settings(tmp_path / "data", fake_openai)) as core:
        svc = SchedulerService.for_core(core)
        await svc.start()
        planned = svc.next_run_times()
        assert set(planned) == {spec.name for spec in DEFAULT_SPECS}
        for spec in DEFAULT_SPECS:
            when = planned[spec.name]
            assert when is not None
            assert when.timestamp() % spec.every.total_seconds() == 0
            assert timedelta(0) < when - utc_now() <= spec.every
        await svc.stop()
        assert svc.next_run_times() == {}
