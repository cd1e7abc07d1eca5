"""Threads: follow-ups need no mention once Mnemo takes part, they are answered in order (also one
sent while the first answer is being written), and chatter in other threads stays unanswered."""

from __future__ import annotations

from tests.adapters.discord.conftest import RunBot, assert_no_pings, is_post_to, new_user
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


async def test_follow_ups_in_a_thread_mnemo_answered_need_no_mention(
    run_bot: RunBot, fake_openai: FakeOpenAI
) -> None:
    async with run_bot() as bot:
        user = new_user()
        thread = bot.fake.add_thread(guild_id=bot.guild_id, parent_id=bot.channel_id, owner_id=user)
        # Mnemo is not part of the thread yet: no mention, no answer.
        await bot.say("anyone?", user_id=user, mention=False, channel_id=thread)
        await bot.settle()
        assert bot.fake.channel_posts(thread) == []
        await bot.say("first question", user_id=user, channel_id=thread)
        await bot.fake.wait_for(is_post_to(thread))
        await bot.say("and a follow-up", user_id=user, mention=False, channel_id=thread)
        posts = await bot.fake.wait_for(is_post_to(thread), count=2)
        # Same session: the follow-up's prompt carries the first exchange.
        assert "first question" in posts[1].body["content"]
        assert "and a follow-up" in posts[1].body["content"]
        assert fake_openai.count("chat") == 2


async def test_thread_follow_up_survives_a_restart(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        thread = bot.fake.add_thread(guild_id=bot.guild_id, parent_id=bot.channel_id, owner_id=user)
        await bot.say("first question", user_id=user, channel_id=thread)
        await bot.fake.wait_for(is_post_to(thread))
    # A new process (same data dir) has no memory of the thread but the store does.
    async with run_bot() as bot:
        await bot.say("still there?", user_id=user, mention=False, channel_id=thread)
        posts = await bot.fake.wait_for(is_post_to(thread), count=2)
        assert "still there?" in posts[1].body["content"]


async def test_thread_mode_opens_a_thread_and_follows_it(run_bot: RunBot) -> None:
    async with run_bot(discord_reply_mode="thread") as bot:
        user = new_user()
        question = await bot.say("plan my trip\nto Lisbon please", user_id=user)
        [created] = await bot.fake.wait_for(
            lambda r: r.method == "POST" and r.path.endswith(f"/messages/{question['id']}/threads")
        )
        assert created.body["name"] == "plan my trip"
        thread_id = int(question["id"])  # Discord gives the thread its starter message's id
        [answer] = await bot.fake.wait_for(is_post_to(thread_id))
        assert "plan my trip" in answer.body["content"]
        assert "message_reference" not in answer.body
        assert bot.fake.channel_posts(bot.channel_id) == []
        await bot.say("what about food?", user_id=user, mention=False, channel_id=thread_id)
        posts = await bot.fake.wait_for(is_post_to(thread_id), count=2)
        assert "plan my trip" in posts[1].body["content"]  # the thread is the session
        assert len(bot.fake.find("POST", "/threads")) == 1
        assert_no_pings(bot.fake)


async def test_a_follow_up_sent_while_the_first_answer_is_written_is_answered_after_it(
    run_bot: RunBot, fake_openai: FakeOpenAI
) -> None:
    async with run_bot() as bot:
        user = new_user()
        thread = bot.fake.add_thread(guild_id=bot.guild_id, parent_id=bot.channel_id, owner_id=user)
        thinking = fake_openai.hold("chat")
        await bot.say("first question", user_id=user, channel_id=thread)
        await thinking.arrived()
        # Mnemo has not answered in this thread yet when the follow-up (no mention) arrives.
        await bot.say("and a follow-up", user_id=user, mention=False, channel_id=thread)
        await bot.fake.delivered()
        thinking.release()
        first, second = await bot.fake.wait_for(is_post_to(thread), count=2)
        assert "first question" in first.body["content"]
        assert "and a follow-up" not in first.body["content"]
        assert "first question" in second.body["content"]  # answered after, in the same session
        assert "and a follow-up" in second.body["content"]
        await bot.settle()
        assert len(bot.fake.channel_posts(thread)) == 2
        assert fake_openai.count("chat") == 2


async def test_a_follow_up_delivered_twice_is_answered_once(run_bot: RunBot, fake_openai: FakeOpenAI) -> None:
    async with run_bot() as bot:
        user = new_user()
        thread = bot.fake.add_thread(guild_id=bot.guild_id, parent_id=bot.channel_id, owner_id=user)
        await bot.say("first question", user_id=user, channel_id=thread)
        await bot.fake.wait_for(is_post_to(thread))
        follow_up = bot.fake.message(
            channel_id=thread, guild_id=bot.guild_id, author_id=user, content="and then?"
        )
        await bot.fake.dispatch("MESSAGE_CREATE", follow_up)
        await bot.fake.dispatch("MESSAGE_CREATE", follow_up)  # a gateway resume replays it
        await bot.settle()
        assert len(bot.fake.channel_posts(thread)) == 2
        assert fake_openai.count("chat") == 2


async def test_chatter_in_a_thread_mnemo_is_not_part_of_stays_silent_when_swamped(
    run_bot: RunBot, fake_openai: FakeOpenAI
) -> None:
    async with run_bot(max_concurrent_replies=1, max_waiting_replies=0) as bot:
        alice = new_user()
        dm = bot.fake.add_dm_channel(alice)
        thread = bot.fake.add_thread(guild_id=bot.guild_id, parent_id=bot.channel_id, owner_id=new_user())
        thinking = fake_openai.hold("chat")
        await bot.dm("the one reply this process can write now", user_id=alice, channel_id=dm)
        await thinking.arrived()
        await bot.say("just chatting", user_id=new_user(), mention=False, channel_id=thread)
        await bot.fake.delivered()
        assert await bot.client.wait_messages_handled(timeout=10, except_for=1)  # all but the DM
        assert bot.fake.channel_posts(thread) == []  # no "too busy" where nobody asked
        thinking.release()
        await bot.fake.wait_for(is_post_to(dm))
        await bot.settle()
        assert bot.fake.channel_posts(thread) == []
        assert fake_openai.count("chat") == 1


async def test_a_follow_up_sent_before_mnemo_ever_answered_there_waits_its_turn(
    run_bot: RunBot, fake_discord: FakeDiscord
) -> None:
    """The follow-up is decided in the conversation's turn: when it arrives, Mnemo has claimed the
    first question but has no session in the thread yet (it is still learning who can read it)."""
    guild, _ = fake_discord.add_guild(name="Elsewhere")
    parent = fake_discord.add_channel(guild_id=guild, cached=False)  # discord.py must ask Discord
    user = new_user()
    thread = fake_discord.add_thread(guild_id=guild, parent_id=parent, owner_id=user)
    async with run_bot() as bot:
        looking_up = bot.fake.hold("GET", f"/channels/{parent}")
        await bot.say("first question", user_id=user, channel_id=thread, guild_id=guild)
        await looking_up.arrived()
        await bot.say("and a follow-up", user_id=user, mention=False, channel_id=thread, guild_id=guild)
        await bot.fake.delivered()
        looking_up.release()
        first, second = await bot.fake.wait_for(is_post_to(thread), count=2)
        assert "and a follow-up" not in first.body["content"]
        assert "first question" in second.body["content"]
        assert "and a follow-up" in second.body["content"]
