"""The Supabase store's links role: link codes, failed attempts, and merging two accounts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from postgrest.types import JSON

from core.models import IdentityKey, LinkCode
from core.storage.supabase.client import SupabaseConnection, timestamp_param
from core.storage.supabase.parsing import (
    as_bool,
    as_int,
    as_objects,
    as_uuid,
    optional_time_at,
    string_at,
    time_at,
)
from core.storage.validation import distinct_accounts, non_negative_duration


def _identity_params(identity: IdentityKey) -> Mapping[str, str]:
    return {
        "p_platform": identity.platform.value,
        "p_workspace": identity.workspace,
        "p_user_id": identity.user,
    }


def _link_code_from(data: JSON) -> LinkCode | None:
    rows = as_objects(data)
    if not rows:
        return None
    row = rows[0]
    return LinkCode(
        code_hash=string_at(row, "code_hash"),
        account_id=as_uuid(row.get("account_id"), "account_id"),
        created_at=time_at(row, "created_at"),
        expires_at=time_at(row, "expires_at"),
        used_at=optional_time_at(row, "used_at"),
    )


class SupabaseLinks(SupabaseConnection):
    async def add_link_code(
        self, *, account_id: uuid.UUID, code_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        await self._rpc(
            "mnemo_add_link_code",
            {
                "p_account_id": str(account_id),
                "p_code_hash": code_hash,
                "p_now": timestamp_param(now, "now"),
                "p_expires_at": timestamp_param(expires_at, "expires_at"),
            },
        )

    async def find_link_code(self, code_hash: str) -> LinkCode | None:
        return await self._call("mnemo_find_link_code", {"p_code_hash": code_hash}, _link_code_from)

    async def reserve_link_code(
        self, code_hash: str, *, account_id: uuid.UUID, now: datetime, hold: timedelta
    ) -> bool:
        non_negative_duration(hold, "hold")
        return await self._call(
            "mnemo_reserve_link_code",
            {
                "p_code_hash": code_hash,
                "p_account_id": str(account_id),
                "p_now": timestamp_param(now, "now"),
                "p_hold_seconds": hold.total_seconds(),
            },
            lambda data: as_bool(data, "reserved"),
        )

    async def record_link_failure(self, identity: IdentityKey, *, now: datetime) -> None:
        await self._rpc(
            "mnemo_record_link_failure",
            {**_identity_params(identity), "p_now": timestamp_param(now, "now")},
        )

    async def count_link_failures(self, identity: IdentityKey, *, since: datetime) -> int:
        return await self._call(
            "mnemo_count_link_failures",
            {**_identity_params(identity), "p_since": timestamp_param(since, "since")},
            lambda data: as_int(data, "failures"),
        )

    async def merge_accounts(
        self, *, source: uuid.UUID, target: uuid.UUID, code_hash: str, now: datetime
    ) -> bool:
        distinct_accounts(source, target)
        return await self._call(
            "mnemo_merge_accounts_reserved",
            {
                "p_source": str(source),
                "p_target": str(target),
                "p_code_hash": code_hash,
                "p_now": timestamp_param(now, "now"),
            },
            lambda data: as_bool(data, "merged"),
        )
