"""One tracker of a front door's in-flight work: what was acknowledged and is still being done.

A front door acknowledges first and works later (Slack's 3-second ack, Discord's interaction
deadline, an HTTP stream whose client may leave). The work then runs in tasks nobody awaits, and
three things must still hold: each task is referenced until it ends (asyncio keeps only weak
references), a failure is reported once and never escapes into the SDK's loop, and shutdown can
wait for the answers being written, within a bound, instead of dropping them.

    tracker = TaskTracker("slack")
    tracker.spawn(answer(message), name="message")      # tracked until it ends
    with tracker.hold():                                # work running in a task someone else made
        ...                                             # (an SDK's own handler task)
    await tracker.wait_idle()                           # nothing in flight (tests; shutdown)
    await tracker.drain(timeout)                        # shutdown: wait, then cancel what is left

python-telegram-bot keeps one such set per application (`Application.create_task`); this is ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
OnFailure = Callable[[str, BaseException], None]


class TaskTracker:
    """The in-flight work of one front door. Not thread-safe: use it from its event loop only."""

    def __init__(self, label: str, *, on_failure: OnFailure | None = None) -> None:
        """`on_failure(name, error)` is told of every spawned task that ends with an exception
        (cancellation is not a failure); by default the error is logged with its traceback."""
        self.label = label
        self._on_failure = on_failure if on_failure is not None else self._log_failure
        self._tasks: set[asyncio.Task[Any]] = set()
        self._held = 0
        # Set, and replaced by a fresh one, whenever work ends: wakes every wait to look again.
        self._work_ended = asyncio.Event()

    @property
    def in_flight(self) -> int:
        """Spawned tasks not yet finished, plus the work inside `hold()` blocks."""
        return len(self._tasks) + self._held

    def spawn(self, work: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run `work` in a tracked task. The task is returned for callers that want its result
        (awaiting it still raises its error); nobody has to await it."""
        task = asyncio.create_task(work, name=f"{self.label}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Count the work inside this block as in flight (for work that runs in a task the SDK
        created). `drain` waits for it but cannot cancel it."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            self._announce_end()

    async def wait_idle(self, timeout: float | None = None, *, except_for: int = 0) -> bool:
        """Wait until nothing is in flight (at most `except_for` pieces of work, for a test that
        holds one answer back on purpose); False if more still were after `timeout` seconds.
        Work spawned while waiting is waited for too."""
        try:
            async with asyncio.timeout(timeout):
                while self.in_flight > except_for:
                    await self._work_ended.wait()
        except TimeoutError:
            return False
        return True

    async def drain(self, timeout: float) -> bool:
        """Shutdown: wait up to `timeout` seconds for the work in flight, then cancel the spawned
        tasks still running (and wait for them to unwind). False if anything had to be cancelled
        or a `hold()` block was still open."""
        if await self.wait_idle(timeout):
            return True
        pending = [task for task in self._tasks if not task.done()]
        if pending:
            log.warning(
                "%d %s task(s) still running after %.1fs; cancelling", len(pending), self.label, timeout
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        return False

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._announce_end()
        if task.cancelled():
            return
        error = task.exception()  # retrieved here, so asyncio never reports it a second time
        if error is not None:
            self._on_failure(task.get_name(), error)

    def _announce_end(self) -> None:
        ended, self._work_ended = self._work_ended, asyncio.Event()
        ended.set()

    @staticmethod
    def _log_failure(name: str, error: BaseException) -> None:
        # Never the payload: it holds people's messages. The traceback says where it went wrong.
        log.error("%s failed: %s", name, type(error).__name__, exc_info=error)
