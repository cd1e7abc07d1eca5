"""The job functions (core.jobs) against the real core, with a clock the test moves."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import build_jobs, job_options
from bot.wiring import Core, build_core
from core.jobs import (
    CLOSE_IDLE_SESSIONS,
    INDEX_MEMORY_VECTORS,
    MEMORY_HOUSEKEEPING,
    PURGE_MEMORY_VECTORS,
    PURGE_OLD_MESSAGES,
    RETRY_MEMORY_WRITES,
    JobOptions,
    JobResult,
    Jobs,
    UnknownJobError,
    retry_delay,
    run_key,
    run_slot,
)
from tests.conftest import make_settings
from tests.core.jobs.helpers import FakeClock, message
from tests.fakes.openai_server import FakeOpenAI


def test_run_slot_is_the_same_for_every_instant_of_one_interval() -> None:
    every = timedelta(minutes=5)
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert run_slot(start, every) == run_slot(start + timedelta(minutes=4, seconds=59), every)
    assert run_slot(start + timedelta(minutes=5), every) == run_slot(start, every) + 1
    # Another process whose clock reads a slightly different instant in the same interval agrees.
    assert run_key("x", run_slot(start + timedelta(seconds=0.3), every)) == run_key(
        "x", run_slot(start, every)
    )


def test_retry_delay_doubles_and_is_capped() -> None:
    base, cap = timedelta(minutes=1), timedelta(hours=1)
    delays = [retry_delay(n, base=base, cap=cap) for n in range(9)]
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delays[-1] == cap
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert retry_delay(10_000, base=base, cap=cap) == cap


def test_job_options_follow_settings(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    keep = job_options(make_settings(tmp_path, fake_openai))
    assert keep.retention is None
    assert keep.idle_timeout == timedelta(minutes=60)
    custom = job_options(
        make_settings(
            tmp_path,
            fake_openai,
            message_retention_days=30,
            memory_retry_max_age_hours=6,
            memory_merge_similarity=0.8,
        )
    )
    assert custom.retention == timedelta(days=30)
    assert custom.retry_max_age == timedelta(hours=6)
    assert custom.merge_similarity == 0.8


async def test_unknown_job_name_is_a_clear_error(jcore: Core) -> None:
    jobs = build_jobs(jcore)
    with pytest.raises(UnknownJobError, match="Jobs: close-idle-sessions, purge-old-messages"):
        await jobs.run("vacuum-everything")
    assert jobs.names == [
        CLOSE_IDLE_SESSIONS,
        PURGE_OLD_MESSAGES,
        RETRY_MEMORY_WRITES,
        MEMORY_HOUSEKEEPING,
        PURGE_MEMORY_VECTORS,
        INDEX_MEMORY_VECTORS,
    ]


# -- close idle sessions --------------------------------------------------------------------------
async def test_idle_sessions_are_closed_and_the_next_message_starts_fresh(
    jcore: Core, clock: FakeClock
) -> None:
    first = await jcore.orchestrator.handle(message("hello there"))
    busy = await jcore.orchestrator.handle(message("hi", user="bob"))
    assert first is not None
    assert first.session_id is not None
    assert busy is not None
    assert busy.session_id is not None
    jobs = build_jobs(jcore)

    clock.advance(minutes=20)
    assert (await jobs.run(CLOSE_IDLE_SESSIONS)).counts == {"closed": 0}
    await jcore.orchestrator.handle(message("still here", user="bob"))  # bob stays active

    clock.advance(minutes=15)  # alice idle 35 min > 30, bob idle 15 min
    assert (await jobs.run(CLOSE_IDLE_SESSIONS)).counts == {"closed": 1}
    closed = await jcore.store.get_session(first.session_id)
    assert closed is not None
    assert closed.closed_at == clock.now
    still_open = await jcore.store.get_session(busy.session_id)
    assert still_open is not None
    assert still_open.closed_at is None

    again = await jcore.orchestrator.handle(message("back again"))
    assert again is not None
    assert again.session_id not in (None, first.session_id)
    await jcore.writer.flush(10)


# -- retention ----------------------------------------------------------------------------------
async def test_retention_deletes_only_messages_older_than_the_setting(jcore: Core, clock: FakeClock) -> None:
    old = await jcore.orchestrator.handle(message("an old message"))
    clock.advance(days=6)
    new = await jcore.orchestrator.handle(message("a newer message", user="bob"))
    assert old is not None
    assert old.session_id
    assert new is not None
    assert new.session_id
    clock.advance(days=2)  # the first exchange is 8 days old, the second 2 days

    result = await build_jobs(jcore).run(PURGE_OLD_MESSAGES)

    # The person's message and the answer; and the old message's dedupe claim (older than a week).
    assert result.counts == {"deleted": 2, "bookkeeping": 1}
    assert await jcore.store.recent_messages(old.session_id, limit=10) == []
    kept = await jcore.store.recent_messages(new.session_id, limit=10)
    assert next(m.text for m in kept) == "a newer message"
    await jcore.writer.flush(10)


async def test_retention_zero_keeps_everything(
    tmp_path: Path, fake_openai: FakeOpenAI, clock: FakeClock
) -> None:
    settings = make_settings(tmp_path / "keep", fake_openai, message_retention_days=0)
    async with build_core(settings, clock=clock) as core:
        reply = await core.orchestrator.handle(message("keep me"))
        assert reply is not None
        assert reply.session_id
        clock.advance(days=3650)
        # Messages stay; the week-old dedupe claim does not.
        assert (await build_jobs(core).run(PURGE_OLD_MESSAGES)).counts == {"deleted": 0, "bookkeeping": 1}
        assert len(await core.store.recent_messages(reply.session_id, limit=10)) == 2
        await core.writer.flush(10)


# -- memory write retry ----------------------------------------------------------------------------
def test_job_result_summary() -> None:
    assert JobResult({"closed": 2}).summary() == "closed=2"
    assert JobResult({}).summary() == "nothing to do"
    assert JobResult({"a": 0}, stopped_early=True).summary() == "a=0 stopped_early=true"
    assert not JobResult({"a": 0}).did_something
    assert JobResult({"a": 0, "b": 1}).did_something


async def test_specs_without_a_function_are_refused(jcore: Core) -> None:
    from core.jobs import JobSpec

    with pytest.raises(ValueError, match="no job function"):
        Jobs(
            store=jcore.store,
            memory=jcore.memory,
            removals=jcore.removals,
            clock=FakeClock(),
            options=JobOptions(
                idle_timeout=timedelta(minutes=1),
                retention=None,
                retry_max_age=timedelta(hours=1),
                merge_similarity=0.9,
            ),
            specs=(JobSpec("mystery", timedelta(minutes=1), "?"),),
        )
