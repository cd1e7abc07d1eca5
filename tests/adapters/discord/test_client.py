"""Conversations end to end: the real discord.py client, the real core, fake Discord + fake model."""

from __future__ import annotations

from adapters.discord.translate import identity_of
from tests.adapters.discord.conftest import RunBot, assert_no_pings, is_post_to, new_user, prompt_text
from tests.fakes.openai_server import FakeOpenAI


async def test_mention_in_a_channel_gets_one_reply_quoting_the_question(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        question = await bot.say("what's the capital of Peru?", user_id=new_user())
        [post] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        await bot.settle()
        assert len(bot.fake.channel_posts(bot.channel_id)) == 1
        body = post.body
        assert "what's the capital of Peru?" in body["content"]  # the fake model echoes its prompt
        assert f"<@{bot.bot_id}>" not in prompt_text(bot)  # the mention is not part of the question
        assert body["message_reference"]["message_id"] == int(question["id"])
        assert body["message_reference"]["fail_if_not_exists"] is False
        assert body["enforce_nonce"] is True
        assert body["nonce"] == f"{question['id']}.0"
        # A fast answer is posted once and never edited.
        assert bot.fake.find("PATCH", "/channels/") == []
        assert_no_pings(bot.fake)


async def test_typing_shows_while_a_slow_answer_is_computed(run_bot: RunBot, fake_openai: FakeOpenAI) -> None:
    async with run_bot() as bot:
        thinking = fake_openai.hold("chat")
        payload = await bot.say("think hard", user_id=new_user())
        await thinking.arrived()
        await bot.fake.wait_for(lambda r: r.path == f"/channels/{bot.channel_id}/typing")
        thinking.release()
        [post] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        typing = bot.fake.find("POST", f"/channels/{bot.channel_id}/typing")
        assert len(typing) == 1
        assert typing[0].at < post.at
        # A late duplicate of the same message neither answers nor shows typing again.
        await bot.fake.dispatch("MESSAGE_CREATE", payload)
        await bot.settle()
        assert len(bot.fake.find("POST", f"/channels/{bot.channel_id}/typing")) == 1
        assert len(bot.fake.channel_posts(bot.channel_id)) == 1


async def test_channel_chatter_without_a_mention_is_ignored(run_bot: RunBot, fake_openai: FakeOpenAI) -> None:
    async with run_bot() as bot:
        await bot.say("lunch anyone?", user_id=new_user(), mention=False)
        await bot.settle()
        assert bot.fake.channel_posts(bot.channel_id) == []
        assert fake_openai.count("chat") == 0


async def test_dm_gets_a_direct_reply(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        dm = bot.fake.add_dm_channel(user)
        await bot.dm("hi, remember me?", user_id=user, channel_id=dm)
        [post] = await bot.fake.wait_for(is_post_to(dm))
        assert "hi, remember me?" in post.body["content"]
        assert "message_reference" not in post.body
        assert_no_pings(bot.fake)


async def test_bots_webhooks_system_messages_and_its_own_messages_are_ignored(
    run_bot: RunBot, fake_openai: FakeOpenAI
) -> None:
    async with run_bot() as bot:
        await bot.say("bot talking", user_id=new_user(), bot=True)
        await bot.say("webhook talking", user_id=new_user(), webhook_id=new_user())
        await bot.say("joined", user_id=new_user(), message_type=7)  # member join notice
        await bot.say("itself", user_id=bot.bot_id)
        await bot.settle()
        assert bot.fake.channel_posts(bot.channel_id) == []
        assert fake_openai.count("chat") == 0
        # A real answer is echoed back by Discord as a MESSAGE_CREATE; it must not start a loop.
        await bot.say("one question", user_id=new_user())
        await bot.fake.wait_for(is_post_to(bot.channel_id))
        await bot.settle()
        assert len(bot.fake.channel_posts(bot.channel_id)) == 1
        assert fake_openai.count("chat") == 1


async def test_model_output_can_never_ping_anyone(run_bot: RunBot, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: "@everyone @here <@&123456789012345678> <@123456789012345678>"
    async with run_bot() as bot:
        await bot.say("ping them all", user_id=new_user())
        [post] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        assert "@everyone" in post.body["content"]
        assert post.body["allowed_mentions"] == {"parse": [], "replied_user": False}
        assert_no_pings(bot.fake)


async def test_long_answer_is_split_with_code_blocks_intact(run_bot: RunBot, fake_openai: FakeOpenAI) -> None:
    code = "\n".join(f"print('line {i}')  # {'x' * 40}" for i in range(80))
    answer = "Here you go:\n```python\n" + code + "\n```\nDone."
    fake_openai.state.reply = lambda messages: answer
    async with run_bot() as bot:
        question = await bot.say("write me a script", user_id=new_user())
        posts = await bot.fake.wait_for(is_post_to(bot.channel_id), count=3)
        await bot.settle()
        posts = bot.fake.channel_posts(bot.channel_id)
        assert len(posts) == 3
        contents = [p.body["content"] for p in posts]
        assert all(len(c) <= 2000 for c in contents)
        assert all(c.count("```") % 2 == 0 for c in contents)
        assert contents[1].startswith("```python\n")
        assert all(f"print('line {i}')" in "\n".join(contents) for i in range(80))
        # Only the first quotes the question; each chunk has its own stable nonce.
        assert "message_reference" in posts[0].body
        assert all("message_reference" not in p.body for p in posts[1:])
        assert [p.body["nonce"] for p in posts] == [f"{question['id']}.{i}" for i in range(3)]
        assert_no_pings(bot.fake)


async def test_duplicate_delivery_gets_one_reply(run_bot: RunBot, fake_openai: FakeOpenAI) -> None:
    async with run_bot() as bot:
        payload = bot.fake.message(
            channel_id=bot.channel_id,
            guild_id=bot.guild_id,
            author_id=new_user(),
            content="only once please",
            mention_bot=True,
        )
        await bot.fake.dispatch("MESSAGE_CREATE", payload)
        await bot.fake.dispatch("MESSAGE_CREATE", payload)  # a gateway resume replays it
        await bot.fake.wait_for(is_post_to(bot.channel_id))
        await bot.settle()
        assert len(bot.fake.channel_posts(bot.channel_id)) == 1
        assert fake_openai.count("chat") == 1


async def test_two_gateway_connections_seeing_one_message_reply_once(run_bot: RunBot) -> None:
    """Two processes (or overlapping shards) sharing the store both receive the message."""
    async with run_bot() as bot:
        second = type(bot.service)(
            settings=bot.core.settings,
            assistant=bot.core.assistant,
            options=bot.client.options,
            ready_timeout=10,
        )
        await second.start()
        try:
            await bot.fake.wait_connected(2)
            payload = bot.fake.message(
                channel_id=bot.channel_id,
                guild_id=bot.guild_id,
                author_id=new_user(),
                content="seen twice",
                mention_bot=True,
            )
            assert await bot.fake.dispatch("MESSAGE_CREATE", payload, broadcast=True) == 2
            await bot.fake.wait_for(is_post_to(bot.channel_id))
            await bot.settle(bot.client, second.client)
            assert len(bot.fake.channel_posts(bot.channel_id)) == 1
        finally:
            await second.stop()


async def test_two_users_never_see_each_others_memories(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        alice, bob = new_user(), new_user()
        alice_dm, bob_dm = bot.fake.add_dm_channel(alice), bot.fake.add_dm_channel(bob)
        await bot.dm("my locker code is 4417-kumquat", user_id=alice, channel_id=alice_dm)
        await bot.fake.wait_for(is_post_to(alice_dm))
        await bot.settle()  # a streamed answer is posted before the core queues its memory write
        assert await bot.core.writer.flush(10)
        await bot.dm("what is my locker code?", user_id=bob, channel_id=bob_dm)
        [bob_answer] = await bot.fake.wait_for(is_post_to(bob_dm))
        assert "kumquat" not in bob_answer.body["content"]
        # Positive control: Alice's own memory is recalled for her.
        await bot.dm("what is my locker code?", user_id=alice, channel_id=alice_dm)
        alice_answers = await bot.fake.wait_for(is_post_to(alice_dm), count=2)
        assert "kumquat" in alice_answers[1].body["content"]


async def test_memory_learned_in_a_dm_is_not_recalled_in_a_server_channel(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        alice = new_user()
        dm = bot.fake.add_dm_channel(alice)
        await bot.dm("my diagnosis is chickenpox-zeta", user_id=alice, channel_id=dm)
        await bot.fake.wait_for(is_post_to(dm))
        await bot.settle()  # a streamed answer is posted before the core queues its memory write
        assert await bot.core.writer.flush(10)
        await bot.say("what do you know about my health?", user_id=alice)
        [public] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        assert "chickenpox-zeta" not in public.body["content"]
        await bot.dm("what do you know about my health?", user_id=alice, channel_id=dm)
        private = await bot.fake.wait_for(is_post_to(dm), count=2)
        assert "chickenpox-zeta" in private[1].body["content"]


async def test_rate_limited_send_is_retried_and_posted_once(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        bot.fake.fail_next("POST", f"/channels/{bot.channel_id}/messages", status=429, retry_after=0.2)
        await bot.say("hello under load", user_id=new_user())
        attempts = await bot.fake.wait_for(is_post_to(bot.channel_id), count=2)
        assert attempts[1].at - attempts[0].at >= 0.15  # discord.py waited retry_after
        await bot.settle()
        created = [m for m in bot.fake.messages.values() if m["channel_id"] == str(bot.channel_id)]
        assert len(created) == 1


async def test_model_down_gets_a_short_apology(run_bot: RunBot, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(500, times=5, endpoint="chat")
    async with run_bot() as bot:
        await bot.say("are you there?", user_id=new_user())
        [post] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        assert "can't think right now" in post.body["content"]


async def test_no_permission_to_send_is_logged_and_the_bot_keeps_going(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        bot.fake.fail_next("POST", f"/channels/{bot.channel_id}/messages", status=403)
        await bot.say("first", user_id=new_user())
        await bot.fake.wait_for(is_post_to(bot.channel_id))
        await bot.say("second", user_id=new_user())
        posts = await bot.fake.wait_for(is_post_to(bot.channel_id), count=2)
        assert "second" in posts[1].body["content"]


async def test_replying_to_mnemos_message_needs_no_mention(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        await bot.say("first", user_id=user)
        [first] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        mnemo_message = next(m for m in bot.fake.messages.values() if m["nonce"] == first.body["nonce"])
        await bot.say("and what else?", user_id=user, mention=False, referenced=mnemo_message)
        posts = await bot.fake.wait_for(is_post_to(bot.channel_id), count=2)
        assert "and what else?" in posts[1].body["content"]
        # Replying to someone else's message is not talking to Mnemo.
        other = bot.fake.message(
            channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=user, content="hm"
        )
        await bot.say("agreed", user_id=new_user(), mention=False, referenced=other)
        await bot.settle()
        assert len(bot.fake.channel_posts(bot.channel_id)) == 2


async def test_the_persons_display_name_reaches_the_model_and_the_account(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        user = new_user()
        await bot.say(
            "hi, <@123456789012345678> says hello",
            user_id=user,
            author_name="Ada Lovelace",
            mentions=[
                {
                    "id": "123456789012345678",
                    "username": "grace",
                    "global_name": "Grace",
                    "discriminator": "0",
                    "avatar": None,
                }
            ],
        )
        await bot.fake.wait_for(is_post_to(bot.channel_id))
        prompt = prompt_text(bot)
        assert "Ada Lovelace" in prompt
        assert "@Grace says hello" in prompt  # other people appear by name, not as raw ids
        account = await bot.core.store.resolve_account(identity_of(user))
        assert account.display_name == "Ada Lovelace"


async def test_an_overloaded_process_says_so_at_once(run_bot: RunBot, fake_openai: FakeOpenAI) -> None:
    from core.replies import SWAMPED_REPLY

    async with run_bot(max_concurrent_replies=1, max_waiting_replies=0) as bot:
        alice, bob = new_user(), new_user()
        alice_dm, bob_dm = bot.fake.add_dm_channel(alice), bot.fake.add_dm_channel(bob)
        gate = fake_openai.hold("chat")
        await bot.dm("the one reply this process can write now", user_id=alice, channel_id=alice_dm)
        await gate.arrived()
        await bot.dm("me too", user_id=bob, channel_id=bob_dm)
        [busy] = await bot.fake.wait_for(is_post_to(bob_dm))
        assert busy.body["content"] == SWAMPED_REPLY
        assert fake_openai.count("chat") == 1  # no model call for the refused message
        gate.release()
        [answer] = await bot.fake.wait_for(is_post_to(alice_dm))
        assert "the one reply this process can write now" in answer.body["content"]
