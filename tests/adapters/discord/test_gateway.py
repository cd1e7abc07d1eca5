"""The gateway connection survives what Discord and the network throw at it: malformed payloads
(skipped by the guards in `sdk`), disconnects (resumed) and a broken connection (a new client)."""

from __future__ import annotations

from tests.adapters.discord.conftest import RunBot, is_post_to, new_user


async def test_malformed_payloads_are_skipped_and_the_client_keeps_running(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        client = bot.client
        await bot.fake.dispatch("MESSAGE_CREATE", {"id": "not-a-number"})
        await bot.fake.dispatch("MESSAGE_CREATE", "garbage")
        await bot.fake.dispatch("INTERACTION_CREATE", {"type": 2})
        await bot.fake.dispatch("GUILD_CREATE", None, guild_id=bot.guild_id)
        await bot.fake.send_raw("this is not json")
        await bot.fake.send_raw("[1, 2, 3]")
        await bot.fake.dispatch("SOMETHING_NEW", {"x": 1})  # unknown events are ignored quietly
        await bot.say("still alive?", user_id=new_user())
        [post] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        assert "still alive?" in post.body["content"]
        assert client.skipped_payloads >= 6
        assert bot.client is client  # no restart was needed
        assert not client.is_closed()


async def test_a_crashed_connection_is_replaced_and_answers_again(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        first = bot.client
        # A corrupt compressed frame breaks the zlib stream: discord.py gives up on the client.
        await bot.fake.send_raw(b"corrupt" + b"\x00\x00\xff\xff")
        await bot.fake.wait_until(lambda: len(bot.fake.identifies) == 2)  # the service's new client
        await bot.client.wait_until_ready()
        assert bot.service.restarts == 1
        assert bot.client is not first
        assert first.is_closed()
        await bot.say("back again?", user_id=new_user())
        [post] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        assert "back again?" in post.body["content"]


async def test_gateway_disconnects_are_resumed_and_answering_continues(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        client = bot.client
        await bot.fake.drop_connections(code=4000)  # a network blip
        await bot.fake.wait_until(lambda: len(bot.fake.resumes) >= 1 and bool(bot.fake.open_sessions))
        await bot.fake.drop_connections(reconnect_op=True)  # Discord asks for a reconnect (op 7)
        await bot.fake.wait_until(lambda: len(bot.fake.resumes) >= 2 and bool(bot.fake.open_sessions))
        await bot.say("after the blips", user_id=new_user())
        [post] = await bot.fake.wait_for(is_post_to(bot.channel_id))
        assert "after the blips" in post.body["content"]
        assert len(bot.fake.identifies) == 1  # resumed, never re-identified
        assert bot.client is client
        assert bot.service.restarts == 0
