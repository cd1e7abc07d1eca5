"""One person, one memory: link codes, merging, privacy across platforms, unlink, erasure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.wiring import Core, build_core
from core.commands import Command, CommandName, parse_memory_command
from core.errors import MemoryBackendError, UserFacingError
from core.linking import CODE_ALPHABET, LinkService, hash_code, normalize_code
from core.memory.service import MemoryService
from core.models import IdentityKey, MemoryItem, MemoryOrigin, MemoryPage, Platform
from tests.conftest import make_settings
from tests.core.helpers import message, prompt_text
from tests.fakes.openai_server import FakeOpenAI

SLACK = IdentityKey(Platform.SLACK, "T1", "U1")
DISCORD = IdentityKey(Platform.DISCORD, "", "555")


async def issue(core: Core, identity: IdentityKey) -> str:
    result = await core.commands.run(identity, Command(CommandName.LINK))
    return result.text.split("Your link code is ")[1].split(" ")[0]


async def remember(core: Core, identity: IdentityKey, text: str, *, private: bool) -> None:
    account = await core.store.resolve_account(identity)
    origin = MemoryOrigin(identity.platform, "dm" if private else "general", private)
    await core.memory.remember(account.id, [{"role": "user", "content": text}], origin=origin, epoch=0)


def test_parse_link_commands() -> None:
    assert parse_memory_command("link") == Command(CommandName.LINK)
    assert parse_memory_command("link abcd-efgh") == Command(CommandName.LINK, argument="abcd-efgh")
    assert parse_memory_command("link ABCD EFGH") == Command(CommandName.LINK, argument="ABCDEFGH")
    assert parse_memory_command("links") == Command(CommandName.LINKS)
    assert parse_memory_command("unlink discord") == Command(CommandName.UNLINK, argument="discord")
    with pytest.raises(UserFacingError, match="Usage: /memory unlink"):
        parse_memory_command("unlink")


def test_codes_are_unambiguous() -> None:
    assert not set("0O1IL") & set(CODE_ALPHABET)
    assert normalize_code("abcd-efgh") == "ABCDEFGH"
    assert normalize_code("ABCD-EFG0") is None  # 0 is not in the alphabet
    assert normalize_code("short") is None


async def test_link_merges_memories_settings_and_history(core: Core) -> None:
    await remember(core, SLACK, "likes green tea", private=False)
    await remember(core, SLACK, "slack secret project", private=True)
    await remember(core, DISCORD, "likes green tea", private=False)  # exact duplicate collapses
    await remember(core, DISCORD, "plays the drums", private=False)
    discord_account = await core.store.resolve_account(DISCORD)
    await core.store.set_memory_paused(discord_account.id, True)  # stricter setting wins
    chat = await core.orchestrator.handle(
        message("hello from discord", platform=Platform.DISCORD, user="555", workspace="")
    )
    assert chat is not None

    code = await issue(core, SLACK)
    result = await core.commands.run(DISCORD, Command(CommandName.LINK, argument=code))
    assert "Linked. Your memory now spans: Discord, Slack." in result.text

    slack_account = await core.store.resolve_account(SLACK)
    assert (await core.store.resolve_account(DISCORD)).id == slack_account.id
    texts = sorted(
        i.text for i in (await core.memory.page(slack_account.id, offset=0, limit=20, epoch=0)).items
    )
    assert texts == ["likes green tea", "plays the drums", "slack secret project"]
    assert (await core.store.get_settings(slack_account.id)).memory_paused is True
    assert chat.session_id is not None
    stored = await core.store.recent_messages(chat.session_id, limit=5)
    assert {m.account_id for m in stored} == {slack_account.id}
    assert (await core.memory.page(discord_account.id, offset=0, limit=20, epoch=0)).total == 0
    links = await core.commands.run(SLACK, Command(CommandName.LINKS))
    assert links.text == "Linked to your memory: Discord, Slack."


async def test_private_facts_follow_the_person_only_into_private_chats(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    code = await issue(core, SLACK)
    await core.commands.run(DISCORD, Command(CommandName.LINK, argument=code))
    told = await core.orchestrator.handle(
        message("my allergy is penicillin", platform=Platform.SLACK, workspace="T1", user="U1", dm=True)
    )
    assert told is not None
    assert await core.writer.flush(10)
    await core.orchestrator.handle(
        message("what is my allergy", platform=Platform.DISCORD, workspace="", user="555", dm=True)
    )
    assert "penicillin" in prompt_text(fake_openai.chat_prompts()[-1])
    await core.orchestrator.handle(
        message(
            "what is my allergy",
            platform=Platform.DISCORD,
            workspace="",
            user="555",
            channel="server-general",
        )
    )
    assert "penicillin" not in prompt_text(fake_openai.chat_prompts()[-1])


async def test_bad_codes_change_nothing(core: Core) -> None:
    code = await issue(core, SLACK)
    for bad, needle in [
        ("ZZZZ-ZZZZ", "not valid"),
        ("nonsense!", "not valid"),
    ]:
        with pytest.raises(UserFacingError, match=needle):
            await core.commands.run(DISCORD, Command(CommandName.LINK, argument=bad))
    with pytest.raises(UserFacingError, match="That code is yours"):
        await core.commands.run(SLACK, Command(CommandName.LINK, argument=code))
    assert (await core.store.resolve_account(SLACK)).id != (await core.store.resolve_account(DISCORD)).id
    # Used: a third identity cannot reuse it.
    await core.commands.run(DISCORD, Command(CommandName.LINK, argument=code))
    web = IdentityKey(Platform.WEB, "", "sub-1")
    with pytest.raises(UserFacingError, match="already used"):
        await core.commands.run(web, Command(CommandName.LINK, argument=code))


async def test_expired_code(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    now = [datetime(2026, 5, 1, tzinfo=UTC)]
    async with build_core(make_settings(tmp_path, fake_openai), clock=lambda: now[0]) as core:
        code = await issue(core, SLACK)
        now[0] += timedelta(minutes=11)
        with pytest.raises(UserFacingError, match="expired"):
            await core.commands.run(DISCORD, Command(CommandName.LINK, argument=code))
        assert (await core.store.resolve_account(SLACK)).id != (await core.store.resolve_account(DISCORD)).id


async def test_brute_force_is_bounded(core: Core) -> None:
    code = await issue(core, SLACK)
    for _ in range(5):
        with pytest.raises(UserFacingError, match="not valid"):
            await core.commands.run(DISCORD, Command(CommandName.LINK, argument="ZZZZZZZZ"))
    with pytest.raises(UserFacingError, match="Too many wrong codes"):
        await core.commands.run(DISCORD, Command(CommandName.LINK, argument=code))  # even the right one
    # Another identity is not affected.
    web = IdentityKey(Platform.WEB, "", "sub-2")
    await core.commands.run(web, Command(CommandName.LINK, argument=code))
    assert (await core.store.resolve_account(web)).id == (await core.store.resolve_account(SLACK)).id


async def test_codes_are_stored_hashed(core: Core) -> None:
    code = await issue(core, SLACK)
    raw = code.replace("-", "")
    assert await core.store.find_link_code(hash_code(raw)) is not None
    files = [p for p in core.settings.data_dir.rglob("*") if p.is_file()]
    assert all(raw.encode() not in p.read_bytes() for p in files)


async def test_unlink_keeps_memories_with_the_account_it_leaves(core: Core) -> None:
    code = await issue(core, SLACK)
    await core.commands.run(DISCORD, Command(CommandName.LINK, argument=code))
    await remember(core, SLACK, "shared fact", private=False)
    result = await core.commands.run(SLACK, Command(CommandName.UNLINK, argument="Discord"))
    assert "Unlinked Discord" in result.text
    slack_account = await core.store.resolve_account(SLACK)
    discord_account = await core.store.resolve_account(DISCORD)
    assert slack_account.id != discord_account.id
    assert (await core.memory.page(discord_account.id, offset=0, limit=5, epoch=0)).total == 0
    assert (await core.memory.page(slack_account.id, offset=0, limit=5, epoch=0)).total == 1
    with pytest.raises(UserFacingError, match="only identity"):
        await core.commands.run(SLACK, Command(CommandName.UNLINK, argument="slack"))
    with pytest.raises(UserFacingError, match="No Discord identity"):
        await core.commands.run(SLACK, Command(CommandName.UNLINK, argument="discord"))
    with pytest.raises(UserFacingError, match="Unknown platform"):
        await core.commands.run(SLACK, Command(CommandName.UNLINK, argument="myspace"))


async def test_erasure_after_linking_leaves_nothing_on_either_side(core: Core) -> None:
    canary = "quokkacanary3301"
    await core.orchestrator.handle(
        message(f"slack note {canary}", platform=Platform.SLACK, workspace="T1", user="U1", dm=True)
    )
    await core.orchestrator.handle(
        message(f"discord note {canary}", platform=Platform.DISCORD, workspace="", user="555", dm=True)
    )
    assert await core.writer.flush(10)
    code = await issue(core, DISCORD)
    await core.commands.run(SLACK, Command(CommandName.LINK, argument=code))
    await core.commands.run(SLACK, Command(CommandName.FORGET_ALL, confirmed=True))
    leftovers = [
        p for p in core.settings.data_dir.rglob("*") if p.is_file() and canary.encode() in p.read_bytes()
    ]
    assert leftovers == []


class FailingOnceMemory:
    """A MemoryService (our port) whose first `move` fails: a dependency failing mid-merge."""

    def __init__(self, inner: MemoryService) -> None:
        self.inner = inner
        self.failures_left = 1

    async def move(
        self, source: uuid.UUID, target: uuid.UUID, *, epoch: int, memory_ids: list[str] | None = None
    ) -> list[str]:
        if self.failures_left:
            self.failures_left -= 1
            raise MemoryBackendError("vector store unavailable")
        return await self.inner.move(source, target, epoch=epoch, memory_ids=memory_ids)

    async def page(
        self, account_id: uuid.UUID, *, epoch: int, offset: int, limit: int, query: str | None = None
    ) -> MemoryPage:
        return await self.inner.page(account_id, epoch=epoch, offset=offset, limit=limit, query=query)

    async def forget(self, account_id: uuid.UUID, memory_id: str) -> MemoryItem:
        return await self.inner.forget(account_id, memory_id)


async def test_a_failed_merge_changes_nothing_and_finishes_on_retry(core: Core) -> None:
    await remember(core, DISCORD, "discord only fact", private=False)
    links = LinkService(store=core.store, memory=FailingOnceMemory(core.memory), clock=core.clock)  # type: ignore[arg-type]
    issued = await links.issue_code(SLACK)
    with pytest.raises(MemoryBackendError):
        await links.redeem(DISCORD, issued.code)
    assert (await core.store.resolve_account(SLACK)).id != (await core.store.resolve_account(DISCORD)).id
    outcome = await links.redeem(DISCORD, issued.code)
    assert outcome.memories_moved == 1
    assert (await core.store.resolve_account(DISCORD)).id == outcome.account_id
    texts = [i.text for i in (await core.memory.page(outcome.account_id, offset=0, limit=5, epoch=0)).items]
    assert texts == ["discord only fact"]
