"""The embedded store's event-claims role: a claim is a row, and the primary key makes it exactly-once."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from core.storage.sqlite.connection import SQLiteConnection
from core.storage.sqlite.rows import timestamp_text
from core.storage.validation import aware, event_key


class SQLiteEventClaims(SQLiteConnection):
    async def claim_event(self, key: str, *, now: datetime) -> bool:
        event_key(key)
        aware(now, "now")

        def insert_claim(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO processed_events (key, processed_at) VALUES (?, ?)",
                (key, timestamp_text(now)),
            )
            return cursor.rowcount == 1

        # The reply path's bookkeeping: safe if the process dies, not on power loss (connection.py).
        return await self._tx(insert_claim, durable=False)
