"""Message context menus and `/memory why` on Discord, end to end through the fake gateway."""

from __future__ import annotations

from typing import Any

from adapters.discord.translate import identity_of
from tests.adapters.discord.conftest import EPHEMERAL, Bot, RunBot, answer_text, callback_of, flags, new_user
from tests.adapters.discord.test_interactions import run_command
from tests.fakes.discord_server import Recorded
from tests.fakes.openai_server import FakeOpenAI


async def click_menu(bot: Bot, name: str, user: int, target: dict[str, Any]) -> Recorded:
    payload = bot.fake.message_command(
        name=name, user_id=user, target=target, guild_id=bot.guild_id, channel_id=bot.channel_id
    )
    await bot.fake.dispatch("INTERACTION_CREATE", payload)
    [callback] = await bot.fake.wait_for(callback_of(payload))
    return callback


async def memories_of(bot: Bot, user: int) -> list[tuple[str, bool]]:
    assert await bot.core.writer.flush(10)
    account = await bot.core.store.resolve_account(identity_of(user))
    return [(m.text, m.is_private) for m in await bot.core.memory.export(account.id, epoch=0)]


async def test_remember_this_keeps_my_own_message_with_its_places_privacy(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        mine = bot.fake.message(
            channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=user, content="I ride a red bike"
        )

        callback = await click_menu(bot, "Remember this", user, mine)

        assert flags(callback) & EPHEMERAL
        assert "I'll remember that (from a public place)" in answer_text(callback)
        assert await memories_of(bot, user) == [("I ride a red bike", False)]


async def test_remember_this_refuses_someone_elses_message(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user, other = new_user(), new_user()
        theirs = bot.fake.message(
            channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=other, content="my PIN is 4321"
        )

        callback = await click_menu(bot, "Remember this", user, theirs)

        assert flags(callback) & EPHEMERAL
        assert "I only remember your own messages" in answer_text(callback)
        assert await memories_of(bot, user) == []
        assert await memories_of(bot, other) == []


async def test_remember_this_while_paused_keeps_nothing(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        await run_command(bot, user, "pause")
        mine = bot.fake.message(
            channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=user, content="I ride a red bike"
        )

        callback = await click_menu(bot, "Remember this", user, mine)

        assert "Your memory is paused" in answer_text(callback)
        assert await memories_of(bot, user) == []


async def test_ask_about_this_answers_privately_from_my_memories(
    run_bot: RunBot, fake_openai: FakeOpenAI
) -> None:
    async with run_bot() as bot:
        user, other = new_user(), new_user()
        mine = bot.fake.message(
            channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=user, content="I ride a red bike"
        )
        await click_menu(bot, "Remember this", user, mine)
        assert await memories_of(bot, user) == [("I ride a red bike", False)]
        theirs = bot.fake.message(
            channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=other, content="Who has a red bike?"
        )

        callback = await click_menu(bot, "Ask Mnemo about this", user, theirs)

        assert flags(callback) & EPHEMERAL
        prompt = str(fake_openai.chat_prompts()[-1])
        assert "Who has a red bike?" in prompt
        assert "I ride a red bike" in prompt  # recalled from the clicker's memories
        assert answer_text(callback)
        assert bot.fake.find("POST", f"/channels/{bot.channel_id}/messages") == []  # nothing public


async def test_why_shows_the_memories_behind_my_last_answer_here(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        mine = bot.fake.message(
            channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=user, content="I ride a red bike"
        )
        await click_menu(bot, "Remember this", user, mine)
        assert await memories_of(bot, user) == [("I ride a red bike", False)]
        await bot.say("what colour is my bike?", user_id=user)
        await bot.settle()

        why = await run_command(bot, user, "why")
        someone_else = await run_command(bot, new_user(), "why")

        assert flags(why) & EPHEMERAL
        assert "My last answer to you here was based on these memories:" in answer_text(why)
        assert "I ride a red bike" in answer_text(why)
        assert "I haven't answered you here yet" in answer_text(someone_else)
