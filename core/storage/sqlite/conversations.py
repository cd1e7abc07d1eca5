"""The embedded store's conversations role: sessions and the messages stored in them."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.models import (
    ConversationKey,
    ConversationPage,
    ConversationSummary,
    MessagePage,
    Platform,
    Role,
    Session,
    StoredMessage,
)
from core.storage.sqlite.connection import SQLiteConnection
from core.storage.sqlite.rows import check_epoch, message_from, session_from, timestamp, timestamp_text
from core.storage.validation import aware, non_negative, non_negative_duration
from core.storage.validation import memory_ids as valid_memory_ids

# Characters of a conversation's first message shown in listings.
PREVIEW_CHARS = 120


class SQLiteConversations(SQLiteConnection):
    async def touch_session(
        self, conversation: ConversationKey, *, now: datetime, idle_timeout: timedelta
    ) -> Session:
        key = conversation.as_string()
        aware(now, "now")
        non_negative_duration(idle_timeout, "idle_timeout")

        def reuse_or_open_session(conn: sqlite3.Connection) -> Session:
            row = conn.execute(
                "SELECT * FROM sessions WHERE conversation = ? AND closed_at IS NULL",
                (key,),
            ).fetchone()
            if row is not None:
                if timestamp(row["last_active_at"]) >= now - idle_timeout:
                    conn.execute(
                        "UPDATE sessions SET last_active_at = max(last_active_at, ?) WHERE id = ?",
                        (timestamp_text(now), row["id"]),
                    )
                    return session_from(
                        conn.execute("SELECT * FROM sessions WHERE id = ?", (row["id"],)).fetchone()
                    )
                conn.execute(
                    "UPDATE sessions SET closed_at = ? WHERE id = ?",
                    (timestamp_text(now), row["id"]),
                )
            session_id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO sessions (id, conversation, platform, workspace, channel, thread, "
                "opened_at, last_active_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    key,
                    conversation.platform.value,
                    conversation.workspace,
                    conversation.channel,
                    conversation.thread,
                    timestamp_text(now),
                    timestamp_text(now),
                ),
            )
            return session_from(conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone())

        # The reply path's bookkeeping: safe if the process dies, not on power loss (connection.py).
        return await self._tx(reuse_or_open_session, durable=False)

    async def get_session(self, session_id: uuid.UUID) -> Session | None:
        def read_session(conn: sqlite3.Connection) -> Session | None:
            row = conn.execute("SELECT * FROM sessions WHERE id = ?", (str(session_id),)).fetchone()
            return session_from(row) if row is not None else None

        return await self._tx(read_session)

    async def has_session(self, conversation: ConversationKey) -> bool:
        key = conversation.as_string()

        def any_session(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT 1 FROM sessions WHERE conversation = ? LIMIT 1", (key,)).fetchone()
            return row is not None

        return await self._read(any_session)

    async def list_conversations(
        self, *, platform: Platform, workspace: str, channel: str, offset: int, limit: int
    ) -> ConversationPage:
        non_negative(limit, "limit")
        non_negative(offset, "offset")
        scope = (platform.value, workspace, channel)

        def read_conversation_page(conn: sqlite3.Connection) -> ConversationPage:
            total = conn.execute(
                "SELECT count(DISTINCT thread) FROM sessions WHERE platform = ? AND workspace = ? "
                "AND channel = ?",
                scope,
            ).fetchone()[0]
            rows = conn.execute(
                "SELECT c.thread, c.opened_at, c.last_active_at, "
                "  (SELECT count(*) FROM messages m JOIN sessions s ON s.id = m.session_id "
                "    WHERE s.conversation = c.conversation) AS message_count, "
                "  (SELECT substr(m.text, 1, ?) FROM messages m JOIN sessions s ON s.id = m.session_id "
                "    WHERE s.conversation = c.conversation "
                "    ORDER BY s.opened_at, s.id, m.seq LIMIT 1) AS preview "
                "FROM (SELECT conversation, thread, min(opened_at) AS opened_at, "
                "        max(last_active_at) AS last_active_at "
                "      FROM sessions WHERE platform = ? AND workspace = ? AND channel = ? "
                "      GROUP BY conversation, thread) c "
                "ORDER BY c.last_active_at DESC, c.thread LIMIT ? OFFSET ?",
                (PREVIEW_CHARS, *scope, limit, offset),
            ).fetchall()
            items = [
                ConversationSummary(
                    conversation=ConversationKey(platform, workspace, channel, row["thread"]),
                    opened_at=timestamp(row["opened_at"]),
                    last_active_at=timestamp(row["last_active_at"]),
                    message_count=row["message_count"],
                    preview=row["preview"],
                )
                for row in rows
            ]
            return ConversationPage(items, offset, total)

        return await self._tx(read_conversation_page)

    async def conversation_messages(
        self, conversation: ConversationKey, *, offset: int, limit: int
    ) -> MessagePage:
        non_negative(limit, "limit")
        non_negative(offset, "offset")
        key = conversation.as_string()

        def read_message_page(conn: sqlite3.Connection) -> MessagePage:
            total = conn.execute(
                "SELECT count(*) FROM messages m JOIN sessions s ON s.id = m.session_id "
                "WHERE s.conversation = ?",
                (key,),
            ).fetchone()[0]
            rows = conn.execute(
                "SELECT m.* FROM messages m JOIN sessions s ON s.id = m.session_id "
                "WHERE s.conversation = ? ORDER BY s.opened_at, s.id, m.seq LIMIT ? OFFSET ?",
                (key, limit, offset),
            ).fetchall()
            return MessagePage([message_from(row) for row in rows], offset, total)

        return await self._tx(read_message_page)

    async def append_message(
        self,
        *,
        session_id: uuid.UUID,
        account_id: uuid.UUID,
        role: Role,
        text: str,
        now: datetime,
        epoch: int,
        author_name: str | None = None,
        memory_ids: Sequence[str] = (),
    ) -> StoredMessage:
        message_id = uuid.uuid4()
        aware(now, "now")
        ids = valid_memory_ids(memory_ids, answer=role is Role.ASSISTANT and author_name is None)
        provenance = json.dumps(ids) if ids else None

        def insert_at_epoch(conn: sqlite3.Connection) -> StoredMessage:
            check_epoch(conn, account_id, epoch)
            seq = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE session_id = ?",
                (str(session_id),),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO messages "
                "(id, seq, session_id, account_id, role, text, author_name, created_at, memory_ids) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(message_id),
                    seq,
                    str(session_id),
                    str(account_id),
                    role.value,
                    text,
                    author_name,
                    timestamp_text(now),
                    provenance,
                ),
            )
            return StoredMessage(message_id, session_id, account_id, role, text, now, author_name)

        # The reply path's bookkeeping: safe if the process dies, not on power loss (connection.py).
        return await self._tx(insert_at_epoch, durable=False)

    async def last_answer_memories(
        self, account_id: uuid.UUID, *, platform: str, workspace: str, channel: str
    ) -> list[str] | None:
        def read_latest(conn: sqlite3.Connection) -> list[str] | None:
            row = conn.execute(
                "SELECT m.memory_ids FROM messages m JOIN sessions s ON s.id = m.session_id "
                "WHERE m.account_id = ? AND m.role = ? AND s.platform = ? AND s.workspace = ? "
                "AND s.channel = ? ORDER BY m.rowid DESC LIMIT 1",  # rowid: insertion order
                (str(account_id), Role.ASSISTANT.value, platform, workspace, channel),
            ).fetchone()
            if row is None:
                return None
            ids = json.loads(row[0]) if row[0] else []
            return [str(i) for i in ids]

        return await self._tx(read_latest)

    async def recent_messages(self, session_id: uuid.UUID, *, limit: int) -> list[StoredMessage]:
        non_negative(limit, "limit")

        def read_newest(conn: sqlite3.Connection) -> list[StoredMessage]:
            rows = conn.execute(
                "SELECT * FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
                (str(session_id), limit),
            ).fetchall()
            return [message_from(row) for row in reversed(rows)]

        return await self._tx(read_newest)

    async def close_idle_sessions(self, *, now: datetime, idle_timeout: timedelta) -> int:
        non_negative_duration(idle_timeout, "idle_timeout")
        aware(now, "now")

        def close_idle(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "UPDATE sessions SET closed_at = ? WHERE closed_at IS NULL AND last_active_at < ?",
                (timestamp_text(now), timestamp_text(now - idle_timeout)),
            )
            return cursor.rowcount

        return await self._tx(close_idle)
