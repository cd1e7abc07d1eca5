"""What the intake carries, and the port both inboxes implement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

JsonObject = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """An accepted platform event, before it is recorded.

    `key` deduplicates (the same event delivered twice, or by two front doors, is one delivery);
    `lane` orders (deliveries of one lane are answered one at a time, in arrival order: a
    conversation); `kind` picks the responder; `payload` is what the responder needs, as JSON."""

    key: str
    kind: str
    lane: str
    payload: JsonObject
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """A recorded delivery, as a worker gets it. `attempt` counts from 1 (more: an earlier worker
    died or failed while handling it). `reply_ref` is what an earlier attempt noted about the
    reply it had already posted (note_reply), so a retry can continue that reply instead of posting
    a second one."""

    id: str
    key: str
    kind: str
    lane: str
    payload: JsonObject
    received_at: datetime
    attempt: int = 1
    reply_ref: JsonObject | None = field(default=None)


# Handles one delivery. Returning means done (the delivery is completed and its payload dropped);
# raising means "try again later" (another attempt, with backoff, up to a bound); raising HandBack
# means "not in this process": another attempt at once, and no error logged.
DeliveryHandler = Callable[[Delivery], Awaitable[None]]


class HandBack(Exception):
    """Raised by a handler whose process is stopping before it could answer: nothing failed, so
    the delivery goes back to the intake at once (no backoff) for the next worker, logged as
    information, not as an error. It still counts as an attempt (the next one must not take the
    message for a duplicate of its own claim). Only for a process that will take no more work:
    one that hands back what it would lease again would spin."""


class Intake(Protocol):
    """Every method raises core.errors.StorageError when the backend fails."""

    async def accept(self, delivery: NewDelivery) -> bool:
        """Record it durably (before the platform is acknowledged). False, and nothing recorded,
        when a delivery with this key was accepted before (a duplicate)."""
        ...

    async def serve(self, handler: DeliveryHandler, *, concurrency: int) -> None:
        """Hand deliveries to `handler` until `stop()`: at least once each, one at a time per
        lane, in arrival order; `concurrency` deliveries of different lanes at once."""
        ...

    async def stop(self, *, grace: float) -> None:
        """Stop taking deliveries; let those being handled finish for up to `grace` seconds (what
        does not finish is handed to another worker once its lease expires)."""
        ...

    async def note_reply(self, delivery_id: str, ref: JsonObject) -> None:
        """Remember what was posted for this delivery so far (a retry continues it)."""
        ...

    async def pending(self) -> int:
        """Deliveries accepted and not yet done (for readiness and metrics)."""
        ...

    async def fold_old_pages(self) -> None:
        """Physically drop what is left of answered deliveries' words (an erasure calls it): the
        SQLite inbox folds its WAL into the file and truncates it now rather than once idle; on
        Postgres the server's WAL is not ours to rewrite (recycled by the server). Never raises for
        a busy file: the idle-time fold follows."""
        ...

    async def purge(self, *, before: datetime) -> int:
        """Forget the keys of deliveries done before `before` (they only deduplicate)."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class HoldingIntake(Intake, Protocol):
    """An inbox a front door can also answer from itself (the HTTP API, whose client waits on the
    connection): `hold` records the delivery already leased to this process, so no worker takes it
    while this process answers; if the process dies, the lease expires and a worker answers it.
    Optional: a front door answers directly, without a record, when its inbox lacks it."""

    async def hold(self, delivery: NewDelivery) -> Delivery | None:
        """Record it leased to the calling task (a lost lease cancels that task). None for a
        duplicate (nothing recorded)."""
        ...

    async def release(self, delivery_id: str) -> None:
        """This process answered it (or told its client why not): done."""
        ...


__all__ = [
    "Delivery",
    "DeliveryHandler",
    "HandBack",
    "HoldingIntake",
    "Intake",
    "JsonObject",
    "NewDelivery",
]
