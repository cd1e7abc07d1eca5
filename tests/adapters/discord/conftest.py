"""A real discord.py client (through DiscordService) against the loopback fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.client import MnemoDiscordClient
from adapters.discord.options import DiscordOptions
from adapters.discord.sdk import apply_endpoint_overrides
from adapters.discord.service import DiscordService
from bot.wiring import Core, build_core
from config import Settings
from tests.conftest import make_settings
from tests.fakes.discord_server import FakeDiscord, Recorded, snowflake
from tests.fakes.openai_server import FakeOpenAI

# Fast for tests; production keeps discord.py's and Discord's pacing (see DiscordOptions).
FAST = {"guild_ready_timeout": 0.05, "edit_interval": 0.2}


@dataclass
class Bot:
    fake: FakeDiscord
    core: Core
    service: DiscordService
    guild_id: int
    channel_id: int
    openai: FakeOpenAI

    @property
    def client(self) -> MnemoDiscordClient:
        return self.service.client

    @property
    def bot_id(self) -> int:
        return self.fake.bot_id

    async def say(self, text: str, *, user_id: int, mention: bool = True, **kwargs: Any) -> dict[str, Any]:
        """A person writes in the server's channel (mentioning Mnemo by default)."""
        payload = self.fake.message(
            channel_id=kwargs.pop("channel_id", self.channel_id),
            guild_id=kwargs.pop("guild_id", self.guild_id),
            author_id=user_id,
            content=text,
            mention_bot=mention,
            **kwargs,
        )
        await self.fake.dispatch("MESSAGE_CREATE", payload)
        return payload

    async def dm(self, text: str, *, user_id: int, channel_id: int) -> dict[str, Any]:
        payload = self.fake.message(channel_id=channel_id, author_id=user_id, content=text)
        await self.fake.dispatch("MESSAGE_CREATE", payload)
        return payload

    async def settle(self, *clients: MnemoDiscordClient) -> None:
        """Until the bot is done: every event the fake sent has been read and handled (answered or
        ignored) by `clients` (default: the current one), and handling them sent nothing new. What
        was not sent by then is never sent: the echoes of the bot's own posts are handled too."""
        watched = clients or (self.client,)
        sent = -1
        while (now := await self.fake.delivered()) != sent:
            sent = now
            for client in watched:
                assert await client.wait_messages_handled(timeout=10), "the bot is still busy"


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


def discord_settings(
    tmp_path: Path, fake_openai: FakeOpenAI, fake: FakeDiscord, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "discord_bot_token": fake.token,
        "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url,
    }
    values.update(overrides)
    return make_settings(tmp_path / "data", fake_openai, **values)


RunBot = Callable[..., AbstractAsyncContextManager[Bot]]


@pytest.fixture
def run_bot(tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord) -> RunBot:
    """`async with run_bot(**setting_overrides) as bot:` a connected bot with one server + channel."""
    guild_id, channels = fake_discord.add_guild()

    @asynccontextmanager
    async def run(options: dict[str, Any] | None = None, **overrides: Any) -> AsyncIterator[Bot]:
        settings = discord_settings(tmp_path, fake_openai, fake_discord, **overrides)
        async with build_core(settings) as core:
            service = DiscordService(
                settings=core.settings,
                assistant=core.assistant,
                options=DiscordOptions.from_settings(settings, **{**FAST, **(options or {})}),
                ready_timeout=10,
            )
            await service.start()
            try:
                yield Bot(fake_discord, core, service, guild_id, channels[0], fake_openai)
            finally:
                await service.stop()
                # discord.py keeps its base URLs process-wide: leave them pointing at Discord.
                apply_endpoint_overrides(api_url=None, gateway_url=None)

    return run


def new_user() -> int:
    return snowflake()


def is_post_to(channel_id: int) -> Any:
    """Matches a message send (attempt) to one channel or thread."""
    return lambda r: r.method == "POST" and r.path == f"/channels/{channel_id}/messages"


def assert_no_pings(fake: FakeDiscord) -> None:
    """Every request that put text in front of people allowed no mentions at all."""
    sends = fake.sends()
    assert sends, "nothing was sent"
    for recorded in sends:
        allowed = fake.allowed_mentions_of(recorded)
        assert allowed is not None, f"{recorded.method} {recorded.path} sent no allowed_mentions"
        assert allowed.get("parse") == [], allowed
        assert not allowed.get("users")
        assert not allowed.get("roles")
        assert not allowed.get("replied_user")


def prompt_text(bot: Bot) -> str:
    """Everything the model was shown in its last chat request."""
    prompts = bot.openai.chat_prompts()
    assert prompts, "the model was never asked"
    return "\n".join(str(m.get("content")) for m in prompts[-1])


# -- interactions ------------------------------------------------------------------------------------
EPHEMERAL = 64


def callback_of(payload: dict[str, Any]) -> Any:
    """Matches the interaction callback (the first answer) of an INTERACTION_CREATE payload."""
    path = f"/interactions/{payload['id']}/{payload['token']}/callback"
    return lambda r: r.method == "POST" and r.path == path


def answer_text(callback: Recorded) -> str:
    data = callback.body.get("data") or {}
    parts = [data.get("content") or ""]
    parts += [(e.get("title") or "") + "\n" + (e.get("description") or "") for e in data.get("embeds") or []]
    return "\n".join(parts)


def flags(callback: Recorded) -> int:
    return int((callback.body.get("data") or {}).get("flags") or 0)
