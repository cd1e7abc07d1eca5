"""A hand-driven clock for code that takes `clock` and `sleep` (adapters.common.reply_writer):
setting `now` wakes exactly the sleepers whose time has come, so pacing is tested without waiting."""

from __future__ import annotations

import asyncio


class ManualClock:
    def __init__(self) -> None:
        self._now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self._now

    @property
    def now(self) -> float:
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        self._now = value
        due = [future for deadline, future in self._sleepers if deadline <= value]
        self._sleepers = [(d, f) for d, f in self._sleepers if d > value]
        for future in due:
            if not future.done():
                future.set_result(None)

    def sleep(self, delay: float) -> asyncio.Future[None]:
        """Registers at once (not when first awaited), so time set right after the call counts."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if delay <= 0:
            future.set_result(None)
        else:
            self._sleepers.append((self._now + delay, future))
        return future
