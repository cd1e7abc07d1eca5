"""The worker side of the durable intake as a Service: serve deliveries with the dispatcher that the
front doors' responders were registered on (bot/services.py does the registering), and forget the
keys of deliveries answered more than KEEP_KEYS ago (they only recognise a platform's retries,
which come within minutes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from core.errors import StorageError
from core.intake.dispatch import Dispatcher
from core.intake.model import Intake

log = logging.getLogger(__name__)

KEEP_KEYS = timedelta(days=1)
PURGE_EVERY_SECONDS = 3600.0


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
    ) -> None:
        self._intake = intake
        self._clock = clock
        self._purger: asyncio.Task[None] | None = None
        self._dispatcher = dispatcher
        self._concurrency = concurrency
        self._grace = grace
        self._task: asyncio.Task[None] | None = None
        self._drained = False

    async def start(self) -> None:
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
