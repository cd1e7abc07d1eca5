"""The embedded inbox's table and connection (core/intake/sqlite.py runs the queue on them).

Every write to the inbox is one SQL statement run on its own (autocommit): SQLite takes the file's
write lock and releases it inside that one call, during which Python's GIL is released. A
transaction of several statements (BEGIN IMMEDIATE; ...; COMMIT) instead holds the lock while this
process's thread waits for the GIL between statements, up to the interpreter's switch interval
(5 ms) each time in a busy worker: the web process's `accept`, and so the platform's ack, waited
behind that (bench/slack_ack.py).

Durability (PRAGMA synchronous; core/storage/sqlite/connection.py says what each level keeps):
every write is in the WAL when the call returns, which the OS has: a process that dies, web or
worker, loses none of it. `accept` (and `hold`) also wait for the WAL's fsync (FULL, ACCEPT_FSYNC),
so a power cut or kernel crash cannot lose an acknowledged message either (README: the intake's
inbox stays FULL). That fsync is the one cost of the ack path the other writes do not pay: about
3 ms (p99 10 ms) on the disk of the machine the benches ran on; bench/slack_ack.py, web+worker at
100 answered events/s, side by side with ACCEPT_FSYNC off: ack p50 3.6 vs 2.2 ms, p99 26 vs 9.5 ms
(medians of 3 runs, load average 2-5). Until this module said so per
write, the connection's bookkeeping of its level was bypassed and every inbox write, accepts
included, ran without it. A fsync also makes every earlier write durable (the WAL is synced to its
end).
What workers write about deliveries already recorded (lease, renewal, reply note, retry,
completion) never waits for the fsync: what a power cut can roll back of it is the last of those
writes, and a rolled-back lease or renewal only means the delivery is leased again once the lease
runs out, a rolled-back completion that it is answered again, where the responder's claim
(core.orchestrator) recognises a message it has answered.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from core.storage.sqlite.connection import SQLiteConnection
from core.storage.validation import aware

# Whether an accepted delivery is fsynced before the ack (the module's docstring).
ACCEPT_FSYNC = True

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    lane TEXT NOT NULL,
    payload TEXT,
    received_at TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    leased_by TEXT,
    lease_until TEXT,
    not_before TEXT,
    reply_ref TEXT,
    done_at TEXT,
    lease_token TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries(lane, seq) WHERE done_at IS NULL;
CREATE INDEX IF NOT EXISTS deliveries_done ON deliveries(done_at) WHERE done_at IS NOT NULL;
"""


def ts(value: datetime) -> str:
    return aware(value, "time").astimezone(UTC).isoformat(timespec="microseconds")


def anything_leasable(conn: sqlite3.Connection, now: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM deliveries WHERE done_at IS NULL "
        "AND (lease_until IS NULL OR lease_until < ?) AND (not_before IS NULL OR not_before <= ?) LIMIT 1",
        (now, now),
    ).fetchone()
    return row is not None


class InboxConnection(SQLiteConnection):
    thread_name = "sqlite-intake"

    def _prepare(self, conn: sqlite3.Connection) -> None:
        conn.executescript(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(deliveries)")}
        if "lease_token" not in columns:  # an inbox made before leases were taken in one statement
            conn.execute("ALTER TABLE deliveries ADD COLUMN lease_token TEXT")

    async def write(self, sql: str, parameters: Sequence[object], *, durable: bool) -> int:
        """One statement in its own transaction (the module's docstring says why); the number of
        rows it changed."""

        def run() -> int:
            conn = self._open_connection()
            self._set_synchronous(conn, durable=durable)
            return conn.execute(sql, parameters).rowcount

        return await self._run(run)

    async def lease(self, *, worker: str, now: str, until: str, limit: int) -> list[sqlite3.Row]:
        """Lease the heads of up to `limit` lanes (the oldest open delivery of each) that are free
        and due, to `worker`. One statement takes them (the write lock is held for it alone), each
        marked with a token this batch alone has, and they are read back by that token. Not durable:
        a lease lost to a power cut only means the delivery is leased again."""
        token = uuid.uuid4().hex
        taken = await self.write(
            "UPDATE deliveries SET leased_by = ?, lease_until = ?, attempts = attempts + 1, lease_token = ? "
            "WHERE seq IN (SELECT d.seq FROM deliveries d "
            "WHERE d.done_at IS NULL "
            "AND d.seq = (SELECT min(x.seq) FROM deliveries x "
            "             WHERE x.lane = d.lane AND x.done_at IS NULL) "
            "AND (d.lease_until IS NULL OR d.lease_until < ?) "
            "AND (d.not_before IS NULL OR d.not_before <= ?) "
            "ORDER BY d.seq LIMIT ?)",
            (worker, until, token, now, now, limit),
            durable=False,
        )
        if not taken:
            return []
        return await self._read(
            lambda conn: conn.execute(
                "SELECT * FROM deliveries WHERE lease_token = ? AND leased_by = ? ORDER BY seq",
                (token, worker),
            ).fetchall()
        )

    async def renew(self, *, worker: str, ids: list[str], until: str) -> set[str]:
        """Extend `worker`'s leases on `ids`; the ids it still holds (or that are done). Not durable:
        a renewal lost to a power cut only lets the lease run out sooner (the delivery is then
        leased again). Read back after the write: a lease lost to another worker stays lost (no
        writer hands a lease back)."""
        held = json.dumps(ids)
        await self.write(
            "UPDATE deliveries SET lease_until = ? "
            "WHERE leased_by = ? AND id IN (SELECT value FROM json_each(?))",
            (until, worker, held),
            durable=False,
        )
        rows = await self._read(
            lambda conn: conn.execute(
                "SELECT id FROM deliveries WHERE id IN (SELECT value FROM json_each(?)) "
                "AND (leased_by = ? OR done_at IS NOT NULL)",
                (held, worker),
            ).fetchall()
        )
        return {row[0] for row in rows}

    async def put_back(self, delivery_id: str, *, not_before: str | None) -> None:
        """Release the delivery's lease: a worker takes it again from `not_before` (None: at once).
        Not durable: lost to a power cut, it is taken again when its lease runs out instead."""
        await self.write(
            "UPDATE deliveries SET leased_by = NULL, lease_until = NULL, lease_token = NULL, "
            "not_before = ? WHERE id = ?",
            (not_before, delivery_id),
            durable=False,
        )

    async def data_version(self) -> int:
        """Changes when another connection (another process) commits to the inbox; a cheap look
        (no file read) for a worker waiting for new deliveries."""
        return await self._read(lambda conn: int(conn.execute("PRAGMA data_version").fetchone()[0]))


__all__ = ["ACCEPT_FSYNC", "InboxConnection", "anything_leasable", "ts"]
