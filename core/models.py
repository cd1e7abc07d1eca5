"""Platform-neutral data: what adapters hand the core and what the core hands back."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The longest message text answered (longer ones are cut); front doors refuse longer input.
MAX_MESSAGE_CHARS = 16_000


class Platform(enum.StrEnum):
    SLACK = "slack"
    DISCORD = "discord"
    CONSOLE = "console"
    WEB = "web"


class Role(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True)
class IdentityKey:
    """A person on one platform. `workspace` is the Slack team/enterprise id, '' where ids are global."""

    platform: Platform
    workspace: str
    user: str


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Where a message was said: one channel, DM or thread. Maps to at most one open session."""

    platform: Platform
    workspace: str
    channel: str
    thread: str = ""

    def as_string(self) -> str:
        return "|".join((self.platform.value, self.workspace, self.channel, self.thread))


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message from a person, already translated by an adapter.

    `is_private` is true for DMs and private channels: memories learned there are only recalled
    in private conversations. `only_if_following`: answer only if Mnemo already takes part in this
    conversation (a thread reply without a mention); the core decides inside the conversation's
    lock, so a follow-up that arrives while the first answer is being written is answered.
    `raw` is the platform payload, for logging only; core never branches on it.
    `server` is the Discord server (guild) id, '' elsewhere and in Discord DMs; `roles` are the
    author's role ids in that server (core.access reads both).
    """

    platform: Platform
    workspace: str
    user: str
    channel: str
    text: str
    message_id: str
    is_private: bool
    thread: str = ""
    is_direct: bool = False
    mentions_bot: bool = False
    only_if_following: bool = False
    user_name: str | None = None
    received_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    server: str = ""
    roles: frozenset[str] = frozenset()

    @property
    def identity(self) -> IdentityKey:
        return IdentityKey(self.platform, self.workspace, self.user)

    @property
    def conversation(self) -> ConversationKey:
        return ConversationKey(self.platform, self.workspace, self.channel, self.thread)

    @property
    def event_key(self) -> str:
        """Stable id of this delivery, for exactly-once handling across retries and processes."""
        return f"msg:{self.platform.value}:{self.workspace}:{self.channel}:{self.message_id}"


@dataclass(frozen=True, slots=True)
class Account:
    """`epoch` counts the account's erasures. Work that began under one epoch (a reply being
    written, a queued or retried memory write) may only store what it produced while the epoch is
    unchanged: the store checks it atomically (see core.erasure)."""

    id: uuid.UUID
    created_at: datetime
    display_name: str | None = None
    epoch: int = 0
    # When the account was last erased: a message received before that (still queued, or answered
    # by a worker only now) is not stored nor answered from memory (core.orchestrator).
    erased_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WriteTarget:
    """Where a memory write for (account, epoch) may land now: the account it merged into, if any,
    and that account's epoch. See Store.memory_write_target."""

    account_id: uuid.UUID
    epoch: int


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """Per-account state read together: the pause switch and the current erasure epoch."""

    memory_paused: bool = False
    epoch: int = 0


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """Model tokens (prompt + completion) spent on one UTC day: by one person (their account, every
    platform), and in one workspace (everyone's, erased accounts included)."""

    person: int
    workspace: int


@dataclass(frozen=True, slots=True)
class Session:
    id: uuid.UUID
    conversation: ConversationKey
    opened_at: datetime
    last_active_at: datetime
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: uuid.UUID
    session_id: uuid.UUID
    account_id: uuid.UUID
    role: Role
    text: str
    created_at: datetime
    author_name: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One conversation (all its sessions, open or closed), for listings such as the HTTP API's."""

    conversation: ConversationKey
    opened_at: datetime
    last_active_at: datetime
    message_count: int
    preview: str | None  # the start of its first message


@dataclass(frozen=True, slots=True)
class ConversationPage:
    items: list[ConversationSummary]
    offset: int
    total: int


@dataclass(frozen=True, slots=True)
class MessagePage:
    items: list[StoredMessage]
    offset: int
    total: int


@dataclass(frozen=True, slots=True)
class MemoryOrigin:
    """Where a memory was learned; decides where it may be recalled."""

    platform: Platform
    channel: str
    is_private: bool


@dataclass(frozen=True, slots=True)
class MemoryItem:
    id: str
    text: str
    created_at: str | None
    platform: str | None
    channel: str | None
    is_private: bool
    score: float | None = None


@dataclass(frozen=True, slots=True)
class MemoryPage:
    items: list[MemoryItem]
    offset: int
    total: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total


class Rating(enum.StrEnum):
    GOOD = "good"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class AnswerFeedback:
    """A person's rating of one answer. `answer` is the front door's id of the answer's message
    (Slack: "slack:<workspace>:<channel>:<ts>"); no text is kept."""

    answer: str
    rating: Rating
    at: datetime


@dataclass(frozen=True, slots=True)
class PendingMemoryWrite:
    """An exchange whose memory write failed or could not be queued; retried by a background job."""

    id: uuid.UUID
    account_id: uuid.UUID
    messages: list[dict[str, str]]
    origin: MemoryOrigin
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None
    epoch: int = 0


@dataclass(frozen=True, slots=True)
class LinkCode:
    """A one-time code that lets another identity of the same person join `account_id`."""

    code_hash: str
    account_id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class ReplyKind(enum.StrEnum):
    ANSWER = "answer"
    APOLOGY = "apology"  # a dependency failed; the text is a friendly line
    # The person erased their memory while the answer was being written: the answer (built from
    # what was erased) is dropped, and `text` says so. It replaces anything already streamed.
    WITHDRAWN = "withdrawn"
    # Not answered on purpose (outside the access lists in a DM, over the daily token budget):
    # `text` says why; nothing went to the model and nothing was stored.
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    kind: ReplyKind
    session_id: uuid.UUID | None
    account_id: uuid.UUID | None
    # The memories recalled for an ANSWER (its provenance; empty for other kinds). They are the
    # person's own: a front door may show them only to that person.
    memories: tuple[MemoryItem, ...] = ()
