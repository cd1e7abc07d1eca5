"""Start-up, settings and lifecycle of the Discord service against the fake Discord."""

from __future__ import annotations

import asyncio
from pathlib import Path

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord.options import REQUIRED_PERMISSIONS, invite_url, required_intents
from adapters.discord.sdk import DEFAULT_API_URL, DEFAULT_GATEWAY_URL, apply_endpoint_overrides
from adapters.discord.service import (
    LOGIN_REJECTED_HELP,
    PRIVILEGED_INTENT_HELP,
    DiscordService,
    DiscordStartError,
)
from bot.services import build_services
from bot.wiring import build_core
from tests.adapters.discord.conftest import RunBot, discord_settings, new_user
from tests.fakes.discord_server import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    FakeDiscord,
)
from tests.fakes.openai_server import FakeOpenAI


async def test_identify_asks_for_exactly_the_intents_mnemo_needs(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        [identify] = bot.fake.identifies
        intents = identify["intents"]
        for needed in (INTENT_GUILDS, INTENT_GUILD_MESSAGES, INTENT_DIRECT_MESSAGES, INTENT_MESSAGE_CONTENT):
            assert intents & needed
        assert not intents & (1 << 1)  # no privileged member list
        assert not intents & (1 << 8)  # no presences
        assert identify["token"] == bot.fake.token


async def test_a_rejected_token_fails_start_with_a_clear_message(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    settings = discord_settings(tmp_path, fake_openai, fake_discord, discord_bot_token="wrong-token-123")
    async with build_core(settings) as core:
        service = DiscordService(settings=core.settings, assistant=core.assistant)
        with pytest.raises(DiscordStartError) as raised:
            await service.start()
        assert str(raised.value) == LOGIN_REJECTED_HELP
        assert "wrong-token-123" not in str(raised.value)
        await service.stop()
    assert fake_discord.identifies == []


async def test_a_pasted_bot_prefix_is_tolerated(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    settings = discord_settings(
        tmp_path, fake_openai, fake_discord, discord_bot_token=f"Bot {fake_discord.token}"
    )
    async with build_core(settings) as core:
        service = DiscordService(settings=core.settings, assistant=core.assistant, ready_timeout=10)
        await service.start()
        await service.stop()
    assert fake_discord.identifies[0]["token"] == fake_discord.token


async def test_missing_message_content_intent_fails_start_with_portal_steps(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake_discord.identify_close_code = 4014
    settings = discord_settings(tmp_path, fake_openai, fake_discord)
    async with build_core(settings) as core:
        service = DiscordService(settings=core.settings, assistant=core.assistant, ready_timeout=10)
        with pytest.raises(DiscordStartError) as raised:
            await service.start()
        assert str(raised.value) == PRIVILEGED_INTENT_HELP
        assert "Message Content Intent" in str(raised.value)
        await service.stop()


async def test_the_gateway_setting_wins_over_what_discord_advertises(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    fake_discord.gateway_bot_url = "ws://127.0.0.1:9/nowhere"
    async with run_bot() as bot:
        assert bot.client.is_ready()
        assert bot.fake.open_sessions == [(0, 1)]


async def test_sharding_is_a_setting(run_bot: RunBot, fake_discord: FakeDiscord) -> None:
    async with run_bot(discord_shard_count=2) as bot:
        await bot.fake.wait_connected(2)
        assert sorted(bot.fake.open_sessions) == [(0, 2), (1, 2)]
        assert bot.fake.find("GET", "/gateway/bot") == []
        # The guild's events arrive on the shard that owns it, and get answered.
        assert (
            await bot.fake.dispatch(
                "MESSAGE_CREATE",
                bot.fake.message(
                    channel_id=bot.channel_id,
                    guild_id=bot.guild_id,
                    author_id=new_user(),
                    content="sharded hello",
                    mention_bot=True,
                ),
            )
            == 1
        )
        [post] = await bot.fake.wait_for(lambda r: r.path == f"/channels/{bot.channel_id}/messages")
        assert "sharded hello" in post.body["content"]


async def test_this_process_runs_only_its_shard_ids(run_bot: RunBot) -> None:
    async with run_bot(discord_shard_count=3, discord_shard_ids="1,2") as bot:
        await bot.fake.wait_connected(2)
        assert sorted(bot.fake.open_sessions) == [(1, 3), (2, 3)]


async def test_stop_closes_the_gateway(run_bot: RunBot, fake_discord: FakeDiscord) -> None:
    async with run_bot() as bot:
        client = bot.client
        assert fake_discord.open_sessions == [(0, 1)]
    assert client.is_closed()
    await fake_discord.wait_until(lambda: not fake_discord.open_sessions)  # the fake saw it close
    assert fake_discord.open_sessions == []


def test_endpoint_overrides_set_and_reset_discord_py_globals() -> None:
    try:
        api, _ = apply_endpoint_overrides(api_url="http://127.0.0.1:1234", gateway_url="ws://127.0.0.1:1/gw")
        assert api == "http://127.0.0.1:1234/api/v10"
        assert api == Route.BASE
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:1/gw"
        api, _ = apply_endpoint_overrides(api_url="https://compat.example/api/v9/", gateway_url=None)
        assert api == "https://compat.example/api/v9"
    finally:
        apply_endpoint_overrides(api_url=None, gateway_url=None)
    assert Route.BASE == DEFAULT_API_URL == "https://discord.com/api/v10"
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == DEFAULT_GATEWAY_URL


async def test_build_services_runs_discord_only_when_a_token_is_set(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    settings = discord_settings(tmp_path, fake_openai, fake_discord)
    async with build_core(settings) as core:
        services = build_services(settings, core)
        assert [s.name for s in services if isinstance(s, DiscordService)] == ["discord"]
        without = settings.model_copy(update={"discord_bot_token": None})
        assert not any(isinstance(s, DiscordService) for s in build_services(without, core))


def test_intents_are_not_the_library_defaults() -> None:
    intents = required_intents()
    assert intents.message_content
    assert not intents.members
    assert intents != discord.Intents.default()


async def test_stop_delivers_an_answer_already_being_written(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    _, [channel] = fake_discord.add_guild()
    guild_id = int(fake_discord.channels[channel]["guild_id"])
    settings = discord_settings(tmp_path, fake_openai, fake_discord)
    async with build_core(settings) as core:
        service = DiscordService(settings=core.settings, assistant=core.assistant, ready_timeout=10)
        await service.start()
        thinking = fake_openai.hold("chat")
        await fake_discord.dispatch(
            "MESSAGE_CREATE",
            fake_discord.message(
                channel_id=channel,
                guild_id=guild_id,
                author_id=new_user(),
                content="slow one",
                mention_bot=True,
            ),
        )
        await thinking.arrived()
        core.orchestrator.stop_accepting()  # what shutdown does first
        stopping = asyncio.create_task(service.stop())
        # Released without yielding: stop() runs first, and the answer can only finish after it
        # began (it needs the model's response, over a socket).
        thinking.release()
        await stopping
        [post] = fake_discord.channel_posts(channel)
        assert "slow one" in post.body["content"]


def test_readme_invite_link_has_the_permissions_the_code_needs() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert f"permissions={REQUIRED_PERMISSIONS.value}" in readme
    assert "scope=bot+applications.commands" in readme
    assert invite_url(42).endswith(
        f"client_id=42&scope=bot+applications.commands&permissions={REQUIRED_PERMISSIONS.value}"
    )
