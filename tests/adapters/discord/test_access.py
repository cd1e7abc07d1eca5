"""Access lists on Discord, end to end: a real discord.py client against the fake gateway, with the
fake model counting requests. Roles come from the member's roles in the message (the server's roles
arrive with GUILD_CREATE). Outside the lists: silence in channels, a note in DMs, no model call."""

from __future__ import annotations

from adapters.discord.translate import identity_of
from core.access import ACCESS_NOTE
from tests.adapters.discord.conftest import RunBot, answer_text, callback_of, is_post_to, new_user
from tests.adapters.discord.test_interactions import run_command
from tests.fakes.discord_server import FakeDiscord


def the_guild(fake: FakeDiscord) -> int:
    [guild_id] = fake.guilds
    return guild_id


async def test_only_allowed_roles_are_answered_and_a_blocked_role_wins(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    guild = the_guild(fake_discord)
    members, muted = fake_discord.add_role(guild, "members"), fake_discord.add_role(guild, "muted")
    async with run_bot(discord_allowed_roles=str(members), discord_blocked_roles=str(muted)) as bot:
        await bot.say("hello, no role", user_id=new_user())
        await bot.say("hello, member but muted", user_id=new_user(), roles=[members, muted])
        await bot.settle()
        assert bot.openai.count("chat") == 0
        assert bot.fake.find("POST", f"/channels/{bot.channel_id}/messages") == []

        await bot.say("hello, member", user_id=new_user(), roles=[members])
        await bot.settle()
        assert bot.openai.count("chat") == 1
        assert len([r for r in bot.fake.requests if is_post_to(bot.channel_id)(r)]) == 1


async def test_a_channel_outside_the_allow_list_stays_silent(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    guild = the_guild(fake_discord)
    other = fake_discord.add_channel(guild_id=guild)
    async with run_bot(discord_allowed_channels=str(other)) as bot:
        await bot.say("anyone there?", user_id=new_user())
        await bot.settle()
        assert bot.openai.count("chat") == 0
        await bot.say("and here?", user_id=new_user(), channel_id=other)
        await bot.settle()
        assert bot.openai.count("chat") == 1


async def test_a_server_id_in_the_channel_list_allows_the_whole_server(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    guild = the_guild(fake_discord)
    async with run_bot(discord_allowed_channels=str(guild)) as bot:
        await bot.say("hello", user_id=new_user())
        await bot.settle()
        assert bot.openai.count("chat") == 1


async def test_a_blocked_user_in_a_dm_gets_a_note_and_no_model_call(run_bot: RunBot) -> None:
    person = new_user()
    async with run_bot(discord_blocked_users=str(person)) as bot:
        dm = bot.fake.add_dm_channel(person)
        await bot.dm("remember my code is 4417", user_id=person, channel_id=dm)
        await bot.settle()
        assert bot.openai.count("chat") == 0
        [note] = bot.fake.find("POST", f"/channels/{dm}/messages")
        assert note.body["content"] == ACCESS_NOTE
        assert await bot.core.writer.flush(5)
        assert bot.openai.count("extract") == 0


async def test_dms_off_with_roles_only_refuses_dms_and_memory_commands_still_work(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    guild = the_guild(fake_discord)
    members = fake_discord.add_role(guild, "members")
    person = new_user()
    async with run_bot(discord_allowed_roles=str(members)) as bot:
        dm = bot.fake.add_dm_channel(person)
        await bot.dm("hello", user_id=person, channel_id=dm)  # no roles can be shown in a DM
        await bot.settle()
        assert bot.openai.count("chat") == 0
        assert [r.body["content"] for r in bot.fake.find("POST", f"/channels/{dm}/messages")] == [ACCESS_NOTE]

        shown = await run_command(bot, person, "show")
        assert "don't remember anything about you" in str(shown.body)
        usage = await run_command(bot, person, "usage")
        assert "model tokens" in str(usage.body)
        assert bot.openai.count("chat") == 0


async def test_ask_about_this_in_a_channel_outside_the_list_calls_no_model(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    guild = the_guild(fake_discord)
    other = fake_discord.add_channel(guild_id=guild)
    async with run_bot(discord_allowed_channels=str(other)) as bot:
        user = new_user()
        theirs = bot.fake.message(
            channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=new_user(), content="Who has a bike?"
        )
        payload = bot.fake.message_command(
            name="Ask Mnemo about this",
            user_id=user,
            target=theirs,
            guild_id=guild,
            channel_id=bot.channel_id,
        )
        await bot.fake.dispatch("INTERACTION_CREATE", payload)
        [callback] = await bot.fake.wait_for(callback_of(payload))
        assert bot.openai.count("chat") == 0
        assert "can't answer that right now" in answer_text(callback)  # a server channel: no note


async def test_remember_this_outside_the_lists_writes_no_memory(run_bot: RunBot) -> None:
    person = new_user()
    async with run_bot(discord_blocked_users=str(person)) as bot:
        mine = bot.fake.message(
            channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=person, content="I ride a red bike"
        )
        payload = bot.fake.message_command(
            name="Remember this",
            user_id=person,
            target=mine,
            guild_id=bot.guild_id,
            channel_id=bot.channel_id,
        )
        await bot.fake.dispatch("INTERACTION_CREATE", payload)
        [callback] = await bot.fake.wait_for(callback_of(payload))
        assert answer_text(callback) == ACCESS_NOTE
        assert await bot.core.writer.flush(5)
        assert bot.openai.count("extract") == 0
        account = await bot.core.store.resolve_account(identity_of(person))
        assert await bot.core.memory.export(account.id, epoch=0) == []
