"""The embedded inbox's table and connection (core/intake/sqlite.py runs the queue on them)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from core.storage.sqlite.connection import SQLiteConnection
from core.storage.validation import aware

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
    done_at TEXT
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
        # WAL with synchronous=NORMAL: a commit is in the WAL file (the OS has it) when it returns,
        # so a process that dies loses nothing; only a power cut or kernel crash can lose the last
        # commits. Without the fsync per commit, the write lock is held for microseconds, not the
        # milliseconds an fsync takes, and an ack waits for no one else's fsync.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)


__all__ = ["InboxConnection", "anything_leasable", "ts"]
