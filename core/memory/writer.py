"""Memory writes, off the reply's critical path, and the one way any memory write lands.

A bounded in-process queue feeds a few worker tasks. Nothing the person said is lost: when the
queue is full, when a write fails, or when shutdown's grace period runs out, the exchange goes to
the store's durable `pending_memory_writes`, which the retry job (core.jobs) works through.

Every write, queued or retried, goes through `land_memory_write`, which keeps erasure a barrier
(core.erasure): a write carries the erasure epoch its account had when the exchange happened; it
is dropped if the account was erased or paused before the write began, and what it wrote is
discarded if that happened while it ran. An erasure moves the epoch *before* it erases memories,
so either the erasure sees the write, or the check after the write sees the new epoch. A write whose
account was merged into another meanwhile follows the merge (Store.memory_write_target).

Updates win at write time: after extraction, the model judges which older memories the new ones
replace (MemoryService.find_replaced; not asked at all if the account was erased or paused since
the write began), and those are forgotten only once the write stands, after the check above, on
the account it landed on: a write that is dropped or discarded replaces nothing, so an erasure or a
pause in the middle loses no older memory, and an erasure that began meanwhile waits for the write
(Removals.erase settles it) and then erases everything anyway. A judge or a forget that fails
leaves the older memories as they are; the write stands either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from core import metrics
from core.errors import BotError, MemoryBackendError, StorageError
from core.memory.service import MemoryService
from core.models import MemoryOrigin, WriteTarget
from core.redaction import short_hash
from core.storage import MemoryWriteStore

log = logging.getLogger(__name__)

# Merges chain (A into B, then B into C) only as often as people link accounts; a write that keeps
# finding a newer merge after this many hops is left where it is for housekeeping.
_MAX_MERGE_HOPS = 8


class WriteOutcome(enum.StrEnum):
    WRITTEN = "written"
    DROPPED = "dropped"  # the account was erased or paused before the write began: nothing written
    DISCARDED = "discarded"  # ... or while it ran: what it wrote was undone


@dataclass(frozen=True, slots=True)
class LandedWrite:
    outcome: WriteOutcome
    target: WriteTarget | None = None
    memory_ids: list[str] = field(default_factory=list)
    replaced_ids: list[str] = field(default_factory=list)  # older memories the write replaced


async def land_memory_write(
    *,
    store: MemoryWriteStore,
    memory: MemoryService,
    account_id: uuid.UUID,
    epoch: int,
    messages: list[dict[str, str]],
    origin: MemoryOrigin,
    said_at: datetime | None = None,
) -> LandedWrite:
    """Write one exchange's memories for (account, epoch), unless that must not happen any more.
    `said_at`: when the exchange happened (the memories' learned date; default: now).
    Raises what `remember` raises (the caller keeps the write for a retry)."""
    target = await store.memory_write_target(account_id, epoch)
    if target is None:
        return LandedWrite(WriteOutcome.DROPPED)
    # Passed only when known, so a MemoryService written before `said_at` existed still fits.
    when = {} if said_at is None else {"said_at": said_at}
    added = await memory.remember(target.account_id, messages, origin=origin, epoch=target.epoch, **when)

    async def still_current() -> bool:
        return await store.memory_write_target(account_id, epoch) == target

    replaced = await memory.find_replaced(
        target.account_id, added, origin=origin, epoch=target.epoch, still_current=still_current
    )
    landed = await settle_memory_write(
        store=store, memory=memory, written=target, memory_ids=[item.id for item in added]
    )
    if not replaced or landed.outcome is not WriteOutcome.WRITTEN or landed.target is None:
        return landed
    try:
        gone = await memory.forget_replaced(landed.target.account_id, replaced, epoch=landed.target.epoch)
    except MemoryBackendError as exc:
        log.warning("could not forget the memories a write replaced (%s); they stay", exc)
        return landed
    if gone:
        log.info("a memory write replaced %d older memories account=%s", len(gone), short_hash(account_id))
    return dataclasses.replace(landed, replaced_ids=gone)


async def settle_memory_write(
    *, store: MemoryWriteStore, memory: MemoryService, written: WriteTarget, memory_ids: list[str]
) -> LandedWrite:
    """After a write landed on `written`: keep it if that still holds, follow a merge that happened
    meanwhile, or discard it if the account was erased or paused meanwhile."""
    if not memory_ids:
        return LandedWrite(WriteOutcome.WRITTEN, written, [])
    for _ in range(_MAX_MERGE_HOPS):
        now = await store.memory_write_target(written.account_id, written.epoch)
        if now == written:
            return LandedWrite(WriteOutcome.WRITTEN, written, memory_ids)
        if now is None:
            await memory.discard(written.account_id, memory_ids)
            return LandedWrite(WriteOutcome.DISCARDED, written, memory_ids)
        memory_ids = await memory.move(
            written.account_id, now.account_id, epoch=now.epoch, memory_ids=memory_ids
        )
        written = now
    log.warning("a memory write kept following merges; leaving it for housekeeping")
    return LandedWrite(WriteOutcome.WRITTEN, written, memory_ids)


@dataclass(frozen=True, slots=True)
class _Job:
    account_id: uuid.UUID
    epoch: int
    messages: list[dict[str, str]]
    origin: MemoryOrigin
    said_at: datetime | None = None


class MemoryWriter:
    def __init__(
        self,
        *,
        memory: MemoryService,
        store: MemoryWriteStore,
        clock: Callable[[], datetime],
        queue_size: int,
        workers: int,
    ) -> None:
        self._memory = memory
        self._store = store
        self._clock = clock
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self._worker_count = workers
        self._workers: list[asyncio.Task[None]] = []
        self._in_flight: list[_Job] = []
        self._job_done = asyncio.Condition()
        self._written_listeners: list[Callable[[uuid.UUID], None]] = []

    def on_written(self, listener: Callable[[uuid.UUID], None]) -> None:
        """Call `listener(account_id)` after a write added memories to that account (views that
        show a person's memories refresh). It must not block; its errors are logged."""
        self._written_listeners.append(listener)

    def start(self) -> None:
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._write_queued(), name=f"memory-writer-{i}")
                for i in range(self._worker_count)
            ]

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def submit(
        self,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        origin: MemoryOrigin,
        *,
        epoch: int,
    ) -> None:
        """Never raises. A full queue spills to durable storage, awaited here (one store write) so
        that spilling is bounded by the replies in flight, not by spawned tasks."""
        job = _Job(account_id, epoch, messages, origin, said_at=self._clock())
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            log.warning("memory write queue full; keeping the exchange for the retry job")
            metrics.MEMORY_WRITE_FAILURES.labels("queue_full").inc()
            await self._keep(job, "queue full")

    async def settle_account(self, account_id: uuid.UUID, *, timeout: float = 60.0) -> None:
        """Wait until no write of this account is running in this process. An erasure calls it so
        that a write already underway has discarded itself before the erasure says it is done.
        (Queued writes need no waiting: they check the epoch when they start.)"""

        def idle() -> bool:
            return all(job.account_id != account_id for job in self._in_flight)

        async with self._job_done:
            try:
                await asyncio.wait_for(self._job_done.wait_for(idle), timeout=timeout)
            except TimeoutError:
                log.warning("a memory write is still running for an account being erased")

    async def _write_queued(self) -> None:
        """One worker: take queued writes one at a time, until drain cancels it."""
        while True:
            job = await self._queue.get()
            self._in_flight.append(job)
            try:
                await self._write(job)
            finally:
                self._in_flight.remove(job)
                self._queue.task_done()
                async with self._job_done:
                    self._job_done.notify_all()

    async def _write(self, job: _Job) -> None:
        try:
            landed = await land_memory_write(
                store=self._store,
                memory=self._memory,
                account_id=job.account_id,
                epoch=job.epoch,
                messages=job.messages,
                origin=job.origin,
                said_at=job.said_at,
            )
        except BotError as exc:
            log.warning("memory write failed (%s); keeping it for the retry job", exc)
            metrics.MEMORY_WRITE_FAILURES.labels("error").inc()
            await self._keep(job, str(exc))
            return
        except Exception:  # a bug must not kill the worker
            log.exception("memory write crashed; keeping it for the retry job")
            metrics.MEMORY_WRITE_FAILURES.labels("crash").inc()
            await self._keep(job, "unexpected error")
            return
        metrics.MEMORY_WRITES.labels(landed.outcome.value).inc()
        if landed.outcome is not WriteOutcome.WRITTEN:
            log.info("memory write %s: the account was erased or paused meanwhile", landed.outcome.value)
        elif landed.memory_ids and landed.target is not None:
            for listener in self._written_listeners:
                try:
                    listener(landed.target.account_id)
                except Exception:  # a view that cannot refresh must not fail the write
                    log.exception("memory-written listener failed")

    async def _keep(self, job: _Job, error: str) -> None:
        try:
            kept = await self._store.add_pending_write(
                account_id=job.account_id,
                messages=job.messages,
                origin=job.origin,
                now=self._clock(),
                epoch=job.epoch,
                error=error,
            )
        except StorageError:
            log.exception("could not keep a failed memory write; it is lost")
            return
        if kept is None:
            log.info("memory write dropped: the account was erased meanwhile")

    async def flush(self, timeout: float) -> bool:
        """Wait until every queued write is done (written or kept for retry); keep the workers."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout=timeout)
        except TimeoutError:
            return False
        return True

    async def drain(self, timeout: float) -> None:
        """Finish queued writes within `timeout` seconds, then keep the rest durably and stop."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout=timeout)
        except TimeoutError:
            log.warning(
                "memory writes still queued after %.1fs; keeping them for the retry job",
                timeout,
            )
        interrupted = list(self._in_flight)
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []
        for job in interrupted:
            await self._keep(job, "shutdown")
        while not self._queue.empty():
            await self._keep(self._queue.get_nowait(), "shutdown")
