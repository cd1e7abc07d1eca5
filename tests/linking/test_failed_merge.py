"""A merge that fails halfway leaves both accounts as they were, including where new memories go."""

from __future__ import annotations

import pytest

from bot.wiring import Core
from core.errors import MemoryBackendError
from core.linking import LinkService
from core.models import IdentityKey, MemoryOrigin, Platform
from tests.core.test_linking import FailingOnceMemory

SLACK = IdentityKey(Platform.SLACK, "T1", "U1")
DISCORD = IdentityKey(Platform.DISCORD, "", "555")


async def test_after_a_failed_merge_new_memories_stay_with_their_own_account(core: Core) -> None:
    links = LinkService(store=core.store, memory=FailingOnceMemory(core.memory), clock=core.clock)  # type: ignore[arg-type]
    issued = await links.issue_code(SLACK)
    slack = await core.store.resolve_account(SLACK)
    discord = await core.store.resolve_account(DISCORD)
    with pytest.raises(MemoryBackendError):
        await links.redeem(DISCORD, issued.code)

    await core.writer.submit(
        discord.id,
        [{"role": "user", "content": "my drum kit is red"}],
        MemoryOrigin(Platform.DISCORD, "dm", True),
        epoch=discord.epoch,
    )
    assert await core.writer.flush(10)

    assert [i.text for i in await core.memory.export(discord.id, epoch=0)] == ["my drum kit is red"]
    assert await core.memory.export(slack.id, epoch=0) == []
    # The retry finishes the link, and the memory written in between comes along.
    outcome = await links.redeem(DISCORD, issued.code)
    assert outcome.account_id == slack.id
    assert [i.text for i in await core.memory.export(slack.id, epoch=0)] == ["my drum kit is red"]
