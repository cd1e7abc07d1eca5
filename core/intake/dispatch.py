"""The worker side of the intake: which responder answers which kind of delivery, and what happens
to a delivery that waited too long.

Front doors register a responder per kind they accept ("slack.message", "discord.interaction",
...). A delivery older than `max_age` when a worker gets it (the worker pool was down, or every
worker was busy for that long) is not answered as if nothing happened: its kind's `on_late`
responder says sorry in the conversation where the platform still allows it, or, without one, it
is dropped with a log line. Either way it is done: it is never retried forever.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.intake.model import Delivery, Intake, JsonObject

log = logging.getLogger(__name__)

# Deliveries older than this are answered with an apology (or dropped), not answered.
DEFAULT_MAX_AGE = timedelta(minutes=10)

NoteReply = Callable[[JsonObject], Awaitable[None]]
Responder = Callable[[Delivery, NoteReply], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Route:
    answer: Responder
    on_late: Responder | None


class Dispatcher:
    """The handler a worker serves the intake with (`intake.serve(dispatcher, ...)`)."""

    def __init__(
        self, *, intake: Intake, clock: Callable[[], datetime], max_age: timedelta = DEFAULT_MAX_AGE
    ) -> None:
        self._intake = intake
        self._clock = clock
        self._max_age = max_age
        self._routes: dict[str, _Route] = {}

    def register(self, kind: str, answer: Responder, *, on_late: Responder | None = None) -> None:
        if kind in self._routes:
            raise ValueError(f"a responder for {kind!r} is registered already")
        self._routes[kind] = _Route(answer, on_late)

    @property
    def kinds(self) -> list[str]:
        return sorted(self._routes)

    async def __call__(self, delivery: Delivery) -> None:
        route = self._routes.get(delivery.kind)
        if route is None:
            # Accepted by a front door this worker does not run (a configuration mismatch between
            # web and worker processes): retrying cannot help, and raising would retry it.
            log.error("no responder for kind=%s; dropping the delivery", delivery.kind)
            return

        async def note_reply(ref: JsonObject) -> None:
            await self._intake.note_reply(delivery.id, ref)

        waited = self._clock() - delivery.received_at
        if waited > self._max_age:
            if route.on_late is None:
                log.warning(
                    "delivery dropped: waited %ds (more than %ds) kind=%s",
                    int(waited.total_seconds()),
                    int(self._max_age.total_seconds()),
                    delivery.kind,
                )
                return
            log.warning("delivery too late, apologising kind=%s waited_s=%d", delivery.kind, waited.seconds)
            await route.on_late(delivery, note_reply)
            return
        await route.answer(delivery, note_reply)


__all__ = ["DEFAULT_MAX_AGE", "Dispatcher", "NoteReply", "Responder"]
