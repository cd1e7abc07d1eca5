"""The embedded store's usage role: model tokens per account, workspace and UTC day."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import date

from core.models import DailyUsage, Platform
from core.storage.sqlite.connection import SQLiteConnection
from core.storage.validation import non_negative

# The account_id of tokens whose account was erased: they still count for their workspace.
ERASED = ""

# An erased account's rows, folded into the workspace's anonymous rows, then deleted.
FOLD_ERASED_USAGE = (
    "INSERT INTO token_usage (day, platform, workspace, account_id, tokens) "
    "SELECT day, platform, workspace, '', tokens FROM token_usage WHERE account_id = ? "
    "ON CONFLICT (day, platform, workspace, account_id) DO UPDATE SET tokens = tokens + excluded.tokens",
    "DELETE FROM token_usage WHERE account_id = ?",
)
# A merged account's rows, moved to the surviving account (source, target, source).
MOVE_MERGED_USAGE = (
    "INSERT INTO token_usage (day, platform, workspace, account_id, tokens) "
    "SELECT day, platform, workspace, ?, tokens FROM token_usage WHERE account_id = ? "
    "ON CONFLICT (day, platform, workspace, account_id) DO UPDATE SET tokens = tokens + excluded.tokens",
    "DELETE FROM token_usage WHERE account_id = ?",
)


def fold_erased_usage(conn: sqlite3.Connection, account_id: uuid.UUID) -> None:
    for sql in FOLD_ERASED_USAGE:
        conn.execute(sql, (str(account_id),))


def move_merged_usage(conn: sqlite3.Connection, *, source: uuid.UUID, target: uuid.UUID) -> None:
    insert, delete = MOVE_MERGED_USAGE
    conn.execute(insert, (str(target), str(source)))
    conn.execute(delete, (str(source),))


class SQLiteUsage(SQLiteConnection):
    async def add_usage(
        self, *, account_id: uuid.UUID, platform: Platform, workspace: str, day: date, tokens: int
    ) -> None:
        non_negative(tokens, "tokens")

        def add(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO token_usage (day, platform, workspace, account_id, tokens) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (day, platform, workspace, account_id) "
                "DO UPDATE SET tokens = tokens + excluded.tokens",
                (day.isoformat(), platform.value, workspace, str(account_id), tokens),
            )

        # Counted with every reply: safe if the process dies, not on power loss (connection.py), which
        # could leave the last few replies' tokens uncounted.
        await self._tx(add, durable=False)

    async def daily_usage(
        self, *, account_id: uuid.UUID, platform: Platform, workspace: str, day: date
    ) -> DailyUsage:
        def read(conn: sqlite3.Connection) -> DailyUsage:
            row = conn.execute(
                "SELECT "
                "(SELECT coalesce(sum(tokens), 0) FROM token_usage WHERE account_id = ? AND day = ?), "
                "(SELECT coalesce(sum(tokens), 0) FROM token_usage "
                " WHERE day = ? AND platform = ? AND workspace = ?)",
                (str(account_id), day.isoformat(), day.isoformat(), platform.value, workspace),
            ).fetchone()
            return DailyUsage(person=int(row[0]), workspace=int(row[1]))

        return await self._read(read)
