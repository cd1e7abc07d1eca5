"""How many answers may be in progress at once, following how late the event loop runs.

Every Slack ack is served by the same event loop (and the same GIL) as the answers being written.
Answers mostly wait on the model, which costs nothing; but their CPU work (prompt building, stream
parsing, storage, memory extraction in threads) delays every ack once it saturates the process.
A fixed cap is wrong both ways: too low, and people queue behind a slow model; too high, and a burst
of answers starves the acks. So the cap adapts (AIMD, as in TCP): a monitor measures how late a
short timer fires; when the loop is late, the limit is cut by 30%; when it is on time, it grows by
one per tick. Waiting answers are admitted in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from types import TracebackType

log = logging.getLogger(__name__)


class AdaptiveLimit:
    def __init__(
        self,
        *,
        minimum: int = 2,
        maximum: int = 64,
        lag_limit: float = 0.005,
        interval: float = 0.05,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        self.minimum = minimum
        self.maximum = maximum
        self.lag_limit = lag_limit
        self.interval = interval
        self.limit = maximum
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._monitor: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def observe(self, lag: float) -> None:
        """Feed one measurement of how late the loop was (seconds)."""
        if lag > self.lag_limit:
            self.limit = max(self.minimum, int(self.limit * 0.7))
        else:
            self.limit = min(self.maximum, self.limit + 1)
        self._admit()

    def _admit(self) -> None:
        while self._waiters and self.active < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)

    async def acquire(self) -> None:
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # admitted and cancelled in the same instant: give the slot back
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.active -= 1
        self._admit()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()

    # -- the lag monitor -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._monitor is None:
            self._monitor = asyncio.create_task(self._watch(), name="slack-admission-monitor")

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.interval)
            self.observe(loop.time() - started - self.interval)
