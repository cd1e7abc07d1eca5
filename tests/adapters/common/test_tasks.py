"""TaskTracker: tracked until done, failures reported once, idle waits and bounded drains."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.common.tasks import TaskTracker


async def test_spawned_work_is_in_flight_until_it_ends() -> None:
    tracker = TaskTracker("t")
    release = asyncio.Event()

    async def work() -> int:
        await release.wait()
        return 7

    task = tracker.spawn(work(), name="w")
    assert tracker.in_flight == 1
    assert not await tracker.wait_idle(0)

    release.set()
    assert await task == 7
    assert await tracker.wait_idle(5)
    assert tracker.in_flight == 0
    assert task.get_name() == "t-w"


async def test_a_failure_is_reported_once_and_still_raises_to_whoever_awaits() -> None:
    failures: list[tuple[str, str]] = []
    tracker = TaskTracker("t", on_failure=lambda name, error: failures.append((name, str(error))))

    async def boom() -> None:
        raise RuntimeError("broken")

    task = tracker.spawn(boom(), name="boom")
    with pytest.raises(RuntimeError, match="broken"):
        await task
    assert await tracker.wait_idle(5)

    assert failures == [("t-boom", "broken")]


async def test_failures_are_logged_by_default(caplog: pytest.LogCaptureFixture) -> None:
    tracker = TaskTracker("slack")

    async def boom() -> None:
        raise ValueError("secret payload text")

    with caplog.at_level(logging.ERROR):
        tracker.spawn(boom(), name="message")
        assert await tracker.wait_idle(5)

    assert [r.getMessage() for r in caplog.records] == ["slack-message failed: ValueError"]


async def test_cancellation_is_not_a_failure() -> None:
    failures: list[str] = []
    tracker = TaskTracker("t", on_failure=lambda name, error: failures.append(name))
    task = tracker.spawn(asyncio.Event().wait(), name="forever")

    task.cancel()
    assert await tracker.wait_idle(5)

    assert failures == []


async def test_held_work_counts_until_its_block_ends() -> None:
    tracker = TaskTracker("t")
    with tracker.hold():
        assert tracker.in_flight == 1
        assert not await tracker.wait_idle(0)
    assert tracker.in_flight == 0
    assert await tracker.wait_idle(0)


async def test_wait_idle_can_leave_some_work_in_flight() -> None:
    tracker = TaskTracker("t")
    held_back, quick = asyncio.Event(), asyncio.Event()
    slow = tracker.spawn(held_back.wait(), name="held back")
    tracker.spawn(quick.wait(), name="quick")
    assert not await tracker.wait_idle(0, except_for=1)

    quick.set()
    assert await tracker.wait_idle(5, except_for=1)
    assert tracker.in_flight == 1
    assert not slow.done()

    held_back.set()
    assert await tracker.wait_idle(5)


async def test_wait_idle_also_waits_for_work_spawned_meanwhile() -> None:
    tracker = TaskTracker("t")
    second_done = asyncio.Event()

    async def second() -> None:
        second_done.set()

    async def first() -> None:
        tracker.spawn(second(), name="second")

    tracker.spawn(first(), name="first")
    assert await tracker.wait_idle(5)

    assert second_done.is_set()


async def test_drain_waits_for_quick_work_and_cancels_what_outlives_the_bound() -> None:
    tracker = TaskTracker("t")
    quick_done = asyncio.Event()
    stuck_cancelled = asyncio.Event()

    async def quick() -> None:
        quick_done.set()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stuck_cancelled.set()
            raise

    tracker.spawn(quick(), name="quick")
    assert await tracker.drain(5)
    assert quick_done.is_set()

    tracker.spawn(stuck(), name="stuck")
    assert not await tracker.drain(0.01)
    assert stuck_cancelled.is_set()
    assert tracker.in_flight == 0
