"""Streamed answers: posted once, then edited no faster than the configured interval."""

from __future__ import annotations

import asyncio
import itertools

import discord

from adapters.common.reply_writer import ReplyWriter
from adapters.discord.replies import DiscordReplyTarget, discord_reply_writer
from tests.adapters.discord.conftest import Bot, RunBot, assert_no_pings, is_post_to, new_user

INTERVAL = 0.3


async def source_message(bot: Bot) -> discord.Message:
    """A real discord.py Message for a person's (unaddressed) message, as the client received it."""
    payload = bot.fake.message(
        channel_id=bot.channel_id, guild_id=bot.guild_id, author_id=new_user(), content="tell me a story"
    )
    waiter = asyncio.ensure_future(bot.client.wait_for("message", check=lambda m: m.id == int(payload["id"])))
    await bot.fake.dispatch("MESSAGE_CREATE", payload)
    return await asyncio.wait_for(waiter, 5)


def writer_for(source: discord.Message) -> ReplyWriter[discord.Message]:
    target = DiscordReplyTarget(source, open_thread=False, quote=True, thread_title="story")
    return discord_reply_writer(target, interval=INTERVAL)


async def stream(writer: ReplyWriter[discord.Message], pieces: list[str], *, pause: float) -> str:
    for piece in pieces:
        await writer.on_delta(piece)
        await asyncio.sleep(pause)
    text = "".join(pieces).strip()
    await writer.finish(text)
    return text


async def test_a_slow_stream_is_posted_then_edited_at_a_bounded_rate(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        source = await source_message(bot)
        writer = writer_for(source)
        text = await stream(writer, [f"word{i} " for i in range(60)], pause=0.03)  # ~1.8 s of streaming
        [post] = bot.fake.channel_posts(bot.channel_id)
        edits = bot.fake.find("PATCH", f"/channels/{bot.channel_id}/messages/")
        assert len(edits) >= 3  # it really streamed
        assert len(edits) <= 1.8 / INTERVAL + 2
        # Every update but the final one waits a full interval after the previous one.
        updates = [post.at] + [e.at for e in edits]
        gaps = [b - a for a, b in itertools.pairwise(updates[:-1])]
        assert all(gap >= INTERVAL * 0.9 for gap in gaps), gaps
        assert edits[-1].body["content"] == text
        assert text.startswith(post.body["content"].strip())  # the first post was a prefix
        assert post.body["message_reference"]["message_id"] == source.id
        assert_no_pings(bot.fake)


async def test_a_fast_stream_is_posted_once_and_never_edited(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        writer = writer_for(await source_message(bot))
        text = await stream(writer, ["quick ", "answer"], pause=0.0)
        [post] = bot.fake.channel_posts(bot.channel_id)
        assert post.body["content"] == text
        assert bot.fake.find("PATCH", "/channels/") == []


async def test_a_stream_longer_than_one_message_continues_in_new_messages(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        source = await source_message(bot)
        writer = writer_for(source)
        pieces = [("lorem ipsum dolor sit amet " * 8) + "\n" for _ in range(24)]  # ~5.2k chars
        text = await stream(writer, pieces, pause=0.04)
        posts = bot.fake.channel_posts(bot.channel_id)
        assert len(posts) == 3
        final = [bot.fake.messages[int(m.id)]["content"] for m in writer.posted]
        assert all(len(chunk) <= 2000 for chunk in final)
        assert "".join(final).split() == text.split()
        assert [p.body["nonce"] for p in posts] == [f"{source.id}.{i}" for i in range(3)]


async def test_an_apology_after_a_partial_stream_keeps_what_was_shown(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        writer = writer_for(await source_message(bot))
        for piece in ["The answer ", "starts like "]:
            await writer.on_delta(piece)
        [post] = await bot.fake.wait_for(is_post_to(bot.channel_id))  # the partial text is on screen
        assert post.body["content"] == "The answer starts like"
        await writer.finish(f"{writer.streamed_text}\n\nSorry, I can't think right now.")
        [edit] = bot.fake.find("PATCH", "/channels/")
        assert edit.body["content"] == "The answer starts like \n\nSorry, I can't think right now."


async def test_a_failed_send_mid_stream_is_retried_with_the_final_text_once(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        source = await source_message(bot)
        writer = writer_for(source)
        bot.fake.fail_next("POST", f"/channels/{bot.channel_id}/messages", status=400)
        await writer.on_delta("first part ")
        await bot.fake.wait_for(is_post_to(bot.channel_id))  # the streamed post, refused
        assert len(bot.fake.channel_posts(bot.channel_id)) == 1
        await writer.finish("first part and the rest")
        attempts = bot.fake.channel_posts(bot.channel_id)
        assert len(attempts) == 2
        assert attempts[1].body["nonce"] == f"{source.id}.0"
        created = [m for m in bot.fake.messages.values() if m.get("nonce") == f"{source.id}.0"]
        assert [m["content"] for m in created] == ["first part and the rest"]


async def test_a_send_that_already_reached_discord_is_updated_not_duplicated(run_bot: RunBot) -> None:
    async with run_bot() as bot:
        source = await source_message(bot)
        # An earlier attempt (whose response was lost) already created the first chunk.
        await source.channel.send("first pa", nonce=f"{source.id}.0")
        writer = writer_for(source)
        await writer.finish("first part, complete")
        created = [m for m in bot.fake.messages.values() if m.get("nonce") == f"{source.id}.0"]
        assert len(created) == 1
        assert created[0]["content"] == "first part, complete"
        [edit] = bot.fake.find("PATCH", "/channels/")
        assert edit.body["content"] == "first part, complete"
