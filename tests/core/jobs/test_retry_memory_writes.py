"""retry-memory-writes: failed memory writes come back with backoff, expire, respect pause and erasure."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from bot.scheduler import build_jobs, job_options
from bot.wiring import Core
from core.commands import Command, CommandName
from core.jobs import (
    RETRY_MEMORY_WRITES,
    Jobs,
)
from core.memory.service import MemoryService
from core.models import IdentityKey, MemoryItem, MemoryOrigin, MemoryPage, Platform
from tests.core.jobs.helpers import ALICE, DM, FakeClock, memory_texts, message, pending
from tests.fakes.openai_server import FakeOpenAI


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
        self,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        *,
        origin: MemoryOrigin,
        epoch: int,
        said_at: object = None,
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


async def test_a_retried_write_is_dated_when_it_was_said_not_when_it_landed(
    jcore: Core, clock: FakeClock, fake_openai: FakeOpenAI
) -> None:
    account = (await jcore.store.resolve_account(ALICE)).id
    said = clock.now
    await jcore.store.add_pending_write(
        account_id=account,
        messages=[{"role": "user", "content": "I play the oboe"}],
        origin=DM,
        now=said,
        error="boom",
        epoch=0,
    )
    clock.advance(hours=20)  # within this core's 24 h expiry, and on another day

    result = await build_jobs(jcore).run(RETRY_MEMORY_WRITES)

    assert result.counts == {"written": 1, "failed": 0, "expired": 0, "dropped_paused": 0}
    [memory] = await jcore.memory.export(account, epoch=0)
    assert memory.text == "I play the oboe"
    assert (memory.created_at or "")[:10] == said.date().isoformat()
