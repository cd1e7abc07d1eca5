"""The scheduler service (real APScheduler on the test's event loop), with short intervals."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import SchedulerService, misfire_grace
from bot.wiring import build_core
from core.clock import utc_now
from core.errors import StorageError
from core.jobs import DEFAULT_SPECS, JobResult, JobSpec, ScheduledJob, ShouldStop
from core.storage.sqlite import SQLiteStore
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.jobs.helpers import FakeClock

EVERY = timedelta(seconds=0.4)


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


def service(store: SQLiteStore, *jobs: ScheduledJob, stop_timeout: float = 2.0) -> SchedulerService:
    return SchedulerService(jobs=jobs, claimer=store, clock=utc_now, stop_timeout=stop_timeout)


def slots(svc: SchedulerService, name: str) -> list[int]:
    return [run.slot for run in svc.runs if run.name == name]


async def test_jobs_run_once_per_interval(store: SQLiteStore) -> None:
    recorder = Recorder()
    svc = service(store, recorder.job("tick"), recorder.job("tock", every=EVERY * 2))
    await svc.start()
    await asyncio.sleep(EVERY.total_seconds() * 5.5)
    await svc.stop()

    ticks = slots(svc, "tick")
    assert len(ticks) >= 4
    assert ticks == sorted(set(ticks))  # one run per slot, in order
    assert ticks[-1] - ticks[0] == len(ticks) - 1  # and no slot skipped
    assert 2 <= len(slots(svc, "tock")) <= 3
    assert all(run.result == JobResult({"ran": 1}) and run.error is None for run in svc.runs)


async def test_runs_fire_on_interval_boundaries(store: SQLiteStore) -> None:
    recorder = Recorder()
    svc = service(store, recorder.job("aligned", every=timedelta(seconds=1)))
    await svc.start()
    next_run = svc.next_run_times()["aligned"]
    assert next_run is not None
    assert next_run.timestamp() == int(next_run.timestamp())  # epoch-aligned: every process agrees
    await svc.stop()


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

    recorder = Recorder()
    svc = service(store, ScheduledJob(JobSpec("flaky", EVERY, "fails twice"), flaky), recorder.job("other"))
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    await svc.start()
    deadline = time.monotonic() + 10
    while attempts < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.05)
    await svc.stop()

    assert attempts >= 3
    errors = [run.error for run in svc.runs if run.name == "flaky"]
    assert errors[:3] == ["RuntimeError: a bug in the job", "database unavailable", None]
    crashed = [r for r in caplog.records if "job crashed job=flaky" in r.getMessage()]
    assert crashed
    assert crashed[0].exc_info is not None
    failed = [r for r in caplog.records if "job failed job=flaky" in r.getMessage()]
    assert failed
    assert failed[0].exc_info is None
    assert len(slots(svc, "other")) >= 2  # the other job kept running throughout


async def test_a_slow_job_never_overlaps_itself(store: SQLiteStore, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    svc = service(store, recorder.job("slow", every=timedelta(seconds=0.2), seconds=0.9))
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    await svc.start()
    await asyncio.sleep(2.0)
    await svc.stop()
    assert recorder.max_active == 1
    assert len(recorder.runs) >= 2
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
    # Fire it now rather than waiting for the next 10 s boundary.
    await svc.start()
    await svc._fire(svc._jobs[0])
    await asyncio.wait_for(started.wait(), 5)
    begin = time.monotonic()
    await svc.stop()
    assert time.monotonic() - begin < 1.0
    assert finished == ["cleanly"]
    assert svc.runs[-1].result is not None
    assert svc.runs[-1].result.stopped_early


async def test_stop_cancels_a_job_that_overstays_the_grace_period(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    cancelled = asyncio.Event()

    async def stubborn(should_stop: ShouldStop) -> JobResult:
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
    await svc._fire(svc._jobs[0])
    await asyncio.sleep(0.05)
    begin = time.monotonic()
    await svc.stop()
    assert time.monotonic() - begin < 2.0
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
    await svc.start()
    await asyncio.sleep(EVERY.total_seconds() * 2.5)
    await svc.stop()
    assert recorder.runs == []  # never run without a claim: another process may have it
    assert any("could not be claimed job=guarded" in r.getMessage() for r in caplog.records)


async def test_a_slot_is_claimed_once_even_within_one_process(store: SQLiteStore) -> None:
    clock = FakeClock()
    recorder = Recorder()
    job = recorder.job("manual", every=timedelta(minutes=5))
    svc = SchedulerService(jobs=[job], claimer=store, clock=clock, stop_timeout=1)
    for advance in (0, 0, 5):  # the second fire is in the same slot (e.g. a late, coalesced misfire)
        clock.advance(minutes=advance)
        await svc._fire(job)
        await asyncio.sleep(0.05)  # let the run finish, so "still running" is not why it is skipped
    await svc.stop()
    assert len(recorder.runs) == 2
    assert [run.slot for run in svc.runs] == [
        int(clock.now.timestamp() // 300) - 1,
        int(clock.now.timestamp() // 300),
    ]


async def test_two_schedulers_sharing_one_sqlite_file_run_each_slot_once(tmp_path: Path) -> None:
    first, second = [await SQLiteStore.open(tmp_path / "shared.db") for _ in range(2)]
    recorder = Recorder()
    services = [
        service(first, recorder.job("alpha"), recorder.job("beta")),
        service(second, recorder.job("alpha"), recorder.job("beta")),
    ]
    try:
        for svc in services:
            await svc.start()
        await asyncio.sleep(EVERY.total_seconds() * 6.5)
        for svc in services:
            await svc.stop()
    finally:
        await first.close()
        await second.close()
    for name in ("alpha", "beta"):
        ran = sorted(slot for svc in services for slot in slots(svc, name))
        assert len(ran) >= 5
        assert ran == sorted(set(ran)), f"{name} ran twice in one slot: {ran}"
        assert ran[-1] - ran[0] == len(ran) - 1, f"{name} skipped a slot: {ran}"


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
