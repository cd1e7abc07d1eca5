"""The Supabase store's usage role: model tokens per account, workspace and UTC day."""

from __future__ import annotations

import uuid
from datetime import date

from postgrest.types import JSON

from core.models import DailyUsage, Platform
from core.storage.supabase.client import SupabaseConnection
from core.storage.supabase.parsing import as_int, as_object
from core.storage.validation import non_negative


class SupabaseUsage(SupabaseConnection):
    async def add_usage(
        self, *, account_id: uuid.UUID, platform: Platform, workspace: str, day: date, tokens: int
    ) -> None:
        await self._call(
            "mnemo_add_usage",
            {
                "p_account_id": str(account_id),
                "p_platform": platform.value,
                "p_workspace": workspace,
                "p_day": day.isoformat(),
                "p_tokens": non_negative(tokens, "tokens"),
            },
            lambda data: as_int(data, "tokens"),
        )

    async def daily_usage(
        self, *, account_id: uuid.UUID, platform: Platform, workspace: str, day: date
    ) -> DailyUsage:
        def parse(data: JSON) -> DailyUsage:
            row = as_object(data)
            return DailyUsage(
                person=as_int(row.get("person"), "person"),
                workspace=as_int(row.get("workspace"), "workspace"),
            )

        return await self._call(
            "mnemo_daily_usage",
            {
                "p_account_id": str(account_id),
                "p_platform": platform.value,
                "p_workspace": workspace,
                "p_day": day.isoformat(),
            },
            parse,
        )
