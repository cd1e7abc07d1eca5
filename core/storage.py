"""The storage port: accounts, identities, sessions, messages, processed events, pending memory writes.

Two implementations pass the same contract tests (tests/contract/): the embedded SQLite store
(`core.storage_sqlite`, the default) and the Supabase store (`core.storage_supabase`).
Every method raises `core.errors.StorageError` when the backend fails; nothing else escapes.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from core.models import (
    Account,
    AccountSettings,
    ConversationKey,
    IdentityKey,
    MemoryOrigin,
    PendingMemoryWrite,
    Role,
    Session,
    StoredMessage,
)


class Store(Protocol):
    async def resolve_account(self, identity: IdentityKey, *, display_name: str | None = None) -> Account:
        """The account of this platform identity, created on first sight. Safe under concurrency:
        many simultaneous calls for one new identity create exactly one account."""
        ...

    async def touch_session(
        self, conversation: ConversationKey, *, now: datetime, idle_timeout: timedelta
    ) -> Session:
        """The open session of a conversation, marked active at `now`. A session idle for longer than
        `idle_timeout` is closed and a new one opened. At most one open session per conversation."""
        ...

    async def get_session(self, session_id: uuid.UUID) -> Session | None: ...

    async def has_session(self, conversation: ConversationKey) -> bool:
        """True if the conversation ever had a session (open or closed): the bot has taken part in
        it. Read-only; adapters use it to follow threads they joined, also after a restart."""
        ...

    async def append_message(
        self,
        *,
        session_id: uuid.UUID,
        account_id: uuid.UUID,
        role: Role,
        text: str,
        now: datetime,
        author_name: str | None = None,
    ) -> StoredMessage: ...

    async def recent_messages(self, session_id: uuid.UUID, *, limit: int) -> list[StoredMessage]:
        """The last `limit` messages of a session, oldest first."""
        ...

    async def claim_event(self, key: str, *, now: datetime) -> bool:
        """True for the first claim of `key` ever (across processes sharing the store), False after."""
        ...

    async def get_settings(self, account_id: uuid.UUID) -> AccountSettings: ...

    async def set_memory_paused(self, account_id: uuid.UUID, paused: bool) -> None: ...

    async def close_idle_sessions(self, *, now: datetime, idle_timeout: timedelta) -> int:
        """Close every open session idle for longer than `idle_timeout`; returns how many."""
        ...

    async def purge_messages(self, *, before: datetime) -> int:
        """Delete stored messages older than `before`; returns how many."""
        ...

    async def erase_account(self, account_id: uuid.UUID) -> int:
        """Delete every stored message and pending memory write of the account; returns messages deleted.
        Deleted text must not survive in the backend's files (embedded: secure_delete + vacuum)."""
        ...

    async def add_pending_write(
        self,
        *,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        origin: MemoryOrigin,
        now: datetime,
        error: str | None,
    ) -> uuid.UUID:
        """Keep an exchange whose memory write failed (or could not be queued) for the retry job."""
        ...

    async def due_pending_writes(self, *, now: datetime, limit: int) -> list[PendingMemoryWrite]: ...

    async def complete_pending_write(self, write_id: uuid.UUID) -> None: ...

    async def reschedule_pending_write(
        self, write_id: uuid.UUID, *, next_attempt_at: datetime, error: str
    ) -> None: ...

    async def ping(self) -> None:
        """Raise StorageError unless the backend answers."""
        ...

    async def close(self) -> None: ...
