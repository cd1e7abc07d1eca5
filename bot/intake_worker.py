"""The worker side of the durable intake as a Service: serve deliveries with the dispatcher that the
front doors' responders were registered on (bot/services.py does the registering)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.intake.dispatch import Dispatcher
from core.intake.model import Intake

log = logging.getLogger(__name__)


class IntakeWorker:
    name = "intake-worker"

    def __init__(self, *, intake: Intake, dispatcher: Dispatcher, concurrency: int, grace: float) -> None:
        self._intake = intake
        self._dispatcher = dispatcher
        self._concurrency = concurrency
        self._grace = grace
        self._task: asyncio.Task[None] | None = None
        self._drained = False

    async def start(self) -> None:
        self._task = asyncio.create_task(
            self._intake.serve(self._dispatcher, concurrency=self._concurrency), name="intake-worker"
        )
        log.info(
            "answering deliveries kinds=%s concurrency=%d",
            ",".join(self._dispatcher.kinds),
            self._concurrency,
        )

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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
