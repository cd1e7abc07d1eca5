"""Request and response bodies of the HTTP API (pydantic). Requests forbid unknown fields: a typo in
a field name is an error the client hears about, not a silently ignored setting."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.models import MAX_MESSAGE_CHARS

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_OFFSET = 1_000_000
MAX_QUERY_CHARS = 500
MAX_MEMORY_ID_CHARS = 128


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests ------------------------------------------------------------------------------------


class ChatRequest(_Strict):
    message: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        description=f"What the person says (1 to {MAX_MESSAGE_CHARS} characters, not only white "
        "space, no NUL character).",
        # Said in the schema for clients and fuzzers; the validator below gives the clear message.
        json_schema_extra={"pattern": "^[^\\u0000]*\\S[^\\u0000]*$"},
    )
    session_id: uuid.UUID | None = Field(
        default=None,
        description="Continue this session (from an earlier reply or GET /v1/sessions); "
        "omit to open a new one.",
    )

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is empty (only whitespace)")
        if "\x00" in value:
            raise ValueError("the message contains a NUL character")
        return value


class MemoryProfileUpdate(_Strict):
    memory_paused: bool = Field(
        # Strict: pydantic would read 0, 1 or "yes" as a boolean; the schema says true or false,
        # and a client sending 0 likely meant something else (schemathesis found it).
        strict=True,
        description="true: stop remembering new things (answers continue); false: remember again.",
    )


# -- responses -----------------------------------------------------------------------------------


class AccountOut(_Strict):
    account_id: uuid.UUID
    subject: str = Field(description="The token's `sub`: the Supabase user id.")
    display_name: str | None
    email: str | None = Field(description="From the token; not stored.")
    memory_paused: bool
    created_at: datetime


class ChatResponse(_Strict):
    session_id: uuid.UUID
    kind: Literal["answer", "apology", "withdrawn", "refused"] = Field(
        description="'apology': the model could not answer; `text` says so and nothing was remembered. "
        "'withdrawn': the caller erased their memory while the answer was being written; the answer "
        "is dropped, `text` says so, and nothing of the exchange was stored. "
        "'refused': today's token budget is spent (DAILY_TOKEN_BUDGET_PER_PERSON or _PER_WORKSPACE); "
        "`text` says when it resets, nothing was sent to the model and nothing was stored."
    )
    text: str
    memories_used: list[MemoryOut] = Field(
        default_factory=list,
        description="The caller's own memories recalled for this answer (empty for an apology or a "
        "withdrawn answer): the list `/memory why` shows on the chat platforms.",
    )


class SessionOut(_Strict):
    id: uuid.UUID
    created_at: datetime
    last_active_at: datetime
    message_count: int
    preview: str | None = Field(description="The start of the first message.")


class SessionList(_Strict):
    items: list[SessionOut]
    offset: int
    limit: int
    total: int
    has_more: bool


class MessageOut(_Strict):
    id: uuid.UUID
    role: Literal["user", "assistant"]
    text: str
    created_at: datetime


class MessageList(_Strict):
    session_id: uuid.UUID
    items: list[MessageOut]
    offset: int
    limit: int
    total: int
    has_more: bool


class MemoryOut(_Strict):
    id: str
    text: str
    created_at: str | None
    learned_on: str | None = Field(description="Platform where this was learned (slack, discord, web...).")
    channel: str | None
    private: bool = Field(description="Learned in a private conversation: only recalled in private ones.")
    score: float | None = Field(default=None, description="Relevance, when searching with `q`.")


class MemoryProfile(_Strict):
    account_id: uuid.UUID
    memory_paused: bool
    query: str | None
    items: list[MemoryOut]
    offset: int
    limit: int
    total: int
    has_more: bool


class MemoryProfileStatus(_Strict):
    account_id: uuid.UUID
    memory_paused: bool
    message: str


class ErasureResult(_Strict):
    erased: bool
    sessions_deleted: int
    message: str


class ExportedMemory(_Strict):
    id: str
    text: str
    created_at: str | None
    learned_on: str | None
    channel: str | None
    private: bool


class MemoryExport(_Strict):
    account_id: uuid.UUID
    memories: list[ExportedMemory]
