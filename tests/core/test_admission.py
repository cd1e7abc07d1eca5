"""core/admission.py: replies admitted in arrival order, as many as the event loop can take
(AdaptiveLimit), and past MAX_WAITING_REPLIES the next one is refused at once, with nothing claimed
or stored (Admission, through the orchestrator); with shared slots, one cap for every process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.wiring import build_core
from core.admission import AdaptiveLimit, Admission, SwampedError
from core.limits_postgres import PostgresLimits
from core.models import ReplyKind
from tests.conftest import make_settings
from tests.core.helpers import message
from tests.core.intake import pgqueue
from tests.fakes.openai_server import FakeOpenAI


async def test_admits_up_to_the_limit_then_queues_in_arrival_order() -> None:
    limit = AdaptiveLimit(minimum=1, maximum=2)
    order: list[int] = []
    await limit.acquire()
    await limit.acquire()

    async def queued(number: int) -> None:
        async with limit:
            order.append(number)

    tasks = [asyncio.create_task(queued(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert (limit.active, limit.waiting) == (2, 3)

    limit.release()
    limit.release()
    await asyncio.gather(*tasks)

    assert order == [0, 1, 2]
    assert (limit.active, limit.waiting) == (0, 0)


async def test_a_late_loop_shrinks_the_limit_and_an_on_time_loop_grows_it() -> None:
    limit = AdaptiveLimit(minimum=2, maximum=10, lag_limit=0.005)

    limit.observe(0.050)
    assert limit.limit == 7
    for _ in range(10):
        limit.observe(0.050)
    assert limit.limit == 2  # never below the minimum: one slow answer must not block everyone

    limit.observe(0.001)
    assert limit.limit == 3
    for _ in range(20):
        limit.observe(0.001)
    assert limit.limit == 10


async def test_a_loop_late_now_and_then_keeps_its_limit_and_one_late_for_long_is_cut() -> None:
    limit = AdaptiveLimit(minimum=2, maximum=10, lag_limit=0.005, lag_budget=0.05)

    for _ in range(20):  # a few ms late every other tick: a busy loop, not a stalled one
        limit.observe(0.008)
        limit.observe(0.001)
    assert limit.limit == 10

    for _ in range(6):  # late tick after tick: 48 ms in all, not yet the budget
        limit.observe(0.008)
    assert limit.limit == 10
    limit.observe(0.008)  # 56 ms
    assert limit.limit == 7
    for _ in range(6):  # the sum starts again after a cut
        limit.observe(0.008)
    assert limit.limit == 7
    limit.observe(0.008)
    assert limit.limit == 4


async def test_growing_the_limit_admits_waiting_answers() -> None:
    limit = AdaptiveLimit(minimum=1, maximum=4, lag_limit=0.005)
    for _ in range(4):
        limit.observe(1.0)
    assert limit.limit == 1
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()

    limit.observe(0.0)
    await asyncio.wait_for(waiter, 1)

    assert limit.active == 2


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    limit = AdaptiveLimit(minimum=1, maximum=1)
    await limit.acquire()
    waiter = asyncio.create_task(limit.acquire())
    await asyncio.sleep(0)

    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limit.release()

    assert (limit.active, limit.waiting) == (0, 0)


async def test_the_monitor_sees_a_blocked_loop() -> None:
    limit = AdaptiveLimit(minimum=2, maximum=64, lag_limit=0.005, interval=0.01)
    limit.start()
    try:
        await asyncio.sleep(0.02)
        time.sleep(0.1)  # the kind of stall that delays every ack
        await asyncio.sleep(0.03)
        assert limit.limit < 64
    finally:
        await limit.stop()


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="minimum"):
        AdaptiveLimit(minimum=0, maximum=4)


async def test_past_the_waiting_bound_a_reply_is_refused_and_nothing_is_claimed(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path / "data", fake_openai, max_concurrent_replies=1, max_waiting_replies=1)
    async with build_core(settings) as core:
        gate = fake_openai.hold("chat")
        first = asyncio.create_task(core.orchestrator.handle(message("one", channel="c1")))
        await gate.arrived()  # the one slot is taken
        second = asyncio.create_task(core.orchestrator.handle(message("two", channel="c2")))
        while core.admission.waiting < 1:  # the second reply has joined the queue
            await asyncio.sleep(0)
        refused = message("three", channel="c3")

        with pytest.raises(SwampedError):
            await core.orchestrator.handle(refused)

        gate.release()
        assert [r.kind for r in await asyncio.gather(first, second) if r] == [ReplyKind.ANSWER] * 2
        # Nothing of the refused message was claimed: sent again, it is answered.
        again = await core.orchestrator.handle(refused)
        assert again is not None
        assert again.kind is ReplyKind.ANSWER
        assert core.admission.refused == 1
        assert (core.admission.waiting, core.admission.limit.active) == (0, 0)


async def test_waiting_for_a_busy_conversation_counts_as_waiting(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """A flood into one conversation cannot queue uncounted behind its lock: with a slot free, the
    bound is that free slot plus MAX_WAITING_REPLIES."""
    settings = make_settings(tmp_path / "data", fake_openai, max_concurrent_replies=2, max_waiting_replies=2)
    async with build_core(settings) as core:
        gate = fake_openai.hold("chat")
        first = asyncio.create_task(core.orchestrator.handle(message("one", channel="c1")))
        await gate.arrived()
        assert core.admission.limit.active == 1  # one slot of two is free
        queued = [asyncio.create_task(core.orchestrator.handle(message(t, channel="c1"))) for t in "abc"]
        while core.admission.waiting < 3:  # all three wait behind the conversation's lock
            await asyncio.sleep(0)
        with pytest.raises(SwampedError):
            await core.orchestrator.handle(message("d", channel="c1"))
        gate.release()
        assert len([r for r in await asyncio.gather(first, *queued) if r is not None]) == 4


def test_admission_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="max_waiting"):
        Admission(max_concurrent=4, max_waiting=-1)
    with pytest.raises(ValueError, match="minimum"):
        Admission(max_concurrent=0, max_waiting=1)
    with pytest.raises(ValueError, match="shared_limit"):
        Admission(max_concurrent=4, max_waiting=1, shared=LocalSlotsNeverUsed(), shared_limit=0)


class LocalSlotsNeverUsed:
    """Stands in for a shared backend where only the arguments are checked."""

    def slot(self, name: str, limit: int) -> contextlib.AbstractAsyncContextManager[None]:
        raise AssertionError("not reached")


@pytest.fixture
async def two_processes() -> AsyncIterator[tuple[PostgresLimits, PostgresLimits]]:
    database = pgqueue.create_database()
    try:
        first = await PostgresLimits.open(pgqueue.url(database), poll_interval=0.02)
        second = await PostgresLimits.open(pgqueue.url(database), poll_interval=0.02)
        yield first, second
        await first.close()
        await second.close()
    finally:
        pgqueue.drop_database(database)


async def test_two_processes_share_one_cap_on_replies_being_written(
    two_processes: tuple[PostgresLimits, PostgresLimits],
) -> None:
    slots_a, slots_b = two_processes
    first = Admission(max_concurrent=8, max_waiting=10, shared=slots_a, shared_limit=2)
    second = Admission(max_concurrent=8, max_waiting=10, shared=slots_b, shared_limit=2)
    held = contextlib.AsyncExitStack()
    for _ in range(2):  # the first process writes two replies: the shared cap is reached
        turn = await held.enter_async_context(first.queue())
        await held.enter_async_context(turn())
    admitted = asyncio.Event()

    async def reply_in_second() -> None:
        async with second.queue() as turn, turn():
            admitted.set()

    waiting = asyncio.create_task(reply_in_second())
    tries = slots_b.tries
    while slots_b.tries < tries + 3:  # the second process asked, and asked again
        await asyncio.sleep(0.01)
    assert not admitted.is_set()
    assert second.waiting == 1  # waiting for a shared slot counts as waiting
    assert second.limit.active == 1  # its own limit had room
    await held.aclose()
    await asyncio.wait_for(admitted.wait(), timeout=10)
    await waiting
    assert (second.waiting, second.limit.active) == (0, 0)


async def test_a_failing_shared_backend_leaves_the_process_limit_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = pgqueue.create_database()
    slots = await PostgresLimits.open(pgqueue.url(database))
    pgqueue.drop_database(database)
    try:
        admission = Admission(max_concurrent=2, max_waiting=1, shared=slots, shared_limit=1)
        async with admission.queue() as turn, turn():
            assert admission.limit.active == 1
    finally:
        await slots.close()
    assert "shared admission limit unavailable, this process's limit only" in caplog.text


def test_a_shared_cap_needs_the_database_that_holds_it(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    with pytest.raises(ValueError, match="MAX_CONCURRENT_REPLIES_TOTAL needs SUPABASE_DB_URL"):
        make_settings(tmp_path, fake_openai, max_concurrent_replies_total=10)
