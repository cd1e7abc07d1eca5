"""One Mnemo process with BOTH front doors on ONE core: the real Slack adapter (bolt AsyncApp behind
the FastAPI app, signed requests, fake Slack Web API) and the real discord.py client (fake Discord
REST + gateway). The fakes and harnesses are the Slack and Discord tests' own, imported."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from adapters.discord.options import DiscordOptions
from adapters.discord.sdk import apply_endpoint_overrides
from adapters.discord.service import DiscordService
from bot.web import create_web_app
from bot.wiring import Core, build_core
from tests.adapters.discord.conftest import FAST, Bot, fake_discord
from tests.adapters.slack.conftest import SlackHarness, fake_slack, slack_answering, slack_settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

__all__ = ["fake_discord", "fake_slack"]


@dataclass
class BothDoors:
    core: Core
    slack: SlackHarness
    discord: Bot


@pytest.fixture
async def both(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack, fake_discord: FakeDiscord
) -> AsyncIterator[BothDoors]:
    guild_id, channels = fake_discord.add_guild()
    settings = slack_settings(
        tmp_path / "data",
        fake_openai,
        fake_slack,
        discord_bot_token=fake_discord.token,
        discord_api_url=fake_discord.api_url,
        discord_gateway_url=fake_discord.gateway_url,
    )
    async with build_core(settings) as core, slack_answering(settings, core) as slack:
        discord = DiscordService(
            settings=core.settings,
            assistant=core.assistant,
            options=DiscordOptions.from_settings(settings, **FAST),
            ready_timeout=10,
        )
        app = create_web_app(core, routers=[slack.router()])
        await discord.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://mnemo.test") as http:
                yield BothDoors(
                    core,
                    SlackHarness(core, slack, fake_slack, fake_openai, http),
                    Bot(fake_discord, core, discord, guild_id, channels[0], fake_openai),
                )
        finally:
            await discord.stop()
            # discord.py keeps its base URLs process-wide: leave them pointing at Discord.
            apply_endpoint_overrides(api_url=None, gateway_url=None)
