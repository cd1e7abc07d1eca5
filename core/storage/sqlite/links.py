"""The embedded store's links role: link codes, failed attempts, and merging two accounts."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timedelta

from core.models import IdentityKey, LinkCode
from core.storage.sqlite.connection import SQLiteConnection
from core.storage.sqlite.rows import identity_text, require_account, timestamp, timestamp_text
from core.storage.sqlite.usage import move_merged_usage
from core.storage.validation import aware, distinct_accounts, non_negative_duration


class SQLiteLinks(SQLiteConnection):
    async def add_link_code(
        self, *, account_id: uuid.UUID, code_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        aware(now, "now")
        aware(expires_at, "expires_at")

        def insert_code(conn: sqlite3.Connection) -> None:
            require_account(conn, account_id)
            conn.execute(
                "INSERT INTO link_codes (code_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (code_hash, str(account_id), timestamp_text(now), timestamp_text(expires_at)),
            )

        await self._tx(insert_code)

    async def find_link_code(self, code_hash: str) -> LinkCode | None:
        def read_code(conn: sqlite3.Connection) -> LinkCode | None:
            row = conn.execute("SELECT * FROM link_codes WHERE code_hash = ?", (code_hash,)).fetchone()
            if row is None:
                return None
            return LinkCode(
                code_hash=row["code_hash"],
                account_id=uuid.UUID(row["account_id"]),
                created_at=timestamp(row["created_at"]),
                expires_at=timestamp(row["expires_at"]),
                used_at=timestamp(row["used_at"]) if row["used_at"] else None,
            )

        return await self._tx(read_code)

    async def reserve_link_code(
        self, code_hash: str, *, account_id: uuid.UUID, now: datetime, hold: timedelta
    ) -> bool:
        aware(now, "now")
        non_negative_duration(hold, "hold")

        def reserve_if_free(conn: sqlite3.Connection) -> bool:
            reserved = conn.execute(
                "UPDATE link_codes SET reserved_by = ?, reserved_at = ? "
                "WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? AND account_id <> ? "
                "AND (reserved_by IS NULL OR reserved_by = ? OR reserved_at < ?)",
                (
                    str(account_id),
                    timestamp_text(now),
                    code_hash,
                    timestamp_text(now),
                    str(account_id),
                    str(account_id),
                    timestamp_text(now - hold),
                ),
            )
            return reserved.rowcount == 1

        return await self._tx(reserve_if_free)

    async def record_link_failure(self, identity: IdentityKey, *, now: datetime) -> None:
        aware(now, "now")

        def insert_failure(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO link_failures (identity, at) VALUES (?, ?)",
                (identity_text(identity), timestamp_text(now)),
            )

        await self._tx(insert_failure)

    async def count_link_failures(self, identity: IdentityKey, *, since: datetime) -> int:
        aware(since, "since")

        def count_failures(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT count(*) FROM link_failures WHERE identity = ? AND at >= ?",
                (identity_text(identity), timestamp_text(since)),
            ).fetchone()
            return int(row[0])

        return await self._tx(count_failures)

    async def merge_accounts(
        self, *, source: uuid.UUID, target: uuid.UUID, code_hash: str, now: datetime
    ) -> bool:
        distinct_accounts(source, target)
        aware(now, "now")

        def use_code_and_merge(conn: sqlite3.Connection) -> bool:
            require_account(conn, source)
            require_account(conn, target)
            claimed = conn.execute(
                "UPDATE link_codes SET used_at = ? "
                "WHERE code_hash = ? AND used_at IS NULL AND account_id = ? AND reserved_by = ?",
                (timestamp_text(now), code_hash, str(target), str(source)),
            ).rowcount
            if claimed != 1:
                return False
            src, dst = str(source), str(target)
            epochs = dict(
                conn.execute("SELECT id, epoch FROM accounts WHERE id IN (?, ?)", (src, dst)).fetchall()
            )
            conn.execute(
                "INSERT OR REPLACE INTO account_merges (source, target, source_epoch, target_epoch, "
                "merged_at) VALUES (?, ?, ?, ?, ?)",
                (src, dst, epochs[src], epochs[dst], timestamp_text(now)),
            )
            conn.execute("UPDATE identities SET account_id = ? WHERE account_id = ?", (dst, src))
            conn.execute("UPDATE messages SET account_id = ? WHERE account_id = ?", (dst, src))
            move_merged_usage(conn, source=source, target=target)
            conn.execute(
                "UPDATE pending_memory_writes SET account_id = ?, epoch = ? WHERE account_id = ?",
                (dst, epochs[dst], src),
            )
            conn.execute(
                "UPDATE accounts SET memory_paused = max(memory_paused, "
                "(SELECT memory_paused FROM accounts WHERE id = ?)) WHERE id = ?",
                (src, dst),
            )
            conn.execute("DELETE FROM link_codes WHERE account_id = ? ", (src,))
            conn.execute("DELETE FROM accounts WHERE id = ?", (src,))
            return True

        return await self._tx(use_code_and_merge)
