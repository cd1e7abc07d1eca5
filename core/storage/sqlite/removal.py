"""The embedded store's removal role. Deleted text must not survive in the file: secure_delete
zeroes deleted rows in the database pages, and the WAL's older frames go with a checkpoint."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime

from core.models import ConversationKey
from core.storage.sqlite.connection import SQLiteConnection
from core.storage.sqlite.rows import timestamp_text
from core.storage.sqlite.usage import fold_erased_usage
from core.storage.validation import aware


class SQLiteRemoval(SQLiteConnection):
    async def erase_account(self, account_id: uuid.UUID) -> int:
        def erase_rows_and_move_epoch(conn: sqlite3.Connection) -> int:
            # The epoch moves first, in the same transaction: nothing begun before can land after.
            conn.execute(
                "UPDATE accounts SET epoch = epoch + 1, erased_at = ? WHERE id = ?",
                (timestamp_text(datetime.now(UTC)), str(account_id)),
            )
            deleted = conn.execute("DELETE FROM messages WHERE account_id = ?", (str(account_id),)).rowcount
            conn.execute(
                "DELETE FROM pending_memory_writes WHERE account_id = ?",
                (str(account_id),),
            )
            conn.execute("DELETE FROM answer_feedback WHERE account_id = ?", (str(account_id),))
            conn.execute(
                "UPDATE link_codes SET reserved_by = NULL, reserved_at = NULL WHERE reserved_by = ?",
                (str(account_id),),
            )
            fold_erased_usage(conn, account_id)
            return deleted

        deleted = await self._tx(erase_rows_and_move_epoch)
        await self._run(self._compact)
        return deleted

    async def delete_conversation(self, conversation: ConversationKey) -> int:
        key = conversation.as_string()

        def delete_sessions_and_messages(conn: sqlite3.Connection) -> int:
            conn.execute(
                "DELETE FROM messages WHERE session_id IN (SELECT id FROM sessions WHERE conversation = ?)",
                (key,),
            )
            return conn.execute("DELETE FROM sessions WHERE conversation = ?", (key,)).rowcount

        deleted = await self._tx(delete_sessions_and_messages)
        if deleted:
            # secure_delete overwrote the rows in the database pages; the WAL still holds the old
            # pages until a checkpoint. (No VACUUM: that rewrites the whole file, per request.)
            await self._run(self._checkpoint)
        return deleted

    async def purge_messages(self, *, before: datetime) -> int:
        aware(before, "before")

        def delete_older_messages(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM messages WHERE created_at < ?", (timestamp_text(before),)
            ).rowcount

        deleted = await self._tx(delete_older_messages)
        if deleted:
            # As in delete_conversation: secure_delete zeroed the rows; the WAL's older frames go too.
            await self._run(self._checkpoint)
        return deleted

    async def purge_bookkeeping(self, *, before: datetime) -> int:
        cutoff = timestamp_text(aware(before, "before"))

        def delete_older_bookkeeping(conn: sqlite3.Connection) -> int:
            return sum(
                conn.execute(sql, (cutoff,)).rowcount
                for sql in (
                    "DELETE FROM processed_events WHERE processed_at < ?",
                    "DELETE FROM link_failures WHERE at < ?",
                    "DELETE FROM link_codes WHERE expires_at < ?",
                    # Only writes begun before a merge follow it; none is in flight after a week.
                    "DELETE FROM account_merges WHERE merged_at < ?",
                )
            )

        return await self._tx(delete_older_bookkeeping)
