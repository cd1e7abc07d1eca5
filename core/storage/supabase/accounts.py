"""The Supabase store's accounts role: accounts, their platform identities and their settings."""

from __future__ import annotations

import uuid
from datetime import datetime

from postgrest.types import JSON

from core.models import Account, AccountSettings, IdentityKey, Platform
from core.storage.supabase.client import SupabaseConnection, timestamp_param
from core.storage.supabase.parsing import account_from, as_bool, as_int, as_object, as_objects, string_at


def _settings_from(data: JSON) -> AccountSettings:
    rows = as_objects(data)
    if not rows:
        return AccountSettings()
    return AccountSettings(
        memory_paused=as_bool(rows[0].get("memory_paused"), "memory_paused"),
        epoch=as_int(rows[0].get("epoch"), "epoch"),
    )


def _identities_from(data: JSON) -> list[IdentityKey]:
    return [
        IdentityKey(
            Platform(string_at(row, "platform")), string_at(row, "workspace"), string_at(row, "user_id")
        )
        for row in as_objects(data)
    ]


class SupabaseAccounts(SupabaseConnection):
    async def resolve_account(self, identity: IdentityKey, *, display_name: str | None = None) -> Account:
        return await self._call(
            "mnemo_resolve_account",
            {
                "p_platform": identity.platform.value,
                "p_workspace": identity.workspace,
                "p_user_id": identity.user,
                "p_display_name": display_name,
            },
            lambda data: account_from(as_object(data)),
        )

    async def find_account(self, identity: IdentityKey) -> Account | None:
        def first_account(data: JSON) -> Account | None:
            rows = as_objects(data)
            return account_from(rows[0]) if rows else None

        return await self._call(
            "mnemo_find_account",
            {
                "p_platform": identity.platform.value,
                "p_workspace": identity.workspace,
                "p_user_id": identity.user,
            },
            first_account,
        )

    async def get_settings(self, account_id: uuid.UUID) -> AccountSettings:
        return await self._call(
            "mnemo_get_settings_with_epoch", {"p_account_id": str(account_id)}, _settings_from
        )

    async def set_memory_paused(self, account_id: uuid.UUID, paused: bool) -> None:
        await self._rpc("mnemo_set_memory_paused", {"p_account_id": str(account_id), "p_paused": paused})

    async def list_identities(self, account_id: uuid.UUID) -> list[IdentityKey]:
        return await self._call("mnemo_list_identities", {"p_account_id": str(account_id)}, _identities_from)

    async def detach_identity(self, identity: IdentityKey, *, now: datetime) -> Account:
        return await self._call(
            "mnemo_detach_identity",
            {
                "p_platform": identity.platform.value,
                "p_workspace": identity.workspace,
                "p_user_id": identity.user,
                "p_now": timestamp_param(now, "now"),
            },
            lambda data: account_from(as_object(data)),
        )
