"""What an operator may do for people, without them: `python -m bot admin` (bot/admin.py) calls this.

Each operation is the same one a person triggers for themselves, so nothing is erased or exported
differently: erase is `Removals.erase` (exactly `/memory forget all`, core.erasure), export is the
`/memory export` document. A person is named by platform and user id (and workspace, for Slack); no
platform is asked anything, so it works for someone who left. Re-embedding is core.memory.reembed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.erasure import ErasureReport, Removals
from core.errors import NotFoundError
from core.memory.service import MemoryService
from core.models import Account, IdentityKey, MemoryItem
from core.storage import Store


@dataclass(frozen=True, slots=True)
class PersonSummary:
    account_id: uuid.UUID
    identities: list[IdentityKey]
    memories: int
    paused: bool
    tokens_today: int = 0  # model tokens (prompt + completion, extraction included), this UTC day


def describe_identity(identity: IdentityKey) -> str:
    where = (
        f"{identity.platform.value}:{identity.workspace}" if identity.workspace else identity.platform.value
    )
    return f"{where}:{identity.user}"


def export_document(
    account: Account, identities: list[IdentityKey], items: list[MemoryItem]
) -> dict[str, Any]:
    """The `/memory export` document, plus the identities the account holds."""
    return {
        "account_id": str(account.id),
        "identities": [
            {"platform": i.platform.value, "workspace": i.workspace, "user": i.user} for i in identities
        ],
        "memories": [
            {
                "id": i.id,
                "text": i.text,
                "created_at": i.created_at,
                "learned_on": i.platform,
                "channel": i.channel,
                "private": i.is_private,
            }
            for i in items
        ],
    }


class Admin:
    def __init__(self, *, store: Store, memory: MemoryService, removals: Removals) -> None:
        self._store = store
        self._memory = memory
        self._removals = removals

    async def _summary(self, account_id: uuid.UUID) -> PersonSummary:
        settings = await self._store.get_settings(account_id)
        identities = await self._store.list_identities(account_id)
        items = await self._memory.export(account_id, epoch=settings.epoch)
        tokens = 0
        if identities:  # a person's count spans their platforms: any identity names the account
            usage = await self._store.daily_usage(
                account_id=account_id,
                platform=identities[0].platform,
                workspace=identities[0].workspace,
                day=datetime.now(UTC).date(),
            )
            tokens = usage.person
        return PersonSummary(account_id, identities, len(items), settings.memory_paused, tokens)

    async def _account(self, identity: IdentityKey) -> Account:
        account = await self._store.find_account(identity)
        if account is None:  # a mistyped id must not become an account
            raise NotFoundError(f"Mnemo has no account for {describe_identity(identity)}.")
        return account

    async def person(self, identity: IdentityKey) -> PersonSummary:
        """The person's account, with its linked identities and memory count. NotFoundError for an
        identity Mnemo has never seen (nothing is created)."""
        return await self._summary((await self._account(identity)).id)

    async def erase(self, identity: IdentityKey) -> ErasureReport:
        """Everything of the person's account, on every linked platform: `/memory forget all`."""
        return await self._removals.erase((await self._account(identity)).id)

    async def export(self, identity: IdentityKey) -> dict[str, Any]:
        account = await self._account(identity)
        settings = await self._store.get_settings(account.id)
        identities = await self._store.list_identities(account.id)
        items = await self._memory.export(account.id, epoch=settings.epoch)
        return export_document(account, identities, items)

    async def accounts(self) -> list[PersonSummary]:
        """Every account that holds memories, most memories first."""
        summaries = [await self._summary(account_id) for account_id in await self._memory.account_ids()]
        return sorted(summaries, key=lambda s: (-s.memories, str(s.account_id)))


__all__ = ["Admin", "PersonSummary", "describe_identity", "export_document"]
