"""Discord through the durable intake, as `python -m bot run` wires it: the gateway client records
each message (with who can read the place), and the worker's responder answers it through Discord's
REST API with a client that never opens a gateway connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from adapters.discord.options import DiscordOptions
from adapters.discord.responders import LATE_REPLY, DiscordResponder, message_delivery
from adapters.discord.sdk import apply_endpoint_overrides
from adapters.discord.service import DiscordService
from bot.intake_worker import IntakeWorker
from bot.wiring import build_core
from core.intake.dispatch import Dispatcher
from core.intake.sqlite import SQLiteIntake
from core.models import IncomingMessage, Platform
from tests.adapters.discord.conftest import FAST, Bot, discord_settings, is_post_to, new_user
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


@asynccontextmanager
async def answering_bot(
    tmp_path: Path, fake_openai: FakeOpenAI, fake: FakeDiscord, **overrides: Any
) -> AsyncIterator[Bot]:
    guild_id, channels = fake.add_guild()
    settings = discord_settings(tmp_path, fake_openai, fake, **overrides)
    async with build_core(settings) as core:
        dispatcher = Dispatcher(intake=core.intake, clock=core.clock)
        gateway = DiscordService(
            settings=settings,
            assistant=core.assistant,
            options=DiscordOptions.from_settings(settings, **FAST),
            intake=True,
            ready_timeout=10,
        )
        rest = DiscordResponder(
            settings=settings, assistant=core.assistant, dispatcher=dispatcher, edit_interval=0.2
        )
        worker = IntakeWorker(intake=core.intake, dispatcher=dispatcher, concurrency=8, grace=5)
        await gateway.start()
        await rest.start()
        await worker.start()
        try:
            yield Bot(fake, core, gateway, guild_id, channels[0], fake_openai)
        finally:
            await worker.stop()
            await rest.stop()
            await gateway.stop()
            apply_endpoint_overrides(api_url=None, gateway_url=None)


async def drained(bot: Bot) -> None:
    await bot.settle()
    assert isinstance(bot.core.intake, SQLiteIntake)
    await asyncio.wait_for(bot.core.intake.drained(), 10)


async def test_a_mention_is_recorded_and_answered_through_rest(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake_openai.state.reply = lambda messages: "Lima."
    async with answering_bot(tmp_path, fake_openai, fake_discord) as bot:
        question = await bot.say("what's the capital of Peru?", user_id=new_user())
        [post] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        await drained(bot)
        posts = bot.fake.channel_posts(bot.channel_id)

    assert len(posts) == 1
    assert post.body["content"] == "Lima."
    assert post.body["message_reference"]["message_id"] == int(question["id"])
    assert post.body["nonce"] == f"{question['id']}.0"  # a retry would return this same message
    assert post.body["enforce_nonce"] is True


async def test_a_message_that_waited_too_long_gets_an_apology(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with answering_bot(tmp_path, fake_openai, fake_discord) as bot:
        waited = bot.core.clock() - timedelta(minutes=11)
        source_id = 880000000000000001
        incoming = IncomingMessage(
            platform=Platform.DISCORD,
            workspace="discord",
            user=str(new_user()),
            channel=str(bot.channel_id),
            text="are you there?",
            message_id=str(source_id),
            is_private=False,
            mentions_bot=True,
        )
        delivery = message_delivery(
            incoming,
            source_id=source_id,
            channel_id=bot.channel_id,
            guild_id=bot.guild_id,
            open_thread=False,
            quote=True,
            thread_title="late",
            received_at=waited,
        )
        assert await bot.core.assistant.accept(delivery)
        [post] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        await drained(bot)

    assert post.body["content"] == LATE_REPLY
    assert post.body["message_reference"]["message_id"] == source_id
    assert fake_openai.count("chat") == 0


async def test_thread_mode_the_worker_opens_the_thread_and_follow_ups_are_answered_there(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with answering_bot(tmp_path, fake_openai, fake_discord, discord_reply_mode="thread") as bot:
        user = new_user()
        question = await bot.say("help me plan my trip", user_id=user)
        thread_id = int(question["id"])  # Discord gives the thread its starter message's id
        [answer] = await bot.fake.wait_for(is_post_to(thread_id))
        await drained(bot)
        await bot.say("what about food?", user_id=user, mention=False, channel_id=thread_id)
        posts = await bot.fake.wait_for(is_post_to(thread_id), count=2)
        await drained(bot)

    assert "help me plan my trip" in answer.body["content"]  # the fake model echoes its prompt
    assert "plan my trip" in posts[1].body["content"]  # the thread is the session
    assert len(bot.fake.find("POST", "/threads")) == 1
