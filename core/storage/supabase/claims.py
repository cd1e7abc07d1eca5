"""The Supabase store's event-claims role: one SQL function, exactly-once by the table's primary key."""

from __future__ import annotations

from datetime import datetime

from core.storage.supabase.client import SupabaseConnection, timestamp_param
from core.storage.supabase.parsing import as_bool
from core.storage.validation import event_key


class SupabaseEventClaims(SupabaseConnection):
    async def claim_event(self, key: str, *, now: datetime) -> bool:
        return await self._call(
            "mnemo_claim_event",
            {"p_key": event_key(key), "p_now": timestamp_param(now, "now")},
            lambda data: as_bool(data, "claimed"),
        )
