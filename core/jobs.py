"""Background jobs, platform-neutral: what runs on a schedule and how one run is claimed.

Jobs:
- close-idle-sessions: close sessions idle past the idle timeout (the next message starts fresh).
- purge-old-messages: delete stored messages older than MESSAGE_RETENTION_DAYS (0 keeps them), and
  bookkeeping older than a week: processed-event claims (dedupe, job slots), failed link attempts,
  expired link codes. A week is far past any platform's redelivery window.
- retry-memory-writes: work through the store's pending memory writes (exchanges whose memory write
  failed, overflowed the queue or was interrupted by a shutdown) with exponential backoff, until
  they succeed or expire; writes of paused accounts are dropped, as the person asked.
- memory-housekeeping: per account, merge duplicate memories and keep the newest of superseded
  facts (mem0 only ever adds), never touching paused accounts.
- purge-memory-vectors: with memory on Postgres, rewrite the vector table's files (VACUUM FULL)
  when memories were forgotten since the last rewrite, every VECTOR_PURGE_INTERVAL_MINUTES: the
  bound on how long forgotten text stays in the files (forgetting itself deletes at once).
- index-memory-vectors: with memory on Postgres, give people with many memories an HNSW index of
  their own, and drop the ones no longer wanted (core.memory.vectors.postgres_personal).

Exactly one runner per run: every process's scheduler fires at the same epoch-aligned instants, and
a run first claims `job:<name>:<slot>` through the store's `claim_event`, which is exactly-once
across processes sharing the database (SQLite file locks; a primary key in Postgres). The loser
skips. Long jobs also stop at a deadline well inside their interval, so a run in one process does
not overlap the next slot's run in another.

The scheduling itself (APScheduler) lives in bot/scheduler.py; this module has no timer of its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import psycopg

from core.erasure import Removals
from core.errors import BotError, UserFacingError
from core.memory.service import MemoryService
from core.memory.vectors.postgres_personal import IndexChanges
from core.memory.writer import WriteOutcome, land_memory_write
from core.models import PendingMemoryWrite
from core.redaction import short_hash
from core.storage import Store

log = logging.getLogger(__name__)

ShouldStop = Callable[[], bool]

CLOSE_IDLE_SESSIONS = "close-idle-sessions"
PURGE_OLD_MESSAGES = "purge-old-messages"
RETRY_MEMORY_WRITES = "retry-memory-writes"
MEMORY_HOUSEKEEPING = "memory-housekeeping"
PURGE_MEMORY_VECTORS = "purge-memory-vectors"
INDEX_MEMORY_VECTORS = "index-memory-vectors"


class RunClaimer(Protocol):
    """What a run slot is claimed through; `core.storage.Store` satisfies it."""

    async def claim_event(self, key: str, *, now: datetime) -> bool: ...


class VectorPurger(Protocol):
    """Rewrites the memory vector table's files if memories were deleted since the last rewrite
    (core.memory.vectors.postgres_purge.VectorPurge); blocking, so run in a thread."""

    def run(self) -> bool: ...


class VectorIndexer(Protocol):
    """Builds and drops per-person recall indexes (core.memory.vectors.postgres_personal.
    PersonalIndexes); blocking, so run in a thread."""

    def run(self, should_stop: Callable[[], bool]) -> IndexChanges: ...


class UnknownJobError(UserFacingError):
    """`jobs run NAME` with a name that is not a job."""


@dataclass(frozen=True, slots=True)
class JobResult:
    """What one run did, as counts (for logs and `python -m bot jobs run`)."""

    counts: Mapping[str, int] = field(default_factory=dict)
    stopped_early: bool = False

    @property
    def did_something(self) -> bool:
        return any(self.counts.values())

    def summary(self) -> str:
        parts = [f"{key}={value}" for key, value in self.counts.items()]
        if self.stopped_early:
            parts.append("stopped_early=true")
        return " ".join(parts) or "nothing to do"


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    every: timedelta
    description: str


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """A job as the scheduler sees it: when, and what to call (with a should-stop probe)."""

    spec: JobSpec
    run: Callable[[ShouldStop], Awaitable[JobResult]]


@dataclass(frozen=True, slots=True)
class JobOptions:
    idle_timeout: timedelta
    retention: timedelta | None  # None keeps messages forever
    retry_max_age: timedelta
    merge_similarity: float
    bookkeeping_retention: timedelta = timedelta(days=7)
    retry_batch: int = 100
    retry_base_delay: timedelta = timedelta(minutes=1)
    retry_max_delay: timedelta = timedelta(hours=1)
    # A backend that fails this many writes in a row is down: stop hammering it until the next run.
    retry_failure_streak: int = 3


DEFAULT_SPECS: tuple[JobSpec, ...] = (
    JobSpec(CLOSE_IDLE_SESSIONS, timedelta(minutes=5), "close sessions idle past SESSION_IDLE_MINUTES"),
    JobSpec(PURGE_OLD_MESSAGES, timedelta(hours=1), "delete old messages and bookkeeping"),
    JobSpec(RETRY_MEMORY_WRITES, timedelta(minutes=1), "retry failed memory writes with backoff"),
    JobSpec(MEMORY_HOUSEKEEPING, timedelta(hours=6), "merge duplicate and superseded memories"),
    JobSpec(PURGE_MEMORY_VECTORS, timedelta(minutes=60), "rewrite the Postgres memory table's files"),
    JobSpec(INDEX_MEMORY_VECTORS, timedelta(minutes=15), "index heavy users' memories on Postgres"),
)


def job_specs(*, vector_purge_every: timedelta) -> tuple[JobSpec, ...]:
    """DEFAULT_SPECS with the configured interval of the vector purge."""
    return tuple(
        JobSpec(spec.name, vector_purge_every, spec.description)
        if spec.name == PURGE_MEMORY_VECTORS
        else spec
        for spec in DEFAULT_SPECS
    )


def run_slot(now: datetime, every: timedelta) -> int:
    """The number of the interval `now` falls in, counted from the Unix epoch. Schedulers fire at
    slot boundaries, so every process computes the same slot for the same run."""
    return math.floor(now.timestamp() / every.total_seconds())


def run_key(name: str, slot: int) -> str:
    return f"job:{name}:{slot}"


def retry_delay(attempts: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential backoff: base, 2*base, 4*base... capped. `attempts` = failures so far."""
    return min(base * (1 << min(max(attempts, 0), 30)), cap)


def _never_stop() -> bool:
    return False


class Jobs:
    """The job functions over the core's store and memory. Every method returns a JobResult and
    raises BotError only when it could not run at all (e.g. the store is down)."""

    def __init__(
        self,
        *,
        store: Store,
        memory: MemoryService,
        removals: Removals,
        clock: Callable[[], datetime],
        options: JobOptions,
        specs: tuple[JobSpec, ...] = DEFAULT_SPECS,
        vector_purger: VectorPurger | None = None,
        vector_indexer: VectorIndexer | None = None,
    ) -> None:
        self._vector_purger = vector_purger
        self._vector_indexer = vector_indexer
        self._store = store
        self._memory = memory
        self._removals = removals
        self._clock = clock
        self._options = options
        self.specs = specs
        self._functions: dict[str, Callable[[ShouldStop], Awaitable[JobResult]]] = {
            CLOSE_IDLE_SESSIONS: self.close_idle_sessions,
            PURGE_OLD_MESSAGES: self.purge_old_messages,
            RETRY_MEMORY_WRITES: self.retry_memory_writes,
            MEMORY_HOUSEKEEPING: self.memory_housekeeping,
            PURGE_MEMORY_VECTORS: self.purge_memory_vectors,
            INDEX_MEMORY_VECTORS: self.index_memory_vectors,
        }
        unknown = {spec.name for spec in specs} - set(self._functions)
        if unknown:
            raise ValueError(f"no job function for {sorted(unknown)}")

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.specs]

    def scheduled(self) -> list[ScheduledJob]:
        return [ScheduledJob(spec, self._functions[spec.name]) for spec in self.specs]

    async def run(self, name: str, should_stop: ShouldStop = _never_stop) -> JobResult:
        """Run one job now (no slot claim). UnknownJobError names the valid jobs."""
        function = self._functions.get(name)
        if function is None or name not in self.names:
            raise UnknownJobError(f"No job called '{name[:60]}'. Jobs: {', '.join(self.names)}.")
        return await function(should_stop)

    # -- the jobs ------------------------------------------------------------------------------
    async def close_idle_sessions(self, should_stop: ShouldStop = _never_stop) -> JobResult:
        closed = await self._store.close_idle_sessions(
            now=self._clock(), idle_timeout=self._options.idle_timeout
        )
        return JobResult({"closed": closed})

    async def purge_old_messages(self, should_stop: ShouldStop = _never_stop) -> JobResult:
        now = self._clock()
        bookkeeping = await self._store.purge_bookkeeping(before=now - self._options.bookkeeping_retention)
        if self._options.retention is None:
            return JobResult({"deleted": 0, "bookkeeping": bookkeeping})
        deleted = await self._removals.purge_expired_messages(before=now - self._options.retention)
        return JobResult({"deleted": deleted, "bookkeeping": bookkeeping})

    async def purge_memory_vectors(self, should_stop: ShouldStop = _never_stop) -> JobResult:
        """Embedded memory purges on every forget; on Postgres this is the batched rewrite."""
        if self._vector_purger is None:
            return JobResult({"rewritten": 0})
        try:
            rewritten = await asyncio.to_thread(self._vector_purger.run)
        except (OSError, psycopg.Error) as exc:
            raise BotError(f"the memory vector purge could not run ({type(exc).__name__})") from exc
        return JobResult({"rewritten": int(rewritten)})

    async def index_memory_vectors(self, should_stop: ShouldStop = _never_stop) -> JobResult:
        """Embedded memory has no index to build; on Postgres, heavy users get their own."""
        if self._vector_indexer is None:
            return JobResult({"built": 0, "dropped": 0})
        try:
            changes = await asyncio.to_thread(self._vector_indexer.run, should_stop)
        except (OSError, psycopg.Error) as exc:
            raise BotError(f"the memory index job could not run ({type(exc).__name__})") from exc
        return JobResult({"built": changes.built, "dropped": changes.dropped})

    async def retry_memory_writes(self, should_stop: ShouldStop = _never_stop) -> JobResult:
        options = self._options
        counts = {"written": 0, "failed": 0, "expired": 0, "dropped_paused": 0}
        due = await self._store.due_pending_writes(now=self._clock(), limit=options.retry_batch)
        paused: dict[uuid.UUID, bool] = {}
        streak = 0
        for write in due:
            if should_stop():
                return JobResult(counts, stopped_early=True)
            now = self._clock()
            if now - write.created_at > options.retry_max_age:
                log.warning(
                    "memory write expired after %d attempts; dropping it account=%s",
                    write.attempts,
                    short_hash(write.account_id),
                )
                await self._store.complete_pending_write(write.id)
                counts["expired"] += 1
                continue
            if write.account_id not in paused:
                paused[write.account_id] = (await self._store.get_settings(write.account_id)).memory_paused
            if paused[write.account_id]:
                await self._store.complete_pending_write(write.id)
                counts["dropped_paused"] += 1
                continue
            outcome = await self._retry_one(write, now)
            if outcome != "failed":
                counts[outcome] = counts.get(outcome, 0) + 1
                streak = 0
                continue
            counts["failed"] += 1
            streak += 1
            if streak >= options.retry_failure_streak:
                log.warning("memory backend still failing; leaving the rest for the next run")
                return JobResult(counts, stopped_early=True)
        return JobResult(counts)

    async def _retry_one(self, write: PendingMemoryWrite, now: datetime) -> str:
        """The outcome: written, failed (rescheduled), dropped (erased before it began) or undone
        (erased while we wrote)."""
        try:
            landed = await land_memory_write(
                store=self._store,
                memory=self._memory,
                account_id=write.account_id,
                epoch=write.epoch,
                messages=write.messages,
                origin=write.origin,
                said_at=write.created_at,  # the memory was learned when it was said, not retried
            )
        except Exception as exc:
            error = str(exc) if isinstance(exc, BotError) else f"unexpected {type(exc).__name__}"
            if not isinstance(exc, BotError):
                log.exception("memory write retry crashed account=%s", short_hash(write.account_id))
            delay = retry_delay(
                write.attempts, base=self._options.retry_base_delay, cap=self._options.retry_max_delay
            )
            await self._store.reschedule_pending_write(write.id, next_attempt_at=now + delay, error=error)
            log.info(
                "memory write retry failed attempt=%d next_in_s=%d account=%s",
                write.attempts + 1,
                int(delay.total_seconds()),
                short_hash(write.account_id),
            )
            return "failed"
        finished = await self._store.complete_pending_write(write.id)
        if landed.outcome is WriteOutcome.WRITTEN and not finished and landed.target is not None:
            # The row vanished while we wrote: another process finished this write (or an erasure
            # removed it, which the epoch check has seen too). Either way ours must not stay.
            await self._memory.discard(landed.target.account_id, landed.memory_ids)
            log.info(
                "memory write retry undone: done or erased meanwhile account=%s", short_hash(write.account_id)
            )
            return "undone"
        if landed.outcome is WriteOutcome.DISCARDED:
            log.info("memory write retry undone: erased meanwhile account=%s", short_hash(write.account_id))
            return "undone"
        if landed.outcome is WriteOutcome.DROPPED:
            return "dropped"
        return "written"

    async def memory_housekeeping(self, should_stop: ShouldStop = _never_stop) -> JobResult:
        counts = {"accounts": 0, "merged": 0, "skipped_paused": 0, "failed": 0}
        accounts = await self._memory.account_ids()
        # A run cut short by its deadline must not always favour the same accounts.
        random.shuffle(accounts)
        for account_id in accounts:
            if should_stop():
                return JobResult(counts, stopped_early=True)
            # Read right before touching the account: a pause must win over a run already underway.
            account = await self._store.get_settings(account_id)
            if account.memory_paused:
                counts["skipped_paused"] += 1
                continue
            try:
                merged = await self._memory.consolidate(
                    account_id, epoch=account.epoch, similarity=self._options.merge_similarity
                )
            except BotError as exc:
                counts["failed"] += 1
                log.warning("housekeeping failed account=%s (%s)", short_hash(account_id), exc)
                continue
            counts["accounts"] += 1
            counts["merged"] += merged
            if merged:
                log.info("merged %d memories account=%s", merged, short_hash(account_id))
        return JobResult(counts)


__all__ = [
    "CLOSE_IDLE_SESSIONS",
    "DEFAULT_SPECS",
    "MEMORY_HOUSEKEEPING",
    "PURGE_OLD_MESSAGES",
    "RETRY_MEMORY_WRITES",
    "JobOptions",
    "JobResult",
    "JobSpec",
    "Jobs",
    "RunClaimer",
    "ScheduledJob",
    "ShouldStop",
    "UnknownJobError",
    "retry_delay",
    "run_key",
    "run_slot",
]
