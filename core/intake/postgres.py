"""The inbox on Postgres (SUPABASE_DB_URL): procrastinate, a maintained Postgres job queue, with
Mnemo's deliveries table beside it, in the `mnemo_intake` schema of that database.

Why procrastinate (3.x) and not pgqueuer (1.6): what the Intake port needs, one by one.
- One at a time per lane, in arrival order: procrastinate's `lock` is exactly that (a job waits
  while an earlier job with its lock is queued or running, retries included). pgqueuer has
  concurrency limits per entrypoint only, not per key: per-conversation order would be hand-written.
- Leases that expire when a worker dies: procrastinate workers heartbeat, and jobs of a worker whose
  heartbeat is older than the lease are handed back with `retry_job` (done here, by every serving
  process: `_reap`). pgqueuer re-queues on a stale heartbeat by itself: a point for it.
- Retries with backoff, stop with grace: both (procrastinate: a retry strategy, and
  `shutdown_graceful_timeout`, after which running jobs are cancelled and queued again at once).
- A dedupe key: neither keeps one after the job has run (procrastinate's `queueing_lock` and
  pgqueuer's `dedupe_key` only cover queued jobs), and a retried Slack event can arrive after its
  first copy was answered. So the key lives in Mnemo's `deliveries` table, inserted in the same
  transaction as the job: that table also holds the payload (procrastinate logs its jobs'
  arguments; the job carries only the delivery's id) and `note_reply`'s reference.
- Both run on psycopg 3, which Mnemo already uses; procrastinate also needs psycopg_pool.

Payloads (a person's words) are dropped when a delivery is done, as in the SQLite inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import procrastinate
import psycopg
import psycopg_pool
from procrastinate import exceptions as pexc
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from procrastinate.worker import Worker
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

from config import ConfigError
from core.errors import StorageError
from core.intake import postgres_schema
from core.intake.model import Delivery, DeliveryHandler, HandBack, JsonObject, NewDelivery
from core.intake.sqlite import MAX_ATTEMPTS, RETRY_BASE

# The vector store's handling of SUPABASE_DB_URL (libpq defaults, one-line errors without the
# password), shared rather than copied.
from core.memory.vectors.postgres_pool import SETTING, _conninfo, _one_line, _where
from core.storage.validation import aware

log = logging.getLogger(__name__)

QUEUE = "mnemo-intake"
TASK = "mnemo.intake.deliver"
_RESTART_DELAY = 1.0  # seconds before serving again after the worker stopped on a database error


@contextlib.asynccontextmanager
async def _storage_errors(what: str) -> AsyncIterator[None]:
    try:
        yield
    except (psycopg.Error, psycopg_pool.PoolTimeout, pexc.ConnectorException) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StorageError(f"intake database: {what} failed ({first})") from exc


class _Backoff(procrastinate.BaseRetryStrategy):
    """Failures come back after retry_base * 2^(attempt-1); a job cancelled by a stopping worker
    comes back at once, one handed back by a stopping handler (HandBack) after retry_base. How many
    failures are allowed is decided by `_deliver` (it gives up and completes the delivery), so this
    never refuses a retry."""

    def __init__(self, base: timedelta) -> None:
        self._base = base

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> procrastinate.RetryDecision:
        if isinstance(exception, asyncio.CancelledError | pexc.JobAborted):
            return procrastinate.RetryDecision(retry_in={"seconds": 0})
        # A hand-back not at once (this process's worker may still fetch it), but with no backoff.
        wait = self._base * (1 if isinstance(exception, HandBack) else 2 ** min(job.attempts, 16))
        return procrastinate.RetryDecision(retry_in={"milliseconds": int(wait.total_seconds() * 1000)})


def session_conninfo(conninfo: str, params: dict[str, Any]) -> str:
    """The queue needs a session (LISTEN, and the search_path set per connection): on Supabase's
    pooler, the transaction mode on port 6543 has neither, the session mode on 5432 of the same host
    has both. Other URLs are used as they are."""
    host = str(params.get("host") or "")
    if host.endswith(".pooler.supabase.com") and str(params.get("port")) == "6543":
        log.info("intake: using the session pooler (port 5432) of %s for the queue", host)
        return make_conninfo(conninfo, port="5432")
    return conninfo


class PostgresIntake:
    """`await PostgresIntake.open(url, clock=...)`; any number of processes on any machines."""

    def __init__(
        self,
        app: procrastinate.App,
        connector: procrastinate.PsycopgConnector,
        *,
        clock: Callable[[], datetime],
        lease: timedelta,
        poll_interval: float,
        retry_base: timedelta,
    ) -> None:
        self._app = app
        self._connector = connector
        self._clock = clock
        self._lease = lease
        self._poll = poll_interval
        self._handler: DeliveryHandler | None = None
        self._worker: Worker | None = None
        self._stopping = False
        self._served = asyncio.Event()
        self._running: set[asyncio.Task[Any]] = set()
        self._task = app.task(name=TASK, queue=QUEUE, pass_context=True, retry=_Backoff(retry_base))(
            self._deliver
        )

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        clock: Callable[[], datetime],
        lease: timedelta = timedelta(seconds=10),
        poll_interval: float = 1.0,
        retry_base: timedelta = RETRY_BASE,
        pool_size: int = 10,
    ) -> PostgresIntake:
        if lease <= timedelta(0):
            raise ValueError("lease must be positive")
        # A URL libpq cannot parse, or a database it cannot use, is a configuration error: one
        # line, never the password, as for the vector store in the same database.
        conninfo, params = _conninfo(url)
        conninfo = session_conninfo(conninfo, params)
        try:
            # One connection first: a database that cannot be reached fails here at once, with
            # libpq's reason (a pool would retry quietly for its whole timeout).
            async with await psycopg.AsyncConnection.connect(conninfo, prepare_threshold=None) as conn:
                await postgres_schema.install(conn)
        except psycopg.Error as exc:
            reason = _one_line(exc, params.get("password"))
            raise ConfigError(f"{SETTING}: cannot use the database at {_where(params)} ({reason})") from None
        connector = procrastinate.PsycopgConnector(
            conninfo=conninfo,
            min_size=1,
            max_size=pool_size,
            # prepare_threshold=None: no server-side prepared statements behind a pooler.
            kwargs={"prepare_threshold": None},
            configure=postgres_schema.set_search_path,
            name="mnemo-intake",
        )
        app = procrastinate.App(connector=connector)
        intake = cls(
            app, connector, clock=clock, lease=lease, poll_interval=poll_interval, retry_base=retry_base
        )
        async with _storage_errors("opening"):
            await app.open_async()
        return intake

    # -- front doors ---------------------------------------------------------------------------------
    async def accept(self, delivery: NewDelivery) -> bool:
        if not delivery.key:
            raise ValueError("a delivery needs a key")
        received = aware(delivery.received_at, "time")
        delivery_id = uuid.uuid4().hex
        async with _storage_errors("accept"), self._connector.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO deliveries (id, key, kind, lane, payload, received_at, accepted_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING RETURNING id",
                (
                    delivery_id,
                    delivery.key,
                    delivery.kind,
                    delivery.lane,
                    Jsonb(dict(delivery.payload)),
                    received,
                    self._clock(),
                ),
            )
            if await cursor.fetchone() is None:
                return False
            # The job, in the same transaction: both or neither. Its lock is the lane.
            await self._task.configure(lock=delivery.lane, connection=conn).defer_async(
                delivery_id=delivery_id
            )
        return True

    # -- workers ---------------------------------------------------------------------------------------
    async def serve(self, handler: DeliveryHandler, *, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self._handler = handler
        reaper = asyncio.create_task(self._reap(), name="intake-reaper")
        try:
            while not self._stopping:
                self._worker = Worker(
                    app=self._app,
                    queues=[QUEUE],
                    name="mnemo-intake",
                    concurrency=concurrency,
                    fetch_job_polling_interval=self._poll,
                    delete_jobs="successful",
                    install_signal_handlers=False,
                    update_heartbeat_interval=self._lease.total_seconds() / 4,
                    stalled_worker_timeout=self._lease.total_seconds(),
                )
                try:
                    await self._worker.run()  # type: ignore[no-untyped-call]  # procrastinate leaves it unannotated
                except Exception:
                    log.exception("intake worker stopped on an error; serving again")
                if not self._stopping:  # stopped on its own (a database error): start again
                    await asyncio.sleep(_RESTART_DELAY)
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            self._served.set()

    async def _reap(self) -> None:
        """Hand back the deliveries of workers that stopped heartbeating (a process died): the
        procrastinate way (its stalled jobs, retried), run by every serving process."""
        manager = self._app.job_manager
        seconds = self._lease.total_seconds()
        while True:
            await asyncio.sleep(seconds / 2)
            try:
                await manager.prune_stalled_workers(seconds)
                for job in await manager.get_stalled_jobs(
                    queue=QUEUE, task_name=TASK, seconds_since_heartbeat=seconds
                ):
                    with contextlib.suppress(pexc.ConnectorException):  # another process was first
                        await manager.retry_job(job)
                        log.warning("delivery job %s taken over from a worker that stopped", job.id)
            except Exception:
                log.exception("intake: looking for stalled deliveries failed")

    async def _deliver(self, context: JobContext, delivery_id: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            await self._deliver_one(context, delivery_id)
        finally:
            self._running.discard(task)

    async def _deliver_one(self, context: JobContext, delivery_id: str) -> None:
        attempt = (context.job.attempts or 0) + 1
        async with self._connector.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT key, kind, lane, payload, received_at, reply_ref, done_at "
                    "FROM deliveries WHERE id = %s",
                    (delivery_id,),
                )
            ).fetchone()
        if row is None or row[6] is not None:
            return  # purged, or done by an attempt whose job outlived it: nothing to answer
        delivery = Delivery(
            id=delivery_id,
            key=row[0],
            kind=row[1],
            lane=row[2],
            payload=row[3] or {},
            received_at=row[4],
            attempt=attempt,
            reply_ref=row[5],
        )
        if attempt > 2 * MAX_ATTEMPTS:
            # Taken over again and again: the delivery itself may be killing its workers.
            log.error("delivery given up after %d attempts kind=%s", attempt - 1, delivery.kind)
            await self._complete(delivery_id)
            return
        assert self._handler is not None
        try:
            await self._handler(delivery)
        except asyncio.CancelledError:
            raise  # stopping: procrastinate queues it again
        except HandBack as reason:
            log.info("delivery handed back kind=%s attempt=%d: %s", delivery.kind, attempt, reason)
            raise  # queued again after retry_base, without counting as a failure's backoff (_Backoff)
        except Exception:
            if attempt >= MAX_ATTEMPTS:
                log.exception("delivery given up after %d attempts kind=%s", attempt, delivery.kind)
                await self._complete(delivery_id)
                return
            raise  # procrastinate logs it and queues it again after the backoff
        await self._complete(delivery_id)

    async def _complete(self, delivery_id: str) -> None:
        async with self._connector.pool.connection() as conn:
            await conn.execute(
                "UPDATE deliveries SET done_at = %s, payload = NULL, reply_ref = NULL WHERE id = %s",
                (self._clock(), delivery_id),
            )

    async def note_reply(self, delivery_id: str, ref: JsonObject) -> None:
        async with _storage_errors("note_reply"), self._connector.pool.connection() as conn:
            await conn.execute(
                "UPDATE deliveries SET reply_ref = %s WHERE id = %s AND done_at IS NULL",
                (Jsonb(dict(ref)), delivery_id),
            )

    async def idle(self) -> None:
        """Return once no delivery is being handled by this process."""
        while self._running:
            await asyncio.wait(set(self._running))

    async def stop(self, *, grace: float) -> None:
        self._stopping = True
        worker = self._worker
        if worker is None:
            return
        worker.shutdown_graceful_timeout = grace
        worker.stop()  # type: ignore[no-untyped-call]
        await self._served.wait()

    # -- bookkeeping -------------------------------------------------------------------------------------
    async def pending(self) -> int:
        async with _storage_errors("pending"), self._connector.pool.connection() as conn:
            cursor = await conn.execute("SELECT count(*) FROM deliveries WHERE done_at IS NULL")
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def fold_old_pages(self) -> None:
        return None  # payloads are deleted at once; the server's WAL and backups are its own

    async def purge(self, *, before: datetime) -> int:
        cutoff = aware(before, "before")
        async with _storage_errors("purge"), self._connector.pool.connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM deliveries WHERE done_at IS NOT NULL AND done_at < %s", (cutoff,)
            )
            return cursor.rowcount

    async def ping(self) -> None:
        async with _storage_errors("ping"), self._connector.pool.connection() as conn:
            await conn.execute("SELECT 1")

    async def close(self) -> None:
        await self._app.close_async()


__all__ = ["QUEUE", "TASK", "PostgresIntake"]
