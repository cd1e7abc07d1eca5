"""Shared limits in Postgres (SUPABASE_DB_URL): token buckets and counted slots in the
`mnemo_limits` schema, for every process on every machine (core.limits has the ports).

Hand-written on purpose: each is one or two SQL statements over a table (the libraries for shared
limits are Redis-based, and a Supabase user has Postgres already).

- A bucket is one row, taken from with one atomic upsert: the refill since its last use, minus one
  token if there is one, computed by the database (its clock, so machines need not agree). Its key
  (an email, a client address, an account id) is stored as a hash; full buckets are swept away.
- A slot is one row per holder, with a lease its process renews; a process that dies leaves rows
  that expire after the lease. Taking one is serialized per slot name by an advisory lock (count
  the live holders, add one if under the limit). A holder waiting for a slot polls, and only one
  waiter per process polls at a time (the others queue behind it, in arrival order).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import psycopg
import psycopg_pool

from config import ConfigError
from core.errors import StorageError
from core.limits import Take
from core.memory.vectors.postgres_pool import SETTING, _conninfo, _one_line, _where

log = logging.getLogger(__name__)

SCHEMA = "mnemo_limits"
_INSTALL_LOCK = 0x6D6E656D6F5F6C  # pg_advisory_xact_lock key for CREATE ("mnemo_l")
_PRUNE_EVERY_SECONDS = 60.0  # between two sweeps of a bucket's full rows by this process
# After a failure, calls fail at once for this long (callers use their in-process limits) instead
# of each waiting for the pool's timeout while the database is away.
_BACK_OFF_SECONDS = 15.0

_TABLES = """
CREATE SCHEMA IF NOT EXISTS mnemo_limits;
CREATE TABLE IF NOT EXISTS mnemo_limits.buckets (
    bucket text NOT NULL,
    key text NOT NULL,
    tokens double precision NOT NULL,
    stamp double precision NOT NULL,
    allowed boolean NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS mnemo_limits.slots (
    name text NOT NULL,
    holder text NOT NULL,
    process text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (name, holder)
);
CREATE INDEX IF NOT EXISTS slots_process ON mnemo_limits.slots (process);
"""

# In each statement: `now` is the database's clock (epoch seconds) unless a test gives its own,
# and `available` is the bucket's tokens after the refill since its last use, capped.
_TAKE = """
WITH p AS (
    SELECT coalesce(%(now)s::float8, extract(epoch FROM clock_timestamp())::float8) AS now,
           %(capacity)s::float8 AS capacity, %(rate)s::float8 AS rate
)
INSERT INTO mnemo_limits.buckets AS b (bucket, key, tokens, stamp, allowed)
SELECT %(bucket)s, %(key)s, p.capacity - 1, p.now, true FROM p
ON CONFLICT (bucket, key) DO UPDATE SET
    tokens = (SELECT CASE WHEN a.available >= 1 THEN a.available - 1 ELSE a.available END
              FROM (SELECT least(p.capacity, b.tokens + greatest(0, p.now - b.stamp) * p.rate) AS available
                    FROM p) a),
    allowed = (SELECT least(p.capacity, b.tokens + greatest(0, p.now - b.stamp) * p.rate) >= 1 FROM p),
    stamp = (SELECT greatest(b.stamp, p.now) FROM p)
RETURNING allowed, tokens
"""
_GIVE_BACK = """
WITH p AS (
    SELECT coalesce(%(now)s::float8, extract(epoch FROM clock_timestamp())::float8) AS now,
           %(capacity)s::float8 AS capacity, %(rate)s::float8 AS rate
)
UPDATE mnemo_limits.buckets AS b
SET tokens = least(p.capacity, b.tokens + greatest(0, p.now - b.stamp) * p.rate + 1),
    stamp = greatest(b.stamp, p.now)
FROM p
WHERE b.bucket = %(bucket)s AND b.key = %(key)s
"""
_PRUNE = """
WITH p AS (
    SELECT coalesce(%(now)s::float8, extract(epoch FROM clock_timestamp())::float8) AS now,
           %(capacity)s::float8 AS capacity, %(rate)s::float8 AS rate
)
DELETE FROM mnemo_limits.buckets AS b USING p
WHERE b.bucket = %(bucket)s AND b.tokens + greatest(0, p.now - b.stamp) * p.rate >= p.capacity
"""
_TRY_SLOT = """
INSERT INTO mnemo_limits.slots (name, holder, process, expires_at)
SELECT %(name)s, %(holder)s, %(process)s, now() + make_interval(secs => %(lease)s)
WHERE (SELECT count(*) FROM mnemo_limits.slots WHERE name = %(name)s) < %(limit)s
"""


class PostgresLimits:
    """`await PostgresLimits.open(url)`: shared Buckets and Slots (core.limits)."""

    def __init__(
        self,
        pool: psycopg_pool.AsyncConnectionPool[Any],
        *,
        lease: timedelta,
        poll_interval: float,
        clock: Callable[[], float] | None,
    ) -> None:
        self._pool = pool
        self._lease = lease
        self._poll = poll_interval
        self._clock = clock
        self._process = f"p-{uuid.uuid4().hex[:12]}"
        self._pruned: dict[str, float] = {}  # bucket -> when this process last swept it
        self._queues: dict[str, asyncio.Lock] = {}
        self._freed: dict[str, asyncio.Event] = {}
        self._held = 0
        self._renewer: asyncio.Task[None] | None = None
        self.tries = 0  # attempts at taking a slot (for tests and metrics)
        self._down_until = 0.0

    @contextlib.asynccontextmanager
    async def _connection(self, what: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection; StorageError when the database fails, and at once for a while after."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._down_until:
            raise StorageError(f"shared limits: {what} skipped (the database failed moments ago)")
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            self._down_until = loop.time() + _BACK_OFF_SECONDS
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StorageError(f"shared limits: {what} failed ({first})") from exc

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        lease: timedelta = timedelta(seconds=30),
        poll_interval: float = 0.1,
        clock: Callable[[], float] | None = None,
        pool_size: int = 4,
    ) -> PostgresLimits:
        """`clock` (epoch seconds) replaces the database's clock for buckets (tests)."""
        conninfo, params = _conninfo(url)
        try:
            async with (
                await psycopg.AsyncConnection.connect(conninfo, prepare_threshold=None) as conn,
                conn.transaction(),
            ):
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INSTALL_LOCK,))
                await conn.execute(_TABLES)
        except psycopg.Error as exc:
            reason = _one_line(exc, params.get("password"))
            raise ConfigError(f"{SETTING}: cannot use the database at {_where(params)} ({reason})") from None
        pool: psycopg_pool.AsyncConnectionPool[Any] = psycopg_pool.AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "prepare_threshold": None},
            open=False,
            name="mnemo-limits",
            timeout=5,
        )
        await pool.open()
        return cls(pool, lease=lease, poll_interval=poll_interval, clock=clock)

    # -- buckets ---------------------------------------------------------------------------------------
    def _params(self, bucket: str, key: str, capacity: float, rate: float) -> dict[str, Any]:
        return {
            "bucket": bucket,
            # Keys are emails, client addresses and account ids: the table keeps only their hashes.
            "key": hashlib.sha256(f"{bucket}\0{key}".encode()).hexdigest(),
            "capacity": float(capacity),
            "rate": float(rate),
            "now": self._clock() if self._clock is not None else None,
        }

    async def take(self, bucket: str, key: str, *, capacity: float, rate: float) -> Take:
        params = self._params(bucket, key, capacity, rate)
        async with self._connection("rate limit") as conn:
            row = await (await conn.execute(_TAKE, params)).fetchone()
            now = asyncio.get_running_loop().time()
            if now - self._pruned.setdefault(bucket, now) > _PRUNE_EVERY_SECONDS:
                # A full bucket carries no state worth keeping: a new one starts full too.
                self._pruned[bucket] = now
                await conn.execute(_PRUNE, params)
        assert row is not None
        return Take(bool(row[0]), float(row[1]))

    async def give_back(self, bucket: str, key: str, *, capacity: float, rate: float) -> None:
        params = self._params(bucket, key, capacity, rate)
        async with self._connection("rate limit refund") as conn:
            await conn.execute(_GIVE_BACK, params)

    # -- slots -------------------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def slot(self, name: str, limit: int) -> AsyncIterator[None]:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        holder = uuid.uuid4().hex
        queue = self._queues.setdefault(name, asyncio.Lock())
        async with queue:  # one poller per process and name; the others wait their turn here
            while not await self._try_slot(name, holder, limit):
                # A slot freed in this process wakes the poller at once; one freed elsewhere is
                # seen at the next poll.
                freed = self._freed.setdefault(name, asyncio.Event())
                freed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(freed.wait(), timeout=self._poll)
        self._held += 1
        self._start_renewing()
        try:
            yield
        finally:
            self._held -= 1
            try:
                async with self._connection("releasing a slot") as conn:
                    await conn.execute(
                        "DELETE FROM mnemo_limits.slots WHERE name = %s AND holder = %s", (name, holder)
                    )
            except StorageError as exc:
                log.warning("%s; the slot is freed when its lease expires", exc)
            if name in self._freed:
                self._freed[name].set()

    async def _try_slot(self, name: str, holder: str, limit: int) -> bool:
        self.tries += 1
        lease = self._lease.total_seconds()
        async with self._connection("taking a slot") as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{SCHEMA}:{name}",))
            await conn.execute(
                "DELETE FROM mnemo_limits.slots WHERE name = %s AND expires_at < now()", (name,)
            )
            cursor = await conn.execute(
                _TRY_SLOT,
                {"name": name, "holder": holder, "process": self._process, "lease": lease, "limit": limit},
            )
            return bool(cursor.rowcount == 1)

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name="limits-renewer")

    async def _renew(self) -> None:
        """Keep this process's slots alive while it holds any."""
        lease = self._lease.total_seconds()
        while self._held:
            await asyncio.sleep(lease / 3)
            try:
                async with self._connection("renewing this process's slots") as conn:
                    await conn.execute(
                        "UPDATE mnemo_limits.slots SET expires_at = now() + make_interval(secs => %s) "
                        "WHERE process = %s",
                        (lease, self._process),
                    )
            except StorageError as exc:
                log.warning("%s", exc)

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        with contextlib.suppress(StorageError):
            async with self._connection("releasing this process's slots") as conn:
                await conn.execute("DELETE FROM mnemo_limits.slots WHERE process = %s", (self._process,))
        await self._pool.close()


__all__ = ["SCHEMA", "PostgresLimits"]
