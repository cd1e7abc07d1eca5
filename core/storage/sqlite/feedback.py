"""The embedded store's feedback role: one row per (account, answer), replaced by a later rating."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime

from core.models import AnswerFeedback, Rating
from core.storage.sqlite.connection import SQLiteConnection
from core.storage.sqlite.rows import require_account, timestamp, timestamp_text
from core.storage.validation import answer_id, aware


class SQLiteFeedback(SQLiteConnection):
    async def record_feedback(
        self, account_id: uuid.UUID, *, answer: str, rating: Rating, now: datetime
    ) -> None:
        answer_id(answer)
        aware(now, "now")
        rating = Rating(rating)

        def upsert(conn: sqlite3.Connection) -> None:
            require_account(conn, account_id)
            conn.execute(
                "INSERT INTO answer_feedback (account_id, answer, rating, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (account_id, answer) DO UPDATE SET rating = excluded.rating, at = excluded.at",
                (str(account_id), answer, rating.value, timestamp_text(now)),
            )

        await self._tx(upsert)

    async def list_feedback(self, account_id: uuid.UUID) -> list[AnswerFeedback]:
        def read(conn: sqlite3.Connection) -> list[AnswerFeedback]:
            rows = conn.execute(
                "SELECT answer, rating, at FROM answer_feedback WHERE account_id = ? "
                "ORDER BY at DESC, answer",
                (str(account_id),),
            ).fetchall()
            return [AnswerFeedback(r["answer"], Rating(r["rating"]), timestamp(r["at"])) for r in rows]

        return await self._tx(read)
