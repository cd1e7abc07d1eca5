"""The embedded inbox: a SQLite file in DATA_DIR, shared by the processes of one machine.

Hand-written on purpose: the maintained Python queues that run on SQLite (huey, persist-queue,
litequeue) have no leases that expire when a worker dies, or no per-key ordering, and the Postgres
engine used with a database (procrastinate) does not run on SQLite. What is needed here is small:
one table, a lease per delivery, and "the oldest open delivery of a lane goes first".

A worker leases the head of each lane (the oldest delivery not yet done), marks it with a lease
that it renews while handling it, and completes it (the payload, which holds a person's words, is
dropped then; the key stays to deduplicate). A worker that dies stops renewing: when the lease
expires, any worker leases the delivery again (attempt + 1). A handler that raises gets the
delivery back after a backoff, up to MAX_ATTEMPTS; a HandBack (the process stops), others at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.errors import StorageError
from core.intake.model import Delivery, DeliveryHandler, HandBack, JsonObject, NewDelivery
from core.intake.sqlite_inbox import ACCEPT_FSYNC, InboxConnection, anything_leasable, ts

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# How long a worker has had nothing in hand before it truncates the WAL (_forget_old_pages).
CHECKPOINT_AFTER_IDLE = 1.0
RETRY_BASE = timedelta(seconds=2)


class SQLiteIntake:
    """`await SQLiteIntake.open(path)`; several processes may open the same file."""

    def __init__(
        self,
        db: InboxConnection,
        *,
        clock: Callable[[], datetime],
        lease: timedelta,
        poll_interval: float,
        retry_base: timedelta,
        watch_interval: float = 0.02,
    ) -> None:
        self._db = db
        self._clock = clock
        self._lease = lease
        self._poll = poll_interval
        self._watch = watch_interval
        self._seen_version = -1  # the inbox's data_version at the last look for work
        self._retry_base = retry_base
        self._worker = f"w-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._running: set[asyncio.Task[None]] = set()
        self._held: dict[str, asyncio.Task[Any]] = {}  # delivery id -> the task answering it
        self._renewer: asyncio.Task[None] | None = None
        self._forgetter: asyncio.Task[None] | None = None  # the WAL's checkpoint, once idle
        self._last_finished = 0.0  # loop time a delivery of this process last finished
        self._progress = asyncio.Event()  # a delivery of this process was completed or put back

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        clock: Callable[[], datetime],
        lease: timedelta = timedelta(seconds=10),
        poll_interval: float = 0.25,
        retry_base: timedelta = RETRY_BASE,
        watch_interval: float = 0.02,
    ) -> SQLiteIntake:
        """`watch_interval`: how often a waiting worker looks whether another process wrote to the
        inbox (a read of a counter in shared memory); `poll_interval`: how often it looks for
        deliveries anyway (leases that ran out, retries due)."""
        return cls(
            await InboxConnection.open(path),
            clock=clock,
            lease=lease,
            poll_interval=poll_interval,
            retry_base=retry_base,
            watch_interval=watch_interval,
        )

    # -- front doors ---------------------------------------------------------------------------------
    async def accept(self, delivery: NewDelivery) -> bool:
        if not delivery.key:
            raise ValueError("a delivery needs a key")
        row = (
            uuid.uuid4().hex,
            delivery.key,
            delivery.kind,
            delivery.lane,
            json.dumps(dict(delivery.payload)),
            ts(delivery.received_at),
            ts(self._clock()),
        )

        # Acknowledged once this returns: fsynced, it survives any process and a power cut.
        inserted = await self._db.write(
            "INSERT OR IGNORE INTO deliveries (id, key, kind, lane, payload, received_at, accepted_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            row,
            durable=ACCEPT_FSYNC,
        )
        accepted = inserted == 1
        if accepted:
            self._wake.set()  # a worker in this process starts at once; others poll
        return accepted

    async def hold(self, delivery: NewDelivery) -> Delivery | None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("hold() needs a task to hand a lost lease to")
        recorded = Delivery(
            id=uuid.uuid4().hex,
            key=delivery.key,
            kind=delivery.kind,
            lane=delivery.lane,
            payload=delivery.payload,
            received_at=delivery.received_at,
        )
        now = self._clock()
        row = (
            recorded.id,
            delivery.key,
            delivery.kind,
            delivery.lane,
            json.dumps(dict(delivery.payload)),
            ts(delivery.received_at),
            ts(now),
            self._worker,
            ts(now + self._lease),
        )

        # Like accept: if this process dies, a worker answers it from this record.
        inserted = await self._db.write(
            "INSERT OR IGNORE INTO deliveries (id, key, kind, lane, payload, received_at, accepted_at, "
            "attempts, leased_by, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            row,
            durable=ACCEPT_FSYNC,
        )
        if inserted != 1:
            return None
        self._held[recorded.id] = task
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._keep_leases(), name="intake-leases")
        return recorded

    async def release(self, delivery_id: str) -> None:
        self._held.pop(delivery_id, None)
        await self._complete(delivery_id)

    # -- workers ---------------------------------------------------------------------------------------
    async def serve(self, handler: DeliveryHandler, *, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._keep_leases(), name="intake-leases")
        while not self._stopping:
            self._wake.clear()
            free = concurrency - len(self._running)
            try:
                self._seen_version = await self._db.data_version()
                leased = await self._lease_heads(free) if free > 0 else []
            except StorageError as exc:  # the disk is full, the file locked too long...: try again
                log.error("could not take deliveries (%s); trying again", exc)
                leased = []
            for delivery in leased:
                task = asyncio.create_task(self._handle(handler, delivery), name=f"delivery-{delivery.id}")
                self._running.add(task)
                task.add_done_callback(self._finished)
            if leased and len(leased) == free:
                continue  # there may be more waiting right now
            await self._wait_for_work()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._last_finished = asyncio.get_running_loop().time()
        self._wake.set()  # a slot is free, and the next delivery of its lane may be taken

    async def _wait_for_work(self) -> None:
        """Until this process accepted or finished a delivery (`_wake`), another process wrote to
        the inbox (data_version moved, looked at every `watch_interval`), or `poll_interval` passed
        (a lease ran out or a retry's backoff ended, which no write announces)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._poll
        while (remaining := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(self._watch, remaining))
                return
            except TimeoutError:
                pass
            try:
                if await self._db.data_version() != self._seen_version:
                    return
            except StorageError:
                return  # the lease attempt says what is wrong

    async def _lease_heads(self, limit: int) -> list[Delivery]:
        now = self._clock()
        until = ts(now + self._lease)
        # Look before taking the write lock: an idle worker's polls must not make the front
        # doors' acks wait (SQLite's busy handler sleeps in steps of milliseconds).
        if not await self._db._read(functools.partial(anything_leasable, now=ts(now))):
            return []

        rows = await self._db.lease(worker=self._worker, now=ts(now), until=until, limit=limit)
        for row in rows:
            if row["attempts"] > 1:
                log.warning("delivery taken up again kind=%s attempt=%d", row["kind"], row["attempts"])
        return [
            Delivery(
                id=row["id"],
                key=row["key"],
                kind=row["kind"],
                lane=row["lane"],
                payload=json.loads(row["payload"] or "{}"),
                received_at=datetime.fromisoformat(row["received_at"]),
                attempt=row["attempts"],
                reply_ref=json.loads(row["reply_ref"]) if row["reply_ref"] else None,
            )
            for row in rows
        ]

    async def _handle(self, handler: DeliveryHandler, delivery: Delivery) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._held[delivery.id] = task
        try:
            try:
                await handler(delivery)
            except asyncio.CancelledError:
                raise  # stopped, or the lease was lost: the delivery's current holder finishes it
            except HandBack as why:  # this process is stopping: it leases nothing more, others at once
                log.info("delivery handed back kind=%s attempt=%d: %s", delivery.kind, delivery.attempt, why)
                self._stopping = True
                self._held.pop(delivery.id, None)
                await self._db.put_back(delivery.id, not_before=None)
                self._progress.set()
            except Exception:
                log.exception("delivery failed kind=%s attempt=%d", delivery.kind, delivery.attempt)
                self._held.pop(delivery.id, None)
                await self._retry_later(delivery)
            else:
                self._held.pop(delivery.id, None)
                await self._complete(delivery.id)
        finally:
            self._held.pop(delivery.id, None)
        if not any(other is not task for other in self._running):
            self._went_idle()

    async def _keep_leases(self) -> None:
        """Renew the leases of every delivery this process holds, in one statement per period (a
        renewal per delivery would queue behind the others' writes under load, and a late renewal
        hands a delivery to a second worker while the first still answers it). A delivery whose
        lease was lost anyway (this process stalled past the lease) is given up at once: its new
        holder answers it, and this one must not post next to it."""

        while True:
            await asyncio.sleep(self._lease.total_seconds() / 4)
            ids = list(self._held)
            if not ids:
                continue
            kept = await self._db.renew(worker=self._worker, ids=ids, until=ts(self._clock() + self._lease))
            for lost in set(ids) - kept:
                task = self._held.pop(lost, None)
                if task is not None:
                    log.warning("lease lost (this process stalled); leaving the delivery to its new holder")
                    task.cancel()

    def _went_idle(self) -> None:
        if self._forgetter is None or self._forgetter.done():
            self._forgetter = asyncio.create_task(self._forget_old_pages(), name="intake-checkpoint")

    async def _forget_old_pages(self) -> None:
        """A person's words stay in the WAL's older frames after their payload is dropped
        (secure_delete zeroes them in the database pages only): once this process has had nothing
        in hand for CHECKPOINT_AFTER_IDLE, fold the WAL into the file and truncate it. Not at every
        idle moment (a worker keeping up with a steady stream is idle between most deliveries): the
        checkpoint shuts every writer out for its fsyncs, the web process's accepts included.
        Under constant load SQLite's own checkpoints (every 1,000 pages) bound the WAL instead."""
        loop = asyncio.get_running_loop()
        while (quiet := loop.time() - self._last_finished) < CHECKPOINT_AFTER_IDLE or self._running:
            if self._running:
                await self.idle()
            else:
                await asyncio.sleep(CHECKPOINT_AFTER_IDLE - quiet)
        await self.fold_old_pages()

    async def fold_old_pages(self) -> None:
        try:
            await self._db._run(self._db._checkpoint)
        except StorageError as exc:  # busy readers in another process: the next idle moment
            log.debug("intake checkpoint skipped (%s)", exc)

    async def _complete(self, delivery_id: str) -> None:
        now = ts(self._clock())
        # Not durable: a completion lost to a power cut means the delivery is answered again after
        # the restart, and the responder's claim recognises a message it has answered.
        await self._db.write(
            "UPDATE deliveries SET done_at = ?, payload = NULL, reply_ref = NULL, leased_by = NULL, "
            "lease_until = NULL, lease_token = NULL WHERE id = ?",
            (now, delivery_id),
            durable=False,
        )
        self._progress.set()

    async def _retry_later(self, delivery: Delivery) -> None:
        if delivery.attempt >= MAX_ATTEMPTS:
            log.error("delivery given up after %d attempts kind=%s", delivery.attempt, delivery.kind)
            await self._complete(delivery.id)
            return
        not_before = ts(self._clock() + self._retry_base * (2 ** (delivery.attempt - 1)))
        await self._db.put_back(delivery.id, not_before=not_before)
        self._progress.set()

    async def note_reply(self, delivery_id: str, ref: JsonObject) -> None:
        encoded = json.dumps(dict(ref))
        # Not durable: lost to a power cut, a retry posts its reply anew instead of continuing the
        # one noted (the same as a process dying between the post and this note).
        await self._db.write(
            "UPDATE deliveries SET reply_ref = ? WHERE id = ?", (encoded, delivery_id), durable=False
        )

    async def idle(self) -> None:
        """Return once no delivery is being handled by this process."""
        while self._running:
            await asyncio.wait(set(self._running))

    async def drained(self) -> None:
        """Return once no delivery is open (accepted and not done), in any process. Re-checks after
        each delivery this process finishes, and every poll interval for the others' work."""
        while True:
            self._progress.clear()
            if await self.pending() == 0:
                await self.idle()  # this process's tasks finish their bookkeeping
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=self._poll)

    async def stop(self, *, grace: float) -> None:
        self._stopping = True
        self._wake.set()
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=grace)
            for task in late:
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        unfolded = self._forgetter is not None and not self._forgetter.done()
        await self._cancel_background()
        if unfolded:  # the words of the last deliveries leave the WAL now, not at the next start
            await self.fold_old_pages()

    async def _cancel_background(self) -> None:
        for task in (self._renewer, self._forgetter):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._renewer = self._forgetter = None

    # -- bookkeeping -------------------------------------------------------------------------------------
    async def pending(self) -> int:
        row = await self._db._read(
            lambda conn: conn.execute("SELECT count(*) FROM deliveries WHERE done_at IS NULL").fetchone()
        )
        return int(row[0])

    async def purge(self, *, before: datetime) -> int:
        cutoff = ts(before)
        return int(
            await self._db._tx(
                lambda conn: (
                    conn.execute(
                        "DELETE FROM deliveries WHERE done_at IS NOT NULL AND done_at < ?", (cutoff,)
                    ).rowcount
                )
            )
        )

    async def ping(self) -> None:
        await self._db.ping()

    async def close(self) -> None:
        await self._cancel_background()
        await self._db.close()


__all__ = ["MAX_ATTEMPTS", "SQLiteIntake"]
