"""Merging memories when accounts are linked: exact duplicates collapse and leave nothing behind."""

from __future__ import annotations

from bot.wiring import Core
from core.commands import Command, CommandName
from core.models import IdentityKey, MemoryOrigin, Platform

SLACK = IdentityKey(Platform.SLACK, "T1", "U1")
DISCORD = IdentityKey(Platform.DISCORD, "", "555")


async def test_collapsed_duplicates_leave_no_history_for_a_later_erasure_to_miss(core: Core) -> None:
    canary = "echidnacanary2207"
    facts = [f"my gate code is {canary}-{n}" for n in range(6)]
    for identity, mine in ((SLACK, facts), (DISCORD, [*facts[:4], "plays the tuba"])):
        account = await core.store.resolve_account(identity)
        origin = MemoryOrigin(identity.platform, "dm", is_private=True)
        await core.memory.remember(
            account.id, [{"role": "user", "content": f} for f in mine], origin=origin, epoch=0
        )
    issued = await core.links.issue_code(SLACK)

    outcome = await core.links.redeem(DISCORD, issued.code)

    assert outcome.memories_moved == 1  # the tuba; the four gate codes were already there
    texts = sorted(i.text for i in await core.memory.export(outcome.account_id, epoch=0))
    assert texts == sorted([*facts, "plays the tuba"])
    await core.commands.run(SLACK, Command(CommandName.FORGET_ALL, confirmed=True))
    files = [p for p in core.settings.data_dir.rglob("*") if p.is_file()]
    assert [p for p in files if canary.encode() in p.read_bytes()] == []
