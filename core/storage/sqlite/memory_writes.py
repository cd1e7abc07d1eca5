"""The embedded store's memory-writes role: where a write may land (epochs, merges), and the
durable queue of writes that failed."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime

from core.errors import ErasedError
from core.models import MemoryOrigin, PendingMemoryWrite, Platform, WriteTarget
from core.storage.sqlite.connection import SQLiteConnection
from core.storage.sqlite.rows import check_epoch, timestamp, timestamp_text
from core.storage.validation import aware, non_negative


def _pending_from(row: sqlite3.Row) -> PendingMemoryWrite:
    origin = json.loads(row["origin"])
    return PendingMemoryWrite(
        id=uuid.UUID(row["id"]),
        account_id=uuid.UUID(row["account_id"]),
        messages=json.loads(row["messages"]),
        origin=MemoryOrigin(
            Platform(origin["platform"]),
            origin["channel"],
            bool(origin["is_private"]),
        ),
        attempts=row["attempts"],
        next_attempt_at=timestamp(row["next_attempt_at"]),
        created_at=timestamp(row["created_at"]),
        last_error=row["last_error"],
        epoch=row["epoch"],
    )


class SQLiteMemoryWrites(SQLiteConnection):
    async def memory_write_target(self, account_id: uuid.UUID, epoch: int) -> WriteTarget | None:
        def follow_merges_to_target(conn: sqlite3.Connection) -> WriteTarget | None:
            current, wanted = str(account_id), epoch
            seen: set[str] = set()
            while current not in seen:
                seen.add(current)
                row = conn.execute(
                    "SELECT epoch, memory_paused FROM accounts WHERE id = ?", (current,)
                ).fetchone()
                if row is not None:
                    if row["epoch"] != wanted or row["memory_paused"]:
                        return None
                    return WriteTarget(uuid.UUID(current), wanted)
                merge = conn.execute(
                    "SELECT target, source_epoch, target_epoch FROM account_merges WHERE source = ?",
                    (current,),
                ).fetchone()
                if merge is None or merge["source_epoch"] != wanted:
                    return None
                current, wanted = merge["target"], merge["target_epoch"]
            return None

        return await self._tx(follow_merges_to_target)

    async def add_pending_write(
        self,
        *,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        origin: MemoryOrigin,
        now: datetime,
        epoch: int,
        error: str | None,
    ) -> uuid.UUID | None:
        aware(now, "now")
        write_id = uuid.uuid4()
        origin_json = json.dumps(
            {
                "platform": origin.platform.value,
                "channel": origin.channel,
                "is_private": origin.is_private,
            }
        )

        def insert_at_epoch(conn: sqlite3.Connection) -> uuid.UUID | None:
            try:
                check_epoch(conn, account_id, epoch)
            except ErasedError:
                return None
            conn.execute(
                "INSERT INTO pending_memory_writes (id, account_id, messages, origin, attempts, "
                "next_attempt_at, created_at, last_error, epoch) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)",
                (
                    str(write_id),
                    str(account_id),
                    json.dumps(messages),
                    origin_json,
                    timestamp_text(now),
                    timestamp_text(now),
                    error,
                    epoch,
                ),
            )
            return write_id

        return await self._tx(insert_at_epoch)

    async def due_pending_writes(self, *, now: datetime, limit: int) -> list[PendingMemoryWrite]:
        non_negative(limit, "limit")
        aware(now, "now")

        def read_due(conn: sqlite3.Connection) -> list[PendingMemoryWrite]:
            rows = conn.execute(
                "SELECT * FROM pending_memory_writes WHERE next_attempt_at <= ? "
                "ORDER BY next_attempt_at LIMIT ?",
                (timestamp_text(now), limit),
            ).fetchall()
            return [_pending_from(row) for row in rows]

        return await self._tx(read_due)

    async def complete_pending_write(self, write_id: uuid.UUID) -> bool:
        def delete_write(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute("DELETE FROM pending_memory_writes WHERE id = ?", (str(write_id),))
            return deleted.rowcount == 1

        return await self._tx(delete_write)

    async def reschedule_pending_write(
        self, write_id: uuid.UUID, *, next_attempt_at: datetime, error: str
    ) -> None:
        aware(next_attempt_at, "next_attempt_at")

        def count_attempt_and_postpone(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE pending_memory_writes SET attempts = attempts + 1, next_attempt_at = ?, "
                "last_error = ? WHERE id = ?",
                (timestamp_text(next_attempt_at), error[:500], str(write_id)),
            )

        await self._tx(count_attempt_and_postpone)
