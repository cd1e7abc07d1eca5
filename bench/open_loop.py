"""An open-loop load for the benches: start `count` calls at `rate` per second whatever the earlier
ones are doing (a slow answer does not slow the sender, as with real traffic), and wait for all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def open_loop(count: int, rate: float, one: Callable[[int], Awaitable[None]]) -> None:
    start = time.perf_counter()
    tasks = []
    for index in range(count):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
