"""Memory writes, off the reply's critical path.

A bounded in-process queue feeds a few worker tasks that call `MemoryService.remember`. Nothing the
person said is lost: when the queue is full, when a write fails, or when shutdown's grace period
runs out, the exchange goes to the store's durable `pending_memory_writes`, which the retry job
(core.jobs) works through with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.errors import BotError, StorageError
from core.memory import MemoryService
from core.models import MemoryOrigin
from core.storage import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Job:
    account_id: uuid.UUID
    messages: list[dict[str, str]]
    origin: MemoryOrigin
    generation: int


class MemoryWriter:
    def __init__(
        self,
        *,
        memory: MemoryService,
        store: Store,
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
        self._spill: set[asyncio.Task[None]] = set()
        self._in_flight: list[_Job] = []
        self._job_done = asyncio.Condition()
        # Bumped when an account's memory is cleared, so writes queued before that are dropped.
        self._generations: dict[uuid.UUID, int] = {}
        # Merged accounts: writes queued for the old account land on the one it merged into.
        self._redirects: dict[uuid.UUID, uuid.UUID] = {}

    def start(self) -> None:
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._work(), name=f"memory-writer-{i}")
                for i in range(self._worker_count)
            ]

    @property
    def pending(self) -> int:
        return self._queue.qsize() + len(self._spill)

    def submit(
        self,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        origin: MemoryOrigin,
    ) -> None:
        """Never blocks and never raises: a full queue spills to durable storage."""
        job = _Job(account_id, messages, origin, self._generations.get(account_id, 0))
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            log.warning("memory write queue full; keeping the exchange for the retry job")
            task = asyncio.create_task(self._keep(job, "queue full"))
            self._spill.add(task)
            task.add_done_callback(self._spill.discard)

    async def forget_account(self, account_id: uuid.UUID, *, timeout: float = 60.0) -> None:
        """Drop writes queued for this account and wait for its in-flight ones to finish, so that an
        erasure that follows cannot be undone by a write landing after it."""
        self._generations[account_id] = self._generations.get(account_id, 0) + 1
        await self._wait_in_flight(account_id, timeout)

    async def retarget(self, source: uuid.UUID, target: uuid.UUID, *, timeout: float = 60.0) -> None:
        """Accounts are being merged: queued writes for `source` go to `target` from now on, and
        writes for `source` already in flight finish before this returns (so a move after it sees them)."""
        self._redirects[source] = target
        await self._wait_in_flight(source, timeout)

    def release(self, source: uuid.UUID) -> None:
        """A merge did not happen after all: writes for `source` stay on `source` again."""
        self._redirects.pop(source, None)

    def _account(self, account_id: uuid.UUID) -> uuid.UUID:
        seen = set()
        while account_id in self._redirects and account_id not in seen:
            seen.add(account_id)
            account_id = self._redirects[account_id]
        return account_id

    async def _wait_in_flight(self, account_id: uuid.UUID, timeout: float) -> None:
        def idle() -> bool:
            return all(job.account_id != account_id for job in self._in_flight)

        async with self._job_done:
            try:
                await asyncio.wait_for(self._job_done.wait_for(idle), timeout=timeout)
            except TimeoutError:
                log.warning("a memory write is still running for an account being erased or merged")

    def _stale(self, job: _Job) -> bool:
        return job.generation != self._generations.get(job.account_id, 0)

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self._in_flight.append(job)
            try:
                if not self._stale(job):
                    await self._write(job)
            finally:
                self._in_flight.remove(job)
                self._queue.task_done()
                async with self._job_done:
                    self._job_done.notify_all()

    async def _write(self, job: _Job) -> None:
        try:
            await self._memory.remember(self._account(job.account_id), job.messages, origin=job.origin)
        except BotError as exc:
            log.warning("memory write failed (%s); keeping it for the retry job", exc)
            await self._keep(job, str(exc))
        except Exception:  # a bug must not kill the worker
            log.exception("memory write crashed; keeping it for the retry job")
            await self._keep(job, "unexpected error")

    async def _keep(self, job: _Job, error: str) -> None:
        if self._stale(job):
            return
        try:
            await self._store.add_pending_write(
                account_id=self._account(job.account_id),
                messages=job.messages,
                origin=job.origin,
                now=self._clock(),
                error=error,
            )
        except StorageError:
            log.exception("could not keep a failed memory write; it is lost")

    async def flush(self, timeout: float) -> bool:
        """Wait until every queued write is done (written or kept for retry); keep the workers."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout=timeout)
            if self._spill:
                await asyncio.wait_for(asyncio.gather(*self._spill, return_exceptions=True), timeout=timeout)
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
        if self._spill:
            await asyncio.gather(*self._spill, return_exceptions=True)
