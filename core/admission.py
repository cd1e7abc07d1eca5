"""How many replies one process writes at once, and how many may wait: one limit, every front door.

Every front door's acknowledgements (Slack acks, Discord interaction acks, HTTP responses) are served
by the same event loop (and the same GIL) as the replies being written. Replies mostly wait on the
model, which costs nothing; but their CPU work (prompt building, stream parsing, storage, memory
extraction in threads) delays every ack once it saturates the process. A fixed cap is wrong both
ways: too low, and people queue behind a slow model; too high, and a burst of replies starves the
acks. So the cap adapts (AIMD, as in TCP): a monitor measures how late a short timer fires; when the
loop stays late, the limit is cut by 30%; when it is on time, it grows by one per tick. "Stays
late": the lateness of consecutive late ticks adds up to `lag_budget` (one stall that long, or a
loop a little late for a while), then the limit is cut and the sum starts again. A tick a few ms
late, which a busy worker's loop has every other tick (a reply's stream parsing, a JSON dump), is
not a reason to halve its replies: cutting on each one kept a worker answering 2 to 14 replies at
once during a burst. Waiting replies
are admitted in arrival order. Past `max_waiting` waiting replies the process is swamped: the front
door says so at once (a short line, or HTTP 503 with Retry-After) instead of queueing without bound.

Across processes (MAX_CONCURRENT_REPLIES_TOTAL, with SUPABASE_DB_URL): a reply admitted here also
takes one of the slots every process shares (core.limits), so all the workers together write at
most that many replies at once (the model endpoint's own limits are per account, not per process).
Waiting for a shared slot counts as waiting. If the shared backend fails, replies go on under this
process's limit alone (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType

from core import metrics
from core.errors import BotError, StorageError
from core.limits import Slots

log = logging.getLogger(__name__)


class AdaptiveLimit:
    def __init__(
        self,
        *,
        minimum: int = 2,
        maximum: int = 64,
        lag_limit: float = 0.005,
        interval: float = 0.05,
        lag_budget: float = 0.05,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        self.minimum = minimum
        self.maximum = maximum
        self.lag_limit = lag_limit
        self.interval = interval
        self.lag_budget = lag_budget
        self._late = 0.0  # the lateness of the current run of late ticks
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
            self._late += lag
            if self._late >= self.lag_budget:
                self.limit = max(self.minimum, int(self.limit * 0.7))
                self._late = 0.0
        else:
            self._late = 0.0
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
            self._monitor = asyncio.create_task(self._watch(), name="admission-monitor")

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


Turn = Callable[[], AbstractAsyncContextManager[None]]


class SwampedError(BotError):
    """Too many replies are waiting in this process: this one is refused now, not queued. Nothing
    was claimed or stored, so the same message can be sent again later."""

    retry_after_seconds = 30


# The name of the replies' shared slots (core.limits.Slots).
SHARED_SLOTS = "replies"


class Admission:
    """The process's one admission limit (an AdaptiveLimit) plus a bound on waiting replies, and
    optionally a cap shared by every process (`shared` slots, `shared_limit` of them)."""

    def __init__(
        self, *, max_concurrent: int, max_waiting: int, shared: Slots | None = None, shared_limit: int = 0
    ) -> None:
        if max_waiting < 0:
            raise ValueError("max_waiting must be >= 0")
        if shared is not None and shared_limit < 1:
            raise ValueError("shared slots need shared_limit >= 1")
        self.limit = AdaptiveLimit(minimum=min(2, max_concurrent), maximum=max_concurrent)
        self.max_waiting = max_waiting
        self.waiting = 0
        self.refused = 0
        self._shared = shared
        self._shared_limit = shared_limit

    def check(self) -> None:
        """SwampedError when a new reply could not even wait its turn: the replies not yet writing
        already fill the free slots plus `max_waiting`."""
        free = max(0, self.limit.limit - self.limit.active)
        if self.waiting >= self.max_waiting + free:
            self.refused += 1
            metrics.ADMISSION_REJECTIONS.inc()
            raise SwampedError("too many replies waiting")

    @contextlib.asynccontextmanager
    async def queue(self) -> AsyncIterator[Turn]:
        """Join the queue (SwampedError if it is full); counted as waiting until `turn()` admits.
        What happens between (claiming the event, waiting for the conversation's lock) is waiting
        too, so one busy conversation cannot pile up replies uncounted."""
        self.check()
        self.waiting += 1
        waiting = True

        @contextlib.asynccontextmanager
        async def turn() -> AsyncIterator[None]:
            nonlocal waiting
            await self.limit.acquire()
            try:
                async with self._shared_turn():
                    self.waiting -= 1
                    waiting = False
                    yield
            finally:
                self.limit.release()

        try:
            yield turn
        finally:
            if waiting:
                self.waiting -= 1

    @contextlib.asynccontextmanager
    async def _shared_turn(self) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if self._shared is not None:
                try:
                    await stack.enter_async_context(self._shared.slot(SHARED_SLOTS, self._shared_limit))
                except StorageError as exc:
                    log.warning("shared admission limit unavailable, this process's limit only: %s", exc)
            yield

    def start(self) -> None:
        self.limit.start()

    async def stop(self) -> None:
        await self.limit.stop()
