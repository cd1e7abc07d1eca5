"""The storage port, one protocol per role: accounts, conversations, event claims, memory writes,
account links, feedback on answers, removal, and the connection itself. `Store` is all of them together.

Code that needs one role types against that role (the memory writer needs `MemoryWriteStore`, the
removals `RemovalStore`); code that needs several takes a `Store`.
Two implementations pass the same contract tests (tests/core/storage/contract/): the embedded SQLite
store (`core.storage.sqlite`, the default) and the Supabase store (`core.storage.supabase`).
Every method raises `core.errors.StorageError` when the backend fails; nothing else escapes, apart
from the ValueError of bad input (`core.storage.validation`) and the ErasedError documented below.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Protocol

from core.models import (
    Account,
    AccountSettings,
    AnswerFeedback,
    ConversationKey,
    ConversationPage,
    DailyUsage,
    IdentityKey,
    LinkCode,
    MemoryOrigin,
    MessagePage,
    PendingMemoryWrite,
    Platform,
    Rating,
    Role,
    Session,
    StoredMessage,
    WriteTarget,
)


class AccountStore(Protocol):
    """Accounts, the platform identities that belong to them, and their settings."""

    async def resolve_account(self, identity: IdentityKey, *, display_name: str | None = None) -> Account:
        """The account of this platform identity, created on first sight, with its current erasure
        epoch. Safe under concurrency: many simultaneous calls for one new identity create exactly
        one account."""
        ...

    async def find_account(self, identity: IdentityKey) -> Account | None:
        """The account of this platform identity, or None if Mnemo has never seen it. Creates
        nothing (for admin tools, where a mistyped id must not become an account)."""
        ...

    async def get_settings(self, account_id: uuid.UUID) -> AccountSettings: ...

    async def set_memory_paused(self, account_id: uuid.UUID, paused: bool) -> None: ...

    async def list_identities(self, account_id: uuid.UUID) -> list[IdentityKey]: ...

    async def detach_identity(self, identity: IdentityKey, *, now: datetime) -> Account:
        """Move the identity to a fresh, empty account (with the old account's settings) and
        return it. Its memories and messages stay with the account it leaves."""
        ...


class ConversationStore(Protocol):
    """Sessions (one open per conversation at a time) and the messages stored in them."""

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

    async def list_conversations(
        self, *, platform: Platform, workspace: str, channel: str, offset: int, limit: int
    ) -> ConversationPage:
        """The conversations (one per thread) of one channel, most recently active first, with
        their message counts. A conversation whose sessions were all deleted is gone from here."""
        ...

    async def conversation_messages(
        self, conversation: ConversationKey, *, offset: int, limit: int
    ) -> MessagePage:
        """Every stored message of the conversation across all its sessions, oldest first."""
        ...

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
        """Store one message of the account, atomically checking that the account is still at
        `epoch`: ErasedError (nothing stored) if it was erased since the caller read the epoch.
        `memory_ids`: the memories recalled for an answer (its provenance: ids only), kept with the
        message and removed with it. ValueError for more than 100 ids or an id that is not 1-100
        printable characters."""
        ...

    async def last_answer_memories(
        self, account_id: uuid.UUID, *, platform: str, workspace: str, channel: str
    ) -> list[str] | None:
        """The memory ids recalled for the latest answer to the account in this channel (any of its
        threads and sessions), in recall order; None when no answer to them is stored there."""
        ...

    async def recent_messages(self, session_id: uuid.UUID, *, limit: int) -> list[StoredMessage]:
        """The last `limit` messages of a session, oldest first."""
        ...

    async def close_idle_sessions(self, *, now: datetime, idle_timeout: timedelta) -> int:
        """Close every open session idle for longer than `idle_timeout`; returns how many."""
        ...


class EventClaimStore(Protocol):
    """Exactly-once claims: of platform events (retried deliveries) and of job run slots."""

    async def claim_event(self, key: str, *, now: datetime) -> bool:
        """True for the first claim of `key` ever (across processes sharing the store), False after."""
        ...


class MemoryWriteStore(Protocol):
    """Where a memory write may land, and the durable queue of writes that failed (retried by a job)."""

    async def memory_write_target(self, account_id: uuid.UUID, epoch: int) -> WriteTarget | None:
        """Where a memory write begun for (account, epoch) may land now, or None when it must not
        land at all: the account was erased since (its epoch moved on), its memory is paused, or it
        is gone. A merged account's writes follow the merge to the surviving account, as long as
        neither side was erased since the write began (merges record both epochs)."""
        ...

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
        """Keep an exchange whose memory write failed (or could not be queued) for the retry job.
        None, and nothing kept, when the account is no longer at `epoch` (erased meanwhile)."""
        ...

    async def due_pending_writes(self, *, now: datetime, limit: int) -> list[PendingMemoryWrite]: ...

    async def complete_pending_write(self, write_id: uuid.UUID) -> bool:
        """Remove a pending write once done. False if it was no longer there (erased meanwhile by
        `erase_account`, or completed by another process): the caller's write must then be undone."""
        ...

    async def reschedule_pending_write(
        self, write_id: uuid.UUID, *, next_attempt_at: datetime, error: str
    ) -> None: ...


class LinkStore(Protocol):
    """Account linking (one person, one memory across platforms): codes, failed attempts, merges."""

    async def add_link_code(
        self, *, account_id: uuid.UUID, code_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        """Store a link code (hashed) for the account."""
        ...

    async def find_link_code(self, code_hash: str) -> LinkCode | None: ...

    async def reserve_link_code(
        self, code_hash: str, *, account_id: uuid.UUID, now: datetime, hold: timedelta
    ) -> bool:
        """Reserve an unused, unexpired code for the account redeeming it (the merge source), before
        anything moves. True when it is now reserved for `account_id` (also when it already was);
        False when it is used, expired, unknown, or reserved for another account within `hold`.
        Exactly one of several processes racing for one code wins."""
        ...

    async def record_link_failure(self, identity: IdentityKey, *, now: datetime) -> None: ...

    async def count_link_failures(self, identity: IdentityKey, *, since: datetime) -> int: ...

    async def merge_accounts(
        self, *, source: uuid.UUID, target: uuid.UUID, code_hash: str, now: datetime
    ) -> bool:
        """In one transaction: mark the code used (False, and nothing changes, if it is used already
        or not reserved for `source`), then move the identities, messages and pending memory writes
        of `source` to `target` (pending writes take the target's epoch) and its token usage,
        keep the stricter settings (paused stays paused), record the merge with both epochs (for
        memory_write_target) and delete `source`."""
        ...


class FeedbackStore(Protocol):
    """People's ratings of answers (Slack's feedback buttons): an answer id and a rating per
    account, no text. Erased with the account (erase_account); a merged account's go with it."""

    async def record_feedback(
        self, account_id: uuid.UUID, *, answer: str, rating: Rating, now: datetime
    ) -> None:
        """Keep the account's rating of `answer`; a later one for the same answer replaces it.
        ValueError for an empty, overlong or unprintable answer id, or a naive `now`."""
        ...

    async def list_feedback(self, account_id: uuid.UUID) -> list[AnswerFeedback]:
        """The account's ratings, newest first."""
        ...


class RemovalStore(Protocol):
    """Physical removal of stored rows: an account's (erase), a conversation's, and old ones (purge)."""

    async def erase_account(self, account_id: uuid.UUID) -> int:
        """In one transaction: move the account to its next erasure epoch (so work begun before
        cannot store anything after: append_message, add_pending_write and memory_write_target
        check it), delete every stored message, pending memory write and answer rating of the account,
        drop link-code reservations it holds, and take the account out of its token usage (the
        tokens stay in the workspaces' totals, UsageStore). Returns the messages deleted. Deleted
        text must not survive in the backend's files (embedded: secure_delete + vacuum)."""
        ...

    async def delete_conversation(self, conversation: ConversationKey) -> int:
        """Delete every session of the conversation and their messages; returns the number of
        sessions deleted (0: there was no such conversation)."""
        ...

    async def purge_messages(self, *, before: datetime) -> int:
        """Delete stored messages older than `before`; returns how many."""
        ...

    async def purge_bookkeeping(self, *, before: datetime) -> int:
        """Delete processed-event claims, failed link attempts, expired link codes and merge records
        older than `before`; returns how many rows went. (They grow with every message and job run.)"""
        ...


class UsageStore(Protocol):
    """Model tokens spent per account, per workspace and per UTC day (core.budget). An erasure
    removes the account's rows and keeps their tokens in the workspace's total without the account
    (`erase_account`); a merge moves them to the surviving account (`merge_accounts`)."""

    async def add_usage(
        self, *, account_id: uuid.UUID, platform: Platform, workspace: str, day: date, tokens: int
    ) -> None:
        """Add `tokens` (>= 0, ValueError otherwise) to the account's count for `day` in the
        workspace. Concurrent adds all count."""
        ...

    async def daily_usage(
        self, *, account_id: uuid.UUID, platform: Platform, workspace: str, day: date
    ) -> DailyUsage:
        """The account's tokens on `day` (every platform and workspace) and the workspace's tokens on
        `day` (every account's, and erased accounts'). Zeros when nothing was spent."""
        ...


class StoreConnection(Protocol):
    """The backend itself: is it there, and letting it go."""

    async def ping(self) -> None:
        """Raise StorageError unless the backend answers."""
        ...

    async def close(self) -> None: ...


class Store(
    AccountStore,
    ConversationStore,
    EventClaimStore,
    MemoryWriteStore,
    LinkStore,
    FeedbackStore,
    RemovalStore,
    UsageStore,
    StoreConnection,
    Protocol,
):
    """Every role at once: what a backend implements, and what code needing several roles takes."""
