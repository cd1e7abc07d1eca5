"""The Supabase store's conversations role: sessions and the messages stored in them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from postgrest.types import JSON

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
from core.storage.supabase.client import SupabaseConnection, timestamp_param
from core.storage.supabase.parsing import (
    MalformedResponseError,
    as_bool,
    as_int,
    as_object,
    as_objects,
    message_from,
    messages_oldest_first,
    optional_string_at,
    session_from,
    string_at,
    time_at,
)
from core.storage.validation import memory_ids as valid_memory_ids
from core.storage.validation import non_negative, non_negative_duration


def conversation_params(conversation: ConversationKey) -> Mapping[str, str]:
    return {
        "p_platform": conversation.platform.value,
        "p_workspace": conversation.workspace,
        "p_channel": conversation.channel,
        "p_thread": conversation.thread,
    }


def _optional_session_from(data: JSON) -> Session | None:
    rows = as_objects(data)
    return session_from(rows[0]) if rows else None


class SupabaseConversations(SupabaseConnection):
    async def touch_session(
        self, conversation: ConversationKey, *, now: datetime, idle_timeout: timedelta
    ) -> Session:
        non_negative_duration(idle_timeout, "idle_timeout")
        return await self._call(
            "mnemo_touch_session",
            {
                **conversation_params(conversation),
                "p_now": timestamp_param(now, "now"),
                "p_idle_seconds": idle_timeout.total_seconds(),
            },
            lambda data: session_from(as_object(data)),
        )

    async def get_session(self, session_id: uuid.UUID) -> Session | None:
        return await self._call(
            "mnemo_get_session", {"p_session_id": str(session_id)}, _optional_session_from
        )

    async def has_session(self, conversation: ConversationKey) -> bool:
        return await self._call(
            "mnemo_has_session",
            conversation_params(conversation),
            lambda data: as_bool(data, "has_session"),
        )

    async def list_conversations(
        self, *, platform: Platform, workspace: str, channel: str, offset: int, limit: int
    ) -> ConversationPage:
        def conversation_page_from(data: JSON) -> ConversationPage:
            page = as_object(data)
            items = [
                ConversationSummary(
                    conversation=ConversationKey(platform, workspace, channel, string_at(row, "thread")),
                    opened_at=time_at(row, "opened_at"),
                    last_active_at=time_at(row, "last_active_at"),
                    message_count=as_int(row.get("message_count"), "message_count"),
                    preview=optional_string_at(row, "preview"),
                )
                for row in as_objects(page.get("items"))
            ]
            return ConversationPage(items, offset, as_int(page.get("total"), "total"))

        return await self._call(
            "mnemo_list_conversations",
            {
                "p_platform": platform.value,
                "p_workspace": workspace,
                "p_channel": channel,
                "p_offset": non_negative(offset, "offset"),
                "p_limit": non_negative(limit, "limit"),
            },
            conversation_page_from,
        )

    async def conversation_messages(
        self, conversation: ConversationKey, *, offset: int, limit: int
    ) -> MessagePage:
        def message_page_from(data: JSON) -> MessagePage:
            page = as_object(data)
            items = [message_from(row) for row in as_objects(page.get("items"))]
            return MessagePage(items, offset, as_int(page.get("total"), "total"))

        return await self._call(
            "mnemo_conversation_messages",
            {
                **conversation_params(conversation),
                "p_offset": non_negative(offset, "offset"),
                "p_limit": non_negative(limit, "limit"),
            },
            message_page_from,
        )

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
        if valid_memory_ids(memory_ids, answer=role is Role.ASSISTANT and author_name is None):
            return await self._call(
                "mnemo_append_answer_at_epoch",
                {
                    "p_session_id": str(session_id),
                    "p_account_id": str(account_id),
                    "p_epoch": epoch,
                    "p_text": text,
                    "p_now": timestamp_param(now, "now"),
                    "p_memory_ids": list(memory_ids),
                },
                lambda data: message_from(as_object(data)),
            )
        return await self._call(
            "mnemo_append_message_at_epoch",
            {
                "p_session_id": str(session_id),
                "p_account_id": str(account_id),
                "p_epoch": epoch,
                "p_role": role.value,
                "p_text": text,
                "p_now": timestamp_param(now, "now"),
                "p_author_name": author_name,
            },
            lambda data: message_from(as_object(data)),
        )

    async def append_and_recent(
        self,
        *,
        session_id: uuid.UUID,
        account_id: uuid.UUID,
        role: Role,
        text: str,
        now: datetime,
        epoch: int,
        limit: int,
        author_name: str | None = None,
    ) -> tuple[StoredMessage, list[StoredMessage]]:
        """Store a message and get the (up to `limit`) turns before it, oldest first, in one round
        trip; ErasedError like append_message. Not part of the Store port: the orchestrator calls the
        two halves separately (bench/store_roundtrips.py measures what joining them would save)."""
        non_negative(limit, "limit")

        def stored_and_before(data: JSON) -> tuple[StoredMessage, list[StoredMessage]]:
            messages = messages_oldest_first(data)
            if not messages:
                raise MalformedResponseError("the stored message is missing")
            return messages[-1], messages[:-1]

        return await self._call(
            "mnemo_append_message_and_recent_at_epoch",
            {
                "p_session_id": str(session_id),
                "p_account_id": str(account_id),
                "p_epoch": epoch,
                "p_role": role.value,
                "p_text": text,
                "p_now": timestamp_param(now, "now"),
                "p_limit": limit,
                "p_author_name": author_name,
            },
            stored_and_before,
        )

    async def last_answer_memories(
        self, account_id: uuid.UUID, *, platform: str, workspace: str, channel: str
    ) -> list[str] | None:
        def first_row(data: JSON) -> list[str] | None:
            rows = as_objects(data)
            if not rows:
                return None
            ids = rows[0].get("memory_ids")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise MalformedResponseError("memory_ids is not a list of strings")
            return [str(i) for i in ids]

        return await self._call(
            "mnemo_last_answer_memories",
            {
                "p_account_id": str(account_id),
                "p_platform": platform,
                "p_workspace": workspace,
                "p_channel": channel,
            },
            first_row,
        )

    async def recent_messages(self, session_id: uuid.UUID, *, limit: int) -> list[StoredMessage]:
        return await self._call(
            "mnemo_recent_messages",
            {"p_session_id": str(session_id), "p_limit": non_negative(limit, "limit")},
            messages_oldest_first,
        )

    async def close_idle_sessions(self, *, now: datetime, idle_timeout: timedelta) -> int:
        non_negative_duration(idle_timeout, "idle_timeout")
        return await self._call(
            "mnemo_close_idle_sessions",
            {"p_now": timestamp_param(now, "now"), "p_idle_seconds": idle_timeout.total_seconds()},
            lambda data: as_int(data, "closed"),
        )
