"""The worker side of the durable intake as a Service: serve deliveries with the dispatcher that the
front doors' responders were registered on (bot/services.py does the registering), and forget the
keys of deliveries answered more than KEEP_KEYS ago (they only recognise a platform's retries,
which come within minutes).

A process that only answers (`python -m bot worker`) runs at a lower CPU priority (WORKER_NICE): on
a machine it shares with a web process, the web process's acks then get the CPU first, and the
replies take what is left. Measured side by side (bench/slack_ack.py, web+worker on 2 cores, 100
answered events/s, medians of 5 interleaved runs at load average 4-6): ack p99 20.8 ms with the
worker at nice 10, 63.1 ms without; p50 2.7 vs 5.1 ms. Alone on a machine it changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta

from core.errors import StorageError
from core.intake.dispatch import Dispatcher
from core.intake.model import Intake

log = logging.getLogger(__name__)

KEEP_KEYS = timedelta(days=1)
PURGE_EVERY_SECONDS = 3600.0
# The niceness a worker-only process adds to its own (the module's docstring says why).
WORKER_NICE = 10


class IntakeWorker:
    name = "intake-worker"

    def __init__(
        self,
        *,
        intake: Intake,
        dispatcher: Dispatcher,
        concurrency: int,
        grace: float,
        clock: Callable[[], datetime] | None = None,
        nice: int = 0,
    ) -> None:
        """`nice`: added to this process's niceness at start (WORKER_NICE for a process that only
        answers; 0 where the same process also acknowledges, whose acks must not wait)."""
        self._intake = intake
        self._clock = clock
        self._purger: asyncio.Task[None] | None = None
        self._dispatcher = dispatcher
        self._concurrency = concurrency
        self._grace = grace
        self._task: asyncio.Task[None] | None = None
        self._drained = False
        self._nice = nice

    async def start(self) -> None:
        if self._nice:
            try:
                niceness = os.nice(self._nice)
            except OSError as exc:  # not allowed here: answers at the usual priority
                log.warning("could not lower this worker's CPU priority (%s)", exc)
            else:
                log.info("answering at a lower CPU priority than the web process's acks (nice %d)", niceness)
        self._task = asyncio.create_task(
            self._intake.serve(self._dispatcher, concurrency=self._concurrency), name="intake-worker"
        )
        if self._clock is not None:
            self._purger = asyncio.create_task(self._purge_keys(self._clock), name="intake-purge")
        log.info(
            "answering deliveries kinds=%s concurrency=%d",
            ",".join(self._dispatcher.kinds),
            self._concurrency,
        )

    async def _purge_keys(self, clock: Callable[[], datetime]) -> None:
        while True:
            try:
                purged = await self._intake.purge(before=clock() - KEEP_KEYS)
            except StorageError as exc:
                log.warning("could not purge answered deliveries (%s)", exc)
            else:
                if purged:
                    log.info("forgot %d answered deliveries", purged)
            await asyncio.sleep(PURGE_EVERY_SECONDS)

    async def stop_intake(self) -> None:
        """Shutdown began (bot.app): take no more deliveries, and let those in hand finish within
        the grace period, before the core stops answering. What does not finish is taken over by
        another worker (or by this one after a restart) once its lease expires: nothing
        acknowledged is lost."""
        self._drained = True
        await self._intake.stop(grace=self._grace)

    async def stop(self) -> None:
        # After stop_intake the grace period is spent (or skipped by a second signal): what is
        # still running stops now, and its lease hands it to the next worker.
        await self._intake.stop(grace=0 if self._drained else self._grace)
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
            self._purger = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
