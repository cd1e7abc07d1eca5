"""Every copy of a person's words, and the removals that reach them.

Vocabulary: forget = one memory; erase = everything of an account; discard = undo a write that must
not stand; purge = physical removal (rewriting files so deleted text is not left in free pages).

`TEXT_COPIES` lists every place Mnemo keeps text a person wrote (or text derived from it), with the
removals that must reach it. The removals themselves are the methods of `Removals`; every front
door (chat commands, the HTTP API, the jobs, admin tools) goes through them, and the tests under
tests/core/test_erasure.py probe each listed place after each removal with a canary. A new place
that keeps text must be added here, or those tests cannot see it.

Erasure is a barrier, per account, across processes: `Store.erase_account` moves the account's
erasure epoch in the same transaction that deletes its rows. Work begun under the old epoch cannot
store anything afterwards: the store refuses its messages and pending writes (atomically), and
memory writes check the epoch before and after they land (core.memory.writer). Reads of memories
are filtered by the epoch too, so a write that lands late is never recalled, even in the moment
before it is discarded.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from core.intake.model import Intake
from core.memory.service import MemoryService
from core.memory.writer import MemoryWriter
from core.models import ConversationKey, MemoryItem
from core.storage import RemovalStore

log = logging.getLogger(__name__)


class Removal(enum.StrEnum):
    FORGET = "forget"  # one memory (/memory forget <id>, DELETE /v1/memory-profiles/me/memories/{id})
    ERASE = "erase"  # everything of an account (/memory forget all, DELETE /v1/memory-profiles/me)
    DELETE_CONVERSATION = "delete-conversation"  # one conversation's messages (DELETE /v1/sessions/{id})
    RETENTION = "retention"  # stored messages older than MESSAGE_RETENTION_DAYS (hourly job)


@dataclass(frozen=True, slots=True)
class TextCopy:
    """One place that holds text from people. `removed_by` says how each removal that must reach
    it does so; a removal not listed deliberately leaves it (the reason is in `note`)."""

    place: str
    holds: str
    removed_by: Mapping[Removal, str] = field(default_factory=dict)
    note: str = ""


TEXT_COPIES: tuple[TextCopy, ...] = (
    TextCopy(
        "store.messages",
        "every message and answer, by conversation (SQLite mnemo.db or Supabase mnemo.messages)",
        {
            Removal.ERASE: "Store.erase_account deletes the account's rows (epoch moves first)",
            Removal.DELETE_CONVERSATION: "Store.delete_conversation deletes the sessions and their rows",
            Removal.RETENTION: "Store.purge_messages deletes rows older than the cutoff",
        },
        "forgetting one memory leaves the conversation it came from (it is a message, not a memory)",
    ),
    TextCopy(
        "store.pending_memory_writes",
        "exchanges whose memory write failed or overflowed, waiting for the retry job",
        {Removal.ERASE: "Store.erase_account deletes them; a retry underway is discarded"},
        "a pending write is memory on its way: deleting a conversation keeps it, as it keeps what "
        "was learned there; it expires after MEMORY_RETRY_MAX_AGE_HOURS",
    ),
    TextCopy(
        "store.answer_feedback",
        "ratings of answers (Slack's feedback buttons): the answer's message id and good/bad, no text",
        {Removal.ERASE: "Store.erase_account deletes them"},
        "a rating is about an answer, not a conversation's content: deleting a conversation keeps it",
    ),
    TextCopy(
        "memory.vectors",
        "each memory's text in the vector store payload (SQLite memory_vectors.db; on Postgres in "
        "mnemo.memory_texts, apart from mnemo.memory_vectors, which holds only ids and the embedding)",
        {
            Removal.FORGET: "MemoryService.forget deletes it and rewrites the file",
            Removal.ERASE: "MemoryService.erase deletes every memory of the account, any epoch",
        },
        "what was learned in a conversation stays when the conversation is deleted (forget it). "
        "Postgres: gone from every query at once; the text leaves mnemo.memory_texts' files at the "
        "next scheduled purge (VACUUM FULL, within VECTOR_PURGE_INTERVAL_MINUTES), WAL and backups "
        "keep it for the server's retention. The embedding (numbers, no words) leaves every query at "
        "once too; mnemo.memory_vectors only gets a plain VACUUM, so its bytes can stay in the table's "
        "free space until new rows reuse it, and in the HNSW index until a VACUUM cleans the index "
        "(skipped while under 2% of the table's pages hold dead rows); a person with many memories "
        "has an index of their own, dropped by the next index-memory-vectors run (15 min) after "
        "their erasure",
    ),
    TextCopy(
        "memory.keywords",
        "the words of each memory in the vector store's keyword index (SQLite FTS5 in memory_vectors.db; "
        "Postgres: the tsvector and its GIN index in mnemo.memory_texts, rewritten by the same purge)",
        {
            Removal.FORGET: "a trigger drops its entry; the purge merges the index, rewrites the file",
            Removal.ERASE: "the same, for every memory of the account",
        },
    ),
    TextCopy(
        "memory.entities",
        "entity names mem0 extracts into its entity collection (only with spaCy installed)",
        {
            Removal.FORGET: "mem0's delete unlinks the memory from its entities",
            Removal.ERASE: "the vector store's erase_user deletes every collection of the account",
        },
    ),
    TextCopy(
        "store.token_usage",
        "no text: the account id with its model tokens per workspace and UTC day (core.budget)",
        {
            Removal.ERASE: "Store.erase_account removes the account's rows; their tokens stay in the "
            "workspace's day without the account id"
        },
    ),
    TextCopy(
        "intake.deliveries",
        "a platform message, command, click or shortcut (Slack's signed body; Discord's interaction with "
        "the quoted message of a context menu) between its acknowledgement and its answer, and the "
        "answer noted for a retry (reply_ref) (the durable intake: SQLite "
        "intake.db, or Postgres mnemo_intake.deliveries); its payload is dropped once it is answered",
        {
            Removal.ERASE: "a delivery received before the erasure is withdrawn when a worker takes it "
            "(Account.erased_at): nothing of it is stored, recalled or answered, and its payload is "
            "dropped with it, seconds later; the erasure folds the SQLite inbox's WAL at once, so the "
            "words of answered deliveries leave its files"
        },
        "only the payload and the noted answer hold text, and only while it waits (at most the intake's "
        "10-minute bound); the key and lane that remain (ids) deduplicate until purged",
    ),
    TextCopy(
        "http.idempotency",
        "a chat answer (and the memories it used) kept in the web process's memory for 24 h, so a "
        "retry with the same Idempotency-Key gets it (adapters/http/idempotency.py)",
        {
            Removal.FORGET: "the caller's kept answers are dropped when they forget through the API",
            Removal.ERASE: "the caller's kept answers are dropped when they erase through the API",
        },
        "in one process's memory only; a forget or erase through Slack, Discord or the console does "
        "not reach it, so a retry there may replay an answer for up to 24 h (the store's claim still "
        "refuses a second answer)",
    ),
    TextCopy(
        "writer.queue",
        "exchanges queued or being written to memory inside a running process",
        {Removal.ERASE: "dropped or discarded by the epoch check (core.memory.writer)"},
    ),
    TextCopy(
        "mem0.history",
        "nothing: mem0's history store (memory changes, last raw messages) keeps nothing here",
        note="core.memory.mem0_setup gives mem0 a history store whose writes do nothing",
    ),
    TextCopy(
        "exports",
        "nothing kept: an export is built on request and sent to the person who asked (or, with "
        "`python -m bot admin export`, printed or written to a new file for the operator)",
    ),
    TextCopy(
        "logs",
        "nothing: log lines carry ids, counts and hashed account ids, never message text",
    ),
)


@dataclass(frozen=True, slots=True)
class ErasureReport:
    memories: int
    messages: int


class Removals:
    """The removals of `Removal`, one method each, over the store, memory and writer."""

    def __init__(
        self, *, store: RemovalStore, memory: MemoryService, writer: MemoryWriter, intake: Intake
    ) -> None:
        self._store = store
        self._memory = memory
        self._writer = writer
        self._intake = intake

    async def forget(self, account_id: uuid.UUID, memory_id: str) -> MemoryItem:
        """NotFoundError if the account has no such memory."""
        return await self._memory.forget(account_id, memory_id)

    async def erase(self, account_id: uuid.UUID) -> ErasureReport:
        # 1. Epoch and stored rows, in one transaction: from here nothing begun before can land.
        messages = await self._store.erase_account(account_id)
        # 2. A write of this account already running here discards itself when it finishes; wait
        #    for that, so "done" below means done. (Other processes' writes discard themselves.)
        await self._writer.settle_account(account_id)
        # 3. Every memory, whatever its epoch, and the files rewritten.
        memories = await self._memory.erase(account_id)
        # 4. The words of the person's answered messages left in the intake's WAL, folded away now.
        await self._intake.fold_old_pages()
        return ErasureReport(memories=memories, messages=messages)

    async def delete_conversation(self, conversation: ConversationKey) -> int:
        """Returns the number of sessions deleted."""
        return await self._store.delete_conversation(conversation)

    async def purge_expired_messages(self, *, before: datetime) -> int:
        return await self._store.purge_messages(before=before)


__all__ = ["TEXT_COPIES", "ErasureReport", "Removal", "Removals", "TextCopy"]
