"""The job functions (core.jobs) against the real core, with a clock the test moves."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduler import build_jobs, job_options
from bot.wiring import Core, build_core
from core.commands import Command, CommandName
from core.jobs import (
    CLOSE_IDLE_SESSIONS,
    MEMORY_HOUSEKEEPING,
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
from core.memory.service import MemoryService
from core.models import IdentityKey, MemoryItem, MemoryOrigin, MemoryPage, Platform
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.jobs.helpers import FakeClock, message

ALICE = IdentityKey(Platform.CONSOLE, "w1", "alice")
DM = MemoryOrigin(Platform.CONSOLE, "dm-alice", True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def jcore(tmp_path: Path, fake_openai: FakeOpenAI, clock: FakeClock) -> AsyncIterator[Core]:
    settings = make_settings(
        tmp_path / "data",
        fake_openai,
        session_idle_minutes=30,
        message_retention_days=7,
        memory_retry_max_age_hours=24,
    )
    async with build_core(settings, clock=clock) as core:
        yield core


async def memory_texts(core: Core, account: uuid.UUID) -> list[str]:
    page = await core.memory.page(account, offset=0, limit=50, epoch=0)
    return sorted(item.text for item in page.items)


async def pending(core: Core, *, at: datetime) -> int:
    return len(await core.store.due_pending_writes(now=at, limit=1000))


# -- slots and backoff ---------------------------------------------------------------------------
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
    assert jobs.names == [CLOSE_IDLE_SESSIONS, PURGE_OLD_MESSAGES, RETRY_MEMORY_WRITES, MEMORY_HOUSEKEEPING]


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
async def test_failed_memory_writes_are_retried_after_the_model_heals(
    jcore: Core, clock: FakeClock, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(500, times=2, endpoint="extract")
    for text in ("I keep bees on my roof", "My sister is called Ines"):
        reply = await jcore.orchestrator.handle(message(text))
        assert reply is not None
        assert reply.kind.value == "answer"
    assert await jcore.writer.flush(10)
    account = (await jcore.store.resolve_account(ALICE)).id
    assert await memory_texts(jcore, account) == []
    assert await pending(jcore, at=clock.now) == 2

    fake_openai.heal()
    result = await build_jobs(jcore).run(RETRY_MEMORY_WRITES)

    assert result.counts == {"written": 2, "failed": 0, "expired": 0, "dropped_paused": 0}
    assert await memory_texts(jcore, account) == ["I keep bees on my roof", "My sister is called Ines"]
    assert await pending(jcore, at=clock.now + timedelta(days=365)) == 0
    # And the memories are recalled in the next conversation.
    fake_openai.state.reply = None
    await jcore.orchestrator.handle(message("what do I keep?"))
    assert "I keep bees on my roof" in str(fake_openai.chat_prompts()[-1])
    await jcore.writer.flush(10)


async def test_a_write_that_fails_again_backs_off_exponentially(
    jcore: Core, clock: FakeClock, fake_openai: FakeOpenAI
) -> None:
    account = (await jcore.store.resolve_account(ALICE)).id
    await jcore.store.add_pending_write(
        account_id=account,
        messages=[{"role": "user", "content": "I play the oboe"}],
        origin=DM,
        now=clock.now,
        error="boom",
        epoch=0,
    )
    jobs = build_jobs(jcore)
    fake_openai.fail(500, times=2, endpoint="extract")

    first = await jobs.run(RETRY_MEMORY_WRITES)
    assert first.counts["failed"] == 1
    [write] = await jcore.store.due_pending_writes(now=clock.now + timedelta(days=1), limit=10)
    assert write.attempts == 1
    assert write.next_attempt_at == clock.now + timedelta(minutes=1)
    assert write.last_error is not None
    assert "memory backend failed" in write.last_error

    # Not due yet: nothing is attempted.
    calls = fake_openai.count("extract")
    assert (await jobs.run(RETRY_MEMORY_WRITES)).counts["failed"] == 0
    assert fake_openai.count("extract") == calls

    clock.advance(minutes=1)
    assert (await jobs.run(RETRY_MEMORY_WRITES)).counts["failed"] == 1
    [write] = await jcore.store.due_pending_writes(now=clock.now + timedelta(days=1), limit=10)
    assert write.attempts == 2
    assert write.next_attempt_at == clock.now + timedelta(minutes=2)

    clock.advance(minutes=2)
    assert (await jobs.run(RETRY_MEMORY_WRITES)).counts["written"] == 1
    assert await memory_texts(jcore, account) == ["I play the oboe"]


async def test_writes_older_than_the_expiry_are_dropped(
    jcore: Core, clock: FakeClock, fake_openai: FakeOpenAI
) -> None:
    account = (await jcore.store.resolve_account(ALICE)).id
    await jcore.store.add_pending_write(
        account_id=account,
        messages=[{"role": "user", "content": "an ancient fact"}],
        origin=DM,
        now=clock.now,
        error="boom",
        epoch=0,
    )
    clock.advance(hours=25)  # expiry is 24 h in this core
    result = await build_jobs(jcore).run(RETRY_MEMORY_WRITES)
    assert result.counts["expired"] == 1
    assert result.counts["written"] == 0
    assert await pending(jcore, at=clock.now + timedelta(days=365)) == 0
    assert fake_openai.count("extract") == 0
    assert await memory_texts(jcore, account) == []


async def test_writes_of_paused_accounts_are_dropped_not_written(
    jcore: Core, clock: FakeClock, fake_openai: FakeOpenAI
) -> None:
    alice = (await jcore.store.resolve_account(ALICE)).id
    bob = (await jcore.store.resolve_account(IdentityKey(Platform.CONSOLE, "w1", "bob"))).id
    for account, text in ((alice, "alice likes figs"), (bob, "bob likes plums")):
        await jcore.store.add_pending_write(
            account_id=account,
            messages=[{"role": "user", "content": text}],
            origin=DM,
            now=clock.now,
            error="boom",
            epoch=0,
        )
    await jcore.store.set_memory_paused(alice, True)

    result = await build_jobs(jcore).run(RETRY_MEMORY_WRITES)

    assert result.counts == {"written": 1, "failed": 0, "expired": 0, "dropped_paused": 1}
    assert await memory_texts(jcore, alice) == []
    assert await memory_texts(jcore, bob) == ["bob likes plums"]
    assert await pending(jcore, at=clock.now + timedelta(days=365)) == 0


async def test_a_down_backend_stops_the_run_after_a_few_failures(
    jcore: Core, clock: FakeClock, fake_openai: FakeOpenAI
) -> None:
    account = (await jcore.store.resolve_account(ALICE)).id
    for i in range(6):
        await jcore.store.add_pending_write(
            account_id=account,
            messages=[{"role": "user", "content": f"fact number {i}"}],
            origin=DM,
            now=clock.now,
            error="boom",
            epoch=0,
        )
    fake_openai.fail(500, times=100, endpoint="extract")

    result = await build_jobs(jcore).run(RETRY_MEMORY_WRITES)

    assert result.stopped_early
    assert result.counts["failed"] == 3
    assert fake_openai.count("extract") == 3  # not six calls against a backend that is down
    assert await pending(jcore, at=clock.now) == 3  # the untried ones stay due
    assert await pending(jcore, at=clock.now + timedelta(days=1)) == 6  # nothing lost


async def test_should_stop_ends_a_retry_run_between_writes(jcore: Core, clock: FakeClock) -> None:
    account = (await jcore.store.resolve_account(ALICE)).id
    for i in range(3):
        await jcore.store.add_pending_write(
            account_id=account,
            messages=[{"role": "user", "content": f"thing {i}"}],
            origin=DM,
            now=clock.now,
            error="boom",
            epoch=0,
        )
    calls = 0

    def stop_after_one() -> bool:
        nonlocal calls
        calls += 1
        return calls > 1

    result = await build_jobs(jcore).run(RETRY_MEMORY_WRITES, stop_after_one)
    assert result.stopped_early
    assert result.counts["written"] == 1
    assert await pending(jcore, at=clock.now) == 2


class CrashingMemory:
    """A MemoryService whose remember() has a bug (raises a non-Bot error)."""

    def __init__(self, real: MemoryService) -> None:
        self._real = real

    async def remember(
        self, account_id: uuid.UUID, messages: list[dict[str, str]], *, origin: MemoryOrigin, epoch: int
    ) -> list[MemoryItem]:
        raise KeyError("a bug")

    async def page(self, account_id: uuid.UUID, *, epoch: int, offset: int, limit: int) -> MemoryPage:
        return await self._real.page(account_id, epoch=epoch, offset=offset, limit=limit)


async def test_an_unexpected_error_is_rescheduled_not_lost(jcore: Core, clock: FakeClock) -> None:
    account = (await jcore.store.resolve_account(ALICE)).id
    await jcore.store.add_pending_write(
        account_id=account,
        messages=[{"role": "user", "content": "x"}],
        origin=DM,
        now=clock.now,
        error=None,
        epoch=0,
    )
    jobs = Jobs(
        store=jcore.store,
        memory=CrashingMemory(jcore.memory),  # type: ignore[arg-type]
        removals=jcore.removals,
        clock=clock,
        options=job_options(jcore.settings),
    )
    result = await jobs.run(RETRY_MEMORY_WRITES)
    assert result.counts["failed"] == 1
    [write] = await jcore.store.due_pending_writes(now=clock.now + timedelta(days=1), limit=10)
    assert write.last_error == "unexpected KeyError"
    assert write.attempts == 1


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


async def test_forget_all_during_a_retry_leaves_nothing(
    jcore: Core, clock: FakeClock, fake_openai: FakeOpenAI
) -> None:
    """The retry job is writing a kept exchange when the person erases everything: the write,
    which lands after the memory was cleared, is undone because its pending row is gone."""
    fake_openai.fail(500, times=1, endpoint="extract")
    reply = await jcore.orchestrator.handle(message("my locker code is 8812"))
    assert reply is not None
    assert await jcore.writer.flush(10)
    assert await pending(jcore, at=clock.now) == 1
    account = (await jcore.store.resolve_account(ALICE)).id

    fake_openai.heal()
    fake_openai.state.delay_extract = 0.5  # the retry's extraction is in flight during the erasure
    retry = asyncio.create_task(build_jobs(jcore).run(RETRY_MEMORY_WRITES))
    while fake_openai.count("extract") < 2:  # the failed attempt, then the retry's
        await asyncio.sleep(0.01)
    await jcore.commands.run(ALICE, Command(CommandName.FORGET_ALL, confirmed=True))
    result = await retry

    assert result.counts["undone"] == 1
    assert await memory_texts(jcore, account) == []
    data = [p for p in jcore.settings.data_dir.rglob("*") if p.is_file()]
    assert all(b"8812" not in p.read_bytes() for p in data)
