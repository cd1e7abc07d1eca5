"""The Supabase store's memory-writes role: where a write may land (epochs, merges), and the
durable queue of writes that failed."""

from __future__ import annotations

import uuid
from datetime import datetime

from postgrest.types import JSON

from core.models import MemoryOrigin, PendingMemoryWrite, WriteTarget
from core.storage.supabase.client import SupabaseConnection, timestamp_param
from core.storage.supabase.parsing import as_bool, as_int, as_object, as_objects, as_uuid, pending_write_from
from core.storage.validation import non_negative


def _target_from(data: JSON) -> WriteTarget | None:
    if data is None:
        return None
    row = as_object(data)
    return WriteTarget(as_uuid(row.get("account_id"), "account_id"), as_int(row.get("epoch"), "epoch"))


class SupabaseMemoryWrites(SupabaseConnection):
    async def memory_write_target(self, account_id: uuid.UUID, epoch: int) -> WriteTarget | None:
        return await self._call(
            "mnemo_memory_write_target", {"p_account_id": str(account_id), "p_epoch": epoch}, _target_from
        )

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
        return await self._call(
            "mnemo_add_pending_write_at_epoch",
            {
                "p_account_id": str(account_id),
                "p_epoch": epoch,
                "p_messages": messages,
                "p_origin_platform": origin.platform.value,
                "p_origin_channel": origin.channel,
                "p_origin_is_private": origin.is_private,
                "p_now": timestamp_param(now, "now"),
                "p_error": error,
            },
            lambda data: None if data is None else as_uuid(data, "id"),
        )

    async def due_pending_writes(self, *, now: datetime, limit: int) -> list[PendingMemoryWrite]:
        return await self._call(
            "mnemo_due_pending_writes",
            {"p_now": timestamp_param(now, "now"), "p_limit": non_negative(limit, "limit")},
            lambda data: [pending_write_from(row) for row in as_objects(data)],
        )

    async def complete_pending_write(self, write_id: uuid.UUID) -> bool:
        return await self._call(
            "mnemo_finish_pending_write",
            {"p_write_id": str(write_id)},
            lambda data: as_bool(data, "finished"),
        )

    async def reschedule_pending_write(
        self, write_id: uuid.UUID, *, next_attempt_at: datetime, error: str
    ) -> None:
        await self._rpc(
            "mnemo_reschedule_pending_write",
            {
                "p_write_id": str(write_id),
                "p_next_attempt_at": timestamp_param(next_attempt_at, "next_attempt_at"),
                "p_error": error,
            },
        )
