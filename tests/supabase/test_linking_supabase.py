"""Account linking on the Supabase store: the core's LinkService, the real mem0 memory in tmp and
SupabaseStore (supabase-py -> the PostgREST shim -> PostgreSQL with the migrations). What the
person sees through /memory, and what PostgreSQL holds afterwards."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.wiring import Core, build_core
from core.commands import Command, CommandName
from core.errors import UserFacingError
from core.models import IdentityKey, MemoryOrigin, Platform
from core.storage.supabase import SupabaseStore
from tests.conftest import make_settings
from tests.core.helpers import message, prompt_text
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.postgrest import PostgrestShim

SLACK = IdentityKey(Platform.SLACK, "T1", "U1")
DISCORD = IdentityKey(Platform.DISCORD, "", "555")
WEB = IdentityKey(Platform.WEB, "", "sub-1")

CoreFactory = Callable[..., Any]


class Clock:
    """A clock the test moves (code expiry, the brute-force window)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def core(
    tmp_path: Path, fake_openai: FakeOpenAI, postgrest_shim: PostgrestShim, clock: Clock
) -> AsyncIterator[Core]:
    async with open_core(tmp_path / "data", fake_openai, postgrest_shim, clock) as built:
        yield built


@asynccontextmanager
async def open_core(
    data_dir: Path, fake_openai: FakeOpenAI, shim: PostgrestShim, clock: Clock
) -> AsyncIterator[Core]:
    settings = make_settings(
        data_dir, fake_openai, supabase_url=shim.url, supabase_service_role_key=shim.key()
    )
    async with build_core(settings, clock=clock) as built:
        assert isinstance(built.store, SupabaseStore)
        yield built


async def issue(core: Core, identity: IdentityKey) -> str:
    result = await core.commands.run(identity, Command(CommandName.LINK))
    return result.text.split("Your link code is ")[1].split(" ")[0]


async def link(core: Core, identity: IdentityKey, code: str) -> str:
    return (await core.commands.run(identity, Command(CommandName.LINK, argument=code))).text


async def remember(core: Core, identity: IdentityKey, text: str, *, private: bool) -> None:
    account = await core.store.resolve_account(identity)
    origin = MemoryOrigin(identity.platform, "dm" if private else "general", private)
    added = await core.memory.remember(
        account.id, [{"role": "user", "content": text}], origin=origin, epoch=0
    )
    assert added or text == "likes green tea"  # only the exact duplicate may add nothing new


async def texts(core: Core, identity: IdentityKey) -> list[str]:
    account = await core.store.resolve_account(identity)
    return sorted(item.text for item in await core.memory.export(account.id, epoch=0))


def rows(dsn: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


async def test_linking_merges_two_accounts_in_postgres(core: Core, supabase_dsn: str) -> None:
    await remember(core, SLACK, "likes green tea", private=False)
    await remember(core, SLACK, "slack secret project", private=True)
    await remember(core, DISCORD, "likes green tea", private=False)  # an exact duplicate collapses
    await remember(core, DISCORD, "plays the drums", private=False)
    discord_account = await core.store.resolve_account(DISCORD)
    await core.store.set_memory_paused(discord_account.id, True)  # the stricter setting wins
    chat = await core.orchestrator.handle(
        message("hello from discord", platform=Platform.DISCORD, workspace="", user="555")
    )
    assert chat is not None
    assert chat.session_id is not None
    assert rows(supabase_dsn, "select count(*) from mnemo.accounts") == [(2,)]

    code = await issue(core, SLACK)
    raw = code.replace("-", "")
    stored = rows(supabase_dsn, "select code_hash, used_at from mnemo.link_codes")
    assert stored == [(hashlib.sha256(raw.encode()).hexdigest(), None)]  # hashed, never the code
    answer = await link(core, DISCORD, code)

    assert "Linked. Your memory now spans: Discord, Slack." in answer
    assert "1 memory joined" in answer  # the drums; the tea was already there
    slack_account = await core.store.resolve_account(SLACK)
    assert (await core.store.resolve_account(DISCORD)).id == slack_account.id
    assert await texts(core, SLACK) == ["likes green tea", "plays the drums", "slack secret project"]
    assert (await core.store.get_settings(slack_account.id)).memory_paused is True
    history = await core.store.recent_messages(chat.session_id, limit=5)
    assert {m.account_id for m in history} == {slack_account.id}
    assert rows(supabase_dsn, "select id from mnemo.accounts") == [(slack_account.id,)]
    assert rows(supabase_dsn, "select count(*) from mnemo.link_codes where used_at is not null") == [(1,)]
    assert (await core.memory.page(discord_account.id, offset=0, limit=20, epoch=0)).total == 0
    links = await core.commands.run(DISCORD, Command(CommandName.LINKS))
    assert links.text == "Linked to your memory: Discord, Slack."


async def test_a_fact_from_a_slack_dm_is_recalled_in_discord_dms_only(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    await link(core, DISCORD, await issue(core, SLACK))
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
        message("what is my allergy", platform=Platform.DISCORD, workspace="", user="555", channel="srv")
    )
    assert "penicillin" not in prompt_text(fake_openai.chat_prompts()[-1])


async def test_wrong_foreign_used_and_expired_codes_change_nothing(
    core: Core, clock: Clock, supabase_dsn: str
) -> None:
    code = await issue(core, SLACK)
    with pytest.raises(UserFacingError, match="not valid"):
        await link(core, DISCORD, "ZZZZ-ZZZZ")
    with pytest.raises(UserFacingError, match="not valid"):
        await link(core, DISCORD, "not a code!")
    with pytest.raises(UserFacingError, match="That code is yours"):
        await link(core, SLACK, code)
    assert (await core.store.resolve_account(SLACK)).id != (await core.store.resolve_account(DISCORD)).id
    assert rows(supabase_dsn, "select count(*) from mnemo.link_failures") == [(2,)]

    await link(core, DISCORD, code)
    with pytest.raises(UserFacingError, match="already used"):
        await link(core, WEB, code)
    assert len(await core.store.list_identities((await core.store.resolve_account(SLACK)).id)) == 2

    late = await issue(core, SLACK)
    clock.now += timedelta(minutes=10, seconds=1)
    with pytest.raises(UserFacingError, match="expired"):
        await link(core, WEB, late)
    assert (await core.store.resolve_account(WEB)).id != (await core.store.resolve_account(SLACK)).id


async def test_brute_force_is_bounded_per_identity_for_an_hour(core: Core, clock: Clock) -> None:
    code = await issue(core, SLACK)
    for _ in range(5):
        with pytest.raises(UserFacingError, match="not valid"):
            await link(core, DISCORD, "ZZZZZZZZ")
    with pytest.raises(UserFacingError, match="Too many wrong codes"):
        await link(core, DISCORD, code)  # even the right code
    assert (await core.store.resolve_account(DISCORD)).id != (await core.store.resolve_account(SLACK)).id

    clock.now += timedelta(minutes=61)  # the window has passed (and so has the code)
    with pytest.raises(UserFacingError, match="expired"):
        await link(core, DISCORD, code)
    assert "Linked" in await link(core, DISCORD, await issue(core, SLACK))


async def test_unlink_leaves_the_memories_with_the_account(core: Core, supabase_dsn: str) -> None:
    await link(core, DISCORD, await issue(core, SLACK))
    await remember(core, DISCORD, "shared fact", private=False)

    result = await core.commands.run(SLACK, Command(CommandName.UNLINK, argument="discord"))

    assert "Unlinked Discord" in result.text
    assert await texts(core, SLACK) == ["shared fact"]
    assert await texts(core, DISCORD) == []
    assert rows(supabase_dsn, "select count(*) from mnemo.accounts") == [(2,)]
    only = await core.commands.run(DISCORD, Command(CommandName.LINKS))
    assert only.text.startswith("Only this platform is linked")
    with pytest.raises(UserFacingError, match="only identity"):
        await core.commands.run(SLACK, Command(CommandName.UNLINK, argument="slack"))


async def test_erasure_after_linking_leaves_nothing_in_postgres_or_data_dir(
    core: Core, supabase_dsn: str
) -> None:
    canary = "wombatcanary7741"
    for platform, workspace, user in ((Platform.SLACK, "T1", "U1"), (Platform.DISCORD, "", "555")):
        answered = await core.orchestrator.handle(
            message(
                f"{platform.value} note {canary}", platform=platform, workspace=workspace, user=user, dm=True
            )
        )
        assert answered is not None
    assert await core.writer.flush(10)
    await link(core, SLACK, await issue(core, DISCORD))

    await core.commands.run(SLACK, Command(CommandName.FORGET_ALL, confirmed=True))

    assert await texts(core, DISCORD) == []
    leftovers = [
        p for p in core.settings.data_dir.rglob("*") if p.is_file() and canary.encode() in p.read_bytes()
    ]
    assert leftovers == []
    assert rows(supabase_dsn, "select count(*) from mnemo.messages where text like %s", f"%{canary}%") == [
        (0,)
    ]
    assert rows(supabase_dsn, "select count(*) from mnemo.pending_memory_writes") == [(0,)]


async def test_two_people_racing_for_one_code_link_only_one_and_lose_nothing(
    core: Core, supabase_dsn: str
) -> None:
    await remember(core, DISCORD, "discord racer fact", private=False)
    await remember(core, WEB, "web racer fact", private=False)
    code = await issue(core, SLACK)

    outcomes = await asyncio.gather(link(core, DISCORD, code), link(core, WEB, code), return_exceptions=True)

    won = [o for o in outcomes if isinstance(o, str)]
    lost = [o for o in outcomes if isinstance(o, UserFacingError)]
    assert len(won) == 1, outcomes
    assert len(lost) == 1, outcomes
    slack_account = await core.store.resolve_account(SLACK)
    assert len(await core.store.list_identities(slack_account.id)) == 2
    # The loser keeps its own memories; the winner's joined the Slack account.
    loser = WEB if (await core.store.resolve_account(DISCORD)).id == slack_account.id else DISCORD
    assert (await core.store.resolve_account(loser)).id != slack_account.id
    own = "web racer fact" if loser is WEB else "discord racer fact"
    assert await texts(core, loser) == [own]
    assert own not in await texts(core, SLACK)
    assert rows(supabase_dsn, "select count(*) from mnemo.accounts") == [(2,)]


async def test_wrong_guesses_fired_at_once_still_stop_at_the_limit(core: Core, supabase_dsn: str) -> None:
    code = await issue(core, SLACK)
    guesses = [link(core, DISCORD, "ZZZZ-ZZZZ") for _ in range(20)]

    outcomes = await asyncio.gather(*guesses, return_exceptions=True)

    messages = [str(o) for o in outcomes]
    assert sum("not valid" in m for m in messages) == 5
    assert sum("Too many wrong codes" in m for m in messages) == 15
    assert rows(supabase_dsn, "select count(*) from mnemo.link_failures") == [(5,)]
    with pytest.raises(UserFacingError, match="Too many wrong codes"):
        await link(core, DISCORD, code)
