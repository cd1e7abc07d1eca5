"""The Supabase store's removal role. Deleted rows stay in PostgreSQL's files until VACUUM reclaims
them (and in WAL/backups for their retention period); a function cannot VACUUM. See README: Supabase."""

from __future__ import annotations

import uuid
from datetime import datetime

from core.models import ConversationKey
from core.storage.supabase.client import SupabaseConnection, timestamp_param
from core.storage.supabase.conversations import conversation_params
from core.storage.supabase.parsing import as_int


class SupabaseRemoval(SupabaseConnection):
    async def erase_account(self, account_id: uuid.UUID) -> int:
        return await self._call(
            "mnemo_erase_account",
            {"p_account_id": str(account_id)},
            lambda data: as_int(data, "erased"),
        )

    async def delete_conversation(self, conversation: ConversationKey) -> int:
        return await self._call(
            "mnemo_delete_conversation",
            conversation_params(conversation),
            lambda data: as_int(data, "deleted"),
        )

    async def purge_messages(self, *, before: datetime) -> int:
        return await self._call(
            "mnemo_purge_messages",
            {"p_before": timestamp_param(before, "before")},
            lambda data: as_int(data, "purged"),
        )

    async def purge_bookkeeping(self, *, before: datetime) -> int:
        return await self._call(
            "mnemo_purge_bookkeeping",
            {"p_before": timestamp_param(before, "before")},
            lambda data: as_int(data, "purged"),
        )
