"""Embedded SQLite implementation of the storage port (the default: no server needed).

One worker thread owns the connection and runs each operation as one function in one transaction.
That gives atomic operations without an asyncio lock and keeps SQLite's work off the event loop.
(aiosqlite also uses a thread, but interleaves statements of concurrent coroutines inside one
transaction, which is exactly what must not happen here.) Several processes may share the file:
SQLite's own locking plus `BEGIN IMMEDIATE` keeps `claim_event` and account creation exactly-once.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from core.errors import ErasedError, StorageError
from core.models import (
    Account,
    AccountSettings,
    ConversationKey,
    ConversationPage,
    ConversationSummary,
    IdentityKey,
    LinkCode,
    MemoryOrigin,
    MessagePage,
    PendingMemoryWrite,
    Platform,
    Role,
    Session,
    StoredMessage,
    WriteTarget,
)

T = TypeVar("T")

# Characters of a conversation's first message shown in listings.
PREVIEW_CHARS = 120

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    display_name TEXT,
    memory_paused INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS identities (
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    user_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, workspace, user_id)
);
CREATE INDEX IF NOT EXISTS identities_account ON identities(account_id);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    conversation TEXT NOT NULL,
    platform TEXT NOT NULL,
    workspace TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    last_active_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS sessions_one_open ON sessions(conversation) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS sessions_open_idle ON sessions(last_active_at) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS sessions_conversation ON sessions(conversation);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    author_name TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_session ON messages(session_id, seq);
CREATE INDEX IF NOT EXISTS messages_account ON messages(account_id);
CREATE INDEX IF NOT EXISTS messages_created ON messages(created_at);
CREATE TABLE IF NOT EXISTS processed_events (
    key TEXT PRIMARY KEY,
    processed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_events_at ON processed_events(processed_at);
CREATE TABLE IF NOT EXISTS pending_memory_writes (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    messages TEXT NOT NULL,
    origin TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS pending_due ON pending_memory_writes(next_attempt_at);
CREATE TABLE IF NOT EXISTS link_codes (
    code_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS link_failures (
    identity TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS link_failures_identity ON link_failures(identity, at);
CREATE TABLE IF NOT EXISTS account_merges (
    source TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    source_epoch INTEGER NOT NULL,
    target_epoch INTEGER NOT NULL,
    merged_at TEXT NOT NULL
);
"""

# Columns added after the first release, applied to older files in order (PRAGMA user_version
# counts how many ran). A fresh file gets them the same way, so there is one schema, not two.
_MIGRATIONS: tuple[str, ...] = (
    # Erasure epochs (see core.erasure): writes begun before an erasure must not land after it.
    "ALTER TABLE accounts ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE pending_memory_writes ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE link_codes ADD COLUMN reserved_by TEXT;"
    "ALTER TABLE link_codes ADD COLUMN reserved_at TEXT;",
)


def _ts(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetimes must be timezone-aware (got naive {value.isoformat()})")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _check_limit(limit: int) -> None:
    if limit < 0:  # SQLite reads LIMIT -1 as "no limit"
        raise ValueError(f"limit must be >= 0 (got {limit})")


def _check_offset(offset: int) -> None:
    if offset < 0:
        raise ValueError(f"offset must be >= 0 (got {offset})")


def _check_idle_timeout(idle_timeout: timedelta) -> None:
    if idle_timeout < timedelta(0):
        raise ValueError(f"idle_timeout must be >= 0 (got {idle_timeout})")


def _require_account(conn: sqlite3.Connection, account_id: uuid.UUID) -> None:
    # messages/pending writes have no foreign key to accounts here (the Supabase schema does).
    if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (str(account_id),)).fetchone() is None:
        raise StorageError(f"unknown account {account_id}")


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")  # two processes opening one old file: one migrates, one waits
    try:
        done = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(_MIGRATIONS[done:], start=done + 1):
            for statement in filter(None, (part.strip() for part in script.split(";"))):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _check_epoch(conn: sqlite3.Connection, account_id: uuid.UUID, epoch: int) -> None:
    row = conn.execute("SELECT epoch FROM accounts WHERE id = ?", (str(account_id),)).fetchone()
    if row is None:
        raise StorageError(f"unknown account {account_id}")
    if row["epoch"] != epoch:
        raise ErasedError("the account was erased after this work began")


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _session(row: sqlite3.Row) -> Session:
    return Session(
        id=uuid.UUID(row["id"]),
        conversation=ConversationKey(
            Platform(row["platform"]), row["workspace"], row["channel"], row["thread"]
        ),
        opened_at=_dt(row["opened_at"]),
        last_active_at=_dt(row["last_active_at"]),
        closed_at=_dt(row["closed_at"]) if row["closed_at"] else None,
    )


def _message(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(
        id=uuid.UUID(row["id"]),
        session_id=uuid.UUID(row["session_id"]),
        account_id=uuid.UUID(row["account_id"]),
        role=Role(row["role"]),
        text=row["text"],
        created_at=_dt(row["created_at"]),
        author_name=row["author_name"],
    )


class SQLiteStore:
    """The embedded store. Use `await SQLiteStore.open(path)`; `close()` when done."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path) -> SQLiteStore:
        store = cls(path)
        await store._run(store._connect)
        return store

    def _connect(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=30.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        # Erasure must really erase: overwrite deleted content instead of leaving it in free pages.
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.executescript(_SCHEMA)
        _migrate(conn)
        self._conn = conn

    async def _run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite: {exc}") from exc

    async def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def work() -> T:
            conn = self._conn
            if conn is None:
                raise sqlite3.ProgrammingError("store is closed")
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self._run(work)

    async def resolve_account(self, identity: IdentityKey, *, display_name: str | None = None) -> Account:
        def work(conn: sqlite3.Connection) -> Account:
            row = conn.execute(
                "SELECT a.id, a.created_at, a.display_name, a.epoch FROM identities i "
                "JOIN accounts a ON a.id = i.account_id "
                "WHERE i.platform = ? AND i.workspace = ? AND i.user_id = ?",
                (identity.platform.value, identity.workspace, identity.user),
            ).fetchone()
            if row is not None:
                if display_name and display_name != row["display_name"]:
                    conn.execute(
                        "UPDATE accounts SET display_name = ? WHERE id = ?",
                        (display_name, row["id"]),
                    )
                return Account(
                    uuid.UUID(row["id"]),
                    _dt(row["created_at"]),
                    display_name or row["display_name"],
                    row["epoch"],
                )
            account_id = uuid.uuid4()
            now = _ts(datetime.now(UTC))
            conn.execute(
                "INSERT INTO accounts (id, created_at, display_name) VALUES (?, ?, ?)",
                (str(account_id), now, display_name),
            )
            conn.execute(
                "INSERT INTO identities (platform, workspace, user_id, account_id, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    identity.platform.value,
                    identity.workspace,
                    identity.user,
                    str(account_id),
                    now,
                ),
            )
            return Account(account_id, _dt(now), display_name)

        return await self._tx(work)

    async def touch_session(
        self, conversation: ConversationKey, *, now: datetime, idle_timeout: timedelta
    ) -> Session:
        key = conversation.as_string()
        _ts(now)
        _check_idle_timeout(idle_timeout)

        def work(conn: sqlite3.Connection) -> Session:
            row = conn.execute(
                "SELECT * FROM sessions WHERE conversation = ? AND closed_at IS NULL",
                (key,),
            ).fetchone()
            if row is not None:
                if _dt(row["last_active_at"]) >= now - idle_timeout:
                    conn.execute(
                        "UPDATE sessions SET last_active_at = max(last_active_at, ?) WHERE id = ?",
                        (_ts(now), row["id"]),
                    )
                    return _session(
                        conn.execute("SELECT * FROM sessions WHERE id = ?", (row["id"],)).fetchone()
                    )
                conn.execute(
                    "UPDATE sessions SET closed_at = ? WHERE id = ?",
                    (_ts(now), row["id"]),
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
                    _ts(now),
                    _ts(now),
                ),
            )
            return _session(conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone())

        return await self._tx(work)

    async def get_session(self, session_id: uuid.UUID) -> Session | None:
        def work(conn: sqlite3.Connection) -> Session | None:
            row = conn.execute("SELECT * FROM sessions WHERE id = ?", (str(session_id),)).fetchone()
            return _session(row) if row is not None else None

        return await self._tx(work)

    async def has_session(self, conversation: ConversationKey) -> bool:
        key = conversation.as_string()

        def work() -> bool:
            conn = self._conn
            if conn is None:
                raise sqlite3.ProgrammingError("store is closed")
            row = conn.execute("SELECT 1 FROM sessions WHERE conversation = ? LIMIT 1", (key,)).fetchone()
            return row is not None

        return await self._run(work)

    async def list_conversations(
        self, *, platform: Platform, workspace: str, channel: str, offset: int, limit: int
    ) -> ConversationPage:
        _check_limit(limit)
        _check_offset(offset)
        scope = (platform.value, workspace, channel)

        def work(conn: sqlite3.Connection) -> ConversationPage:
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
                    opened_at=_dt(row["opened_at"]),
                    last_active_at=_dt(row["last_active_at"]),
                    message_count=row["message_count"],
                    preview=row["preview"],
                )
                for row in rows
            ]
            return ConversationPage(items, offset, total)

        return await self._tx(work)

    async def conversation_messages(
        self, conversation: ConversationKey, *, offset: int, limit: int
    ) -> MessagePage:
        _check_limit(limit)
        _check_offset(offset)
        key = conversation.as_string()

        def work(conn: sqlite3.Connection) -> MessagePage:
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
            return MessagePage([_message(row) for row in rows], offset, total)

        return await self._tx(work)

    async def delete_conversation(self, conversation: ConversationKey) -> int:
        key = conversation.as_string()

        def work(conn: sqlite3.Connection) -> int:
            conn.execute(
                "DELETE FROM messages WHERE session_id IN (SELECT id FROM sessions WHERE conversation = ?)",
                (key,),
            )
            return conn.execute("DELETE FROM sessions WHERE conversation = ?", (key,)).rowcount

        deleted = await self._tx(work)
        if deleted:
            # secure_delete overwrote the rows in the database pages; the WAL still holds the old
            # pages until a checkpoint. (No VACUUM: that rewrites the whole file, per request.)
            await self._run(self._checkpoint)
        return deleted

    def _checkpoint(self) -> None:
        conn = self._conn
        if conn is not None:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
    ) -> StoredMessage:
        message_id = uuid.uuid4()
        _ts(now)

        def work(conn: sqlite3.Connection) -> StoredMessage:
            _check_epoch(conn, account_id, epoch)
            seq = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE session_id = ?",
                (str(session_id),),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO messages (id, seq, session_id, account_id, role, text, author_name, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(message_id),
                    seq,
                    str(session_id),
                    str(account_id),
                    role.value,
                    text,
                    author_name,
                    _ts(now),
                ),
            )
            return StoredMessage(message_id, session_id, account_id, role, text, now, author_name)

        return await self._tx(work)

    async def recent_messages(self, session_id: uuid.UUID, *, limit: int) -> list[StoredMessage]:
        _check_limit(limit)

        def work(conn: sqlite3.Connection) -> list[StoredMessage]:
            rows = conn.execute(
                "SELECT * FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
                (str(session_id), limit),
            ).fetchall()
            return [_message(row) for row in reversed(rows)]

        return await self._tx(work)

    async def claim_event(self, key: str, *, now: datetime) -> bool:
        if not key:
            raise ValueError("event key must not be empty")

        def work(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO processed_events (key, processed_at) VALUES (?, ?)",
                (key, _ts(now)),
            )
            return cursor.rowcount == 1

        return await self._tx(work)

    async def get_settings(self, account_id: uuid.UUID) -> AccountSettings:
        def work(conn: sqlite3.Connection) -> AccountSettings:
            row = conn.execute(
                "SELECT memory_paused, epoch FROM accounts WHERE id = ?", (str(account_id),)
            ).fetchone()
            if row is None:
                return AccountSettings()
            return AccountSettings(memory_paused=bool(row["memory_paused"]), epoch=row["epoch"])

        return await self._tx(work)

    async def set_memory_paused(self, account_id: uuid.UUID, paused: bool) -> None:
        def work(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE accounts SET memory_paused = ? WHERE id = ?",
                (int(paused), str(account_id)),
            )
            if cursor.rowcount == 0:
                raise StorageError(f"unknown account {account_id}")

        await self._tx(work)

    async def close_idle_sessions(self, *, now: datetime, idle_timeout: timedelta) -> int:
        _check_idle_timeout(idle_timeout)

        def work(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "UPDATE sessions SET closed_at = ? WHERE closed_at IS NULL AND last_active_at < ?",
                (_ts(now), _ts(now - idle_timeout)),
            )
            return cursor.rowcount

        return await self._tx(work)

    async def purge_messages(self, *, before: datetime) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM messages WHERE created_at < ?", (_ts(before),)).rowcount

        deleted = await self._tx(work)
        if deleted:
            # As in delete_conversation: secure_delete zeroed the rows; the WAL's older frames go too.
            await self._run(self._checkpoint)
        return deleted

    async def purge_bookkeeping(self, *, before: datetime) -> int:
        cutoff = _ts(before)

        def work(conn: sqlite3.Connection) -> int:
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

        return await self._tx(work)

    async def erase_account(self, account_id: uuid.UUID) -> int:
        def work(conn: sqlite3.Connection) -> int:
            # The epoch moves first, in the same transaction: nothing begun before can land after.
            conn.execute("UPDATE accounts SET epoch = epoch + 1 WHERE id = ?", (str(account_id),))
            deleted = conn.execute("DELETE FROM messages WHERE account_id = ?", (str(account_id),)).rowcount
            conn.execute(
                "DELETE FROM pending_memory_writes WHERE account_id = ?",
                (str(account_id),),
            )
            conn.execute(
                "UPDATE link_codes SET reserved_by = NULL, reserved_at = NULL WHERE reserved_by = ?",
                (str(account_id),),
            )
            return deleted

        deleted = await self._tx(work)
        await self._run(self._compact)
        return deleted

    async def memory_write_target(self, account_id: uuid.UUID, epoch: int) -> WriteTarget | None:
        def work(conn: sqlite3.Connection) -> WriteTarget | None:
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

        return await self._tx(work)

    def _compact(self) -> None:
        # WAL frames still hold the deleted rows until checkpointed; VACUUM rewrites the file.
        conn = self._conn
        if conn is None:
            return
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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
        write_id = uuid.uuid4()
        origin_json = json.dumps(
            {
                "platform": origin.platform.value,
                "channel": origin.channel,
                "is_private": origin.is_private,
            }
        )

        def work(conn: sqlite3.Connection) -> uuid.UUID | None:
            try:
                _check_epoch(conn, account_id, epoch)
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
                    _ts(now),
                    _ts(now),
                    error,
                    epoch,
                ),
            )
            return write_id

        return await self._tx(work)

    async def due_pending_writes(self, *, now: datetime, limit: int) -> list[PendingMemoryWrite]:
        _check_limit(limit)

        def work(conn: sqlite3.Connection) -> list[PendingMemoryWrite]:
            rows = conn.execute(
                "SELECT * FROM pending_memory_writes WHERE next_attempt_at <= ? "
                "ORDER BY next_attempt_at LIMIT ?",
                (_ts(now), limit),
            ).fetchall()
            result = []
            for row in rows:
                origin = json.loads(row["origin"])
                result.append(
                    PendingMemoryWrite(
                        id=uuid.UUID(row["id"]),
                        account_id=uuid.UUID(row["account_id"]),
                        messages=json.loads(row["messages"]),
                        origin=MemoryOrigin(
                            Platform(origin["platform"]),
                            origin["channel"],
                            bool(origin["is_private"]),
                        ),
                        attempts=row["attempts"],
                        next_attempt_at=_dt(row["next_attempt_at"]),
                        created_at=_dt(row["created_at"]),
                        last_error=row["last_error"],
                        epoch=row["epoch"],
                    )
                )
            return result

        return await self._tx(work)

    async def complete_pending_write(self, write_id: uuid.UUID) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute("DELETE FROM pending_memory_writes WHERE id = ?", (str(write_id),)).rowcount == 1
            )

        return await self._tx(work)

    async def reschedule_pending_write(
        self, write_id: uuid.UUID, *, next_attempt_at: datetime, error: str
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE pending_memory_writes SET attempts = attempts + 1, next_attempt_at = ?, "
                "last_error = ? WHERE id = ?",
                (_ts(next_attempt_at), error[:500], str(write_id)),
            )

        await self._tx(work)

    # -- account linking ---------------------------------------------------------------------
    async def add_link_code(
        self, *, account_id: uuid.UUID, code_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            _require_account(conn, account_id)
            conn.execute(
                "INSERT INTO link_codes (code_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (code_hash, str(account_id), _ts(now), _ts(expires_at)),
            )

        await self._tx(work)

    async def find_link_code(self, code_hash: str) -> LinkCode | None:
        def work(conn: sqlite3.Connection) -> LinkCode | None:
            row = conn.execute("SELECT * FROM link_codes WHERE code_hash = ?", (code_hash,)).fetchone()
            if row is None:
                return None
            return LinkCode(
                code_hash=row["code_hash"],
                account_id=uuid.UUID(row["account_id"]),
                created_at=_dt(row["created_at"]),
                expires_at=_dt(row["expires_at"]),
                used_at=_dt(row["used_at"]) if row["used_at"] else None,
            )

        return await self._tx(work)

    async def reserve_link_code(
        self, code_hash: str, *, account_id: uuid.UUID, now: datetime, hold: timedelta
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE link_codes SET reserved_by = ?, reserved_at = ? "
                    "WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? AND account_id <> ? "
                    "AND (reserved_by IS NULL OR reserved_by = ? OR reserved_at < ?)",
                    (
                        str(account_id),
                        _ts(now),
                        code_hash,
                        _ts(now),
                        str(account_id),
                        str(account_id),
                        _ts(now - hold),
                    ),
                ).rowcount
                == 1
            )

        return await self._tx(work)

    @staticmethod
    def _identity_key(identity: IdentityKey) -> str:
        return json.dumps([identity.platform.value, identity.workspace, identity.user])

    async def record_link_failure(self, identity: IdentityKey, *, now: datetime) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO link_failures (identity, at) VALUES (?, ?)",
                (self._identity_key(identity), _ts(now)),
            )

        await self._tx(work)

    async def count_link_failures(self, identity: IdentityKey, *, since: datetime) -> int:
        def work(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT count(*) FROM link_failures WHERE identity = ? AND at >= ?",
                (self._identity_key(identity), _ts(since)),
            ).fetchone()
            return int(row[0])

        return await self._tx(work)

    async def merge_accounts(
        self, *, source: uuid.UUID, target: uuid.UUID, code_hash: str, now: datetime
    ) -> bool:
        if source == target:  # the merge would end by deleting the account itself
            raise ValueError("merge_accounts: source and target must be different accounts")

        def work(conn: sqlite3.Connection) -> bool:
            _require_account(conn, source)
            _require_account(conn, target)
            claimed = conn.execute(
                "UPDATE link_codes SET used_at = ? "
                "WHERE code_hash = ? AND used_at IS NULL AND account_id = ? AND reserved_by = ?",
                (_ts(now), code_hash, str(target), str(source)),
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
                (src, dst, epochs[src], epochs[dst], _ts(now)),
            )
            conn.execute("UPDATE identities SET account_id = ? WHERE account_id = ?", (dst, src))
            conn.execute("UPDATE messages SET account_id = ? WHERE account_id = ?", (dst, src))
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

        return await self._tx(work)

    async def list_identities(self, account_id: uuid.UUID) -> list[IdentityKey]:
        def work(conn: sqlite3.Connection) -> list[IdentityKey]:
            rows = conn.execute(
                "SELECT platform, workspace, user_id FROM identities WHERE account_id = ? "
                "ORDER BY created_at, platform",
                (str(account_id),),
            ).fetchall()
            return [IdentityKey(Platform(r["platform"]), r["workspace"], r["user_id"]) for r in rows]

        return await self._tx(work)

    async def detach_identity(self, identity: IdentityKey, *, now: datetime) -> Account:
        def work(conn: sqlite3.Connection) -> Account:
            row = conn.execute(
                "SELECT a.memory_paused, a.display_name FROM identities i "
                "JOIN accounts a ON a.id = i.account_id "
                "WHERE i.platform = ? AND i.workspace = ? AND i.user_id = ?",
                (identity.platform.value, identity.workspace, identity.user),
            ).fetchone()
            if row is None:
                raise sqlite3.IntegrityError("unknown identity")
            account_id = uuid.uuid4()
            conn.execute(
                "INSERT INTO accounts (id, created_at, display_name, memory_paused) VALUES (?, ?, ?, ?)",
                (str(account_id), _ts(now), row["display_name"], row["memory_paused"]),
            )
            conn.execute(
                "UPDATE identities SET account_id = ? WHERE platform = ? AND workspace = ? AND user_id = ?",
                (str(account_id), identity.platform.value, identity.workspace, identity.user),
            )
            return Account(account_id, now, row["display_name"])

        return await self._tx(work)

    async def ping(self) -> None:
        await self._tx(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        def work() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._run(work)
        self._executor.shutdown(wait=True)
