"""AdaptiveLimit: answers admitted in arrival order, as many as the event loop can take."""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters.slack.admission import AdaptiveLimit


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
