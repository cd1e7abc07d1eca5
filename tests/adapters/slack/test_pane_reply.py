"""PaneReply (adapters.slack.pane_reply) against the fake Web API: the model never waits for
Slack, a refused or broken stream falls back to post-then-edit with nothing lost, and a final
text that differs from the streamed one replaces it."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.reply_writer import Pacing
from adapters.slack.pane_reply import PaneReply
from adapters.slack.render import feedback_blocks
from adapters.slack.responders import SlackThread
from adapters.slack.translate import reply_messages
from adapters.slack.web_api import retry_handlers
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack

CHANNEL, THREAD = "D0ALICE", "1750000000.000100"


@pytest.fixture
async def client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(
            token=BOT_TOKEN, base_url=fake_slack.base_url, session=session, retry_handlers=retry_handlers()
        )


def pane_reply(client: AsyncWebClient, *, native: bool = True) -> PaneReply:
    start = functools.partial(
        client.chat_stream,
        channel=CHANNEL,
        thread_ts=THREAD,
        recipient_team_id="T0TEAM",
        recipient_user_id="UALICE",
    )
    return PaneReply(
        client=client,
        channel=CHANNEL,
        thread_ts=THREAD,
        start_stream=start if native else None,
        fallback=SlackThread(client, channel=CHANNEL, thread_ts=THREAD),
        layout=functools.partial(reply_messages, limit=3000),
        pacing=Pacing(interval=0.0),
        buffer_chars=256,
    )


async def test_the_model_never_waits_and_what_arrives_meanwhile_goes_out_together(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    reply = pane_reply(client)
    pieces = [f"{i:02d}" + "x" * 298 for i in range(10)]

    for piece in pieces:  # no await yields to the loop here: Slack is not called in between
        await reply.on_delta(piece)
    assert fake_slack.count("chat.startStream") == 0
    ts = await reply.finish("".join(pieces), blocks=feedback_blocks())

    (answer,) = fake_slack.posted(CHANNEL)
    assert (answer.ts, answer.text) == (ts, "".join(pieces))
    assert (fake_slack.count("chat.startStream"), answer.appends, fake_slack.count("chat.stopStream")) == (
        1,
        0,
        1,
    )
    assert answer.args["blocks"] == feedback_blocks()
    assert reply.streaming_natively


async def test_the_first_words_go_out_at_once_then_pieces_of_256_while_the_model_writes(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    reply = pane_reply(client)

    await reply.on_delta("Hello")
    await fake_slack.wait_for(lambda: fake_slack.count("chat.startStream") == 1)
    await reply.on_delta("a" * 100)  # under 256: held for the next piece
    await reply.on_delta("b" * 200)
    await fake_slack.wait_for(lambda: fake_slack.count("chat.appendStream") == 1)
    await reply.on_delta("c" * 10)
    await reply.finish("Hello" + "a" * 100 + "b" * 200 + "c" * 10, blocks=None)

    (answer,) = fake_slack.posted(CHANNEL)
    assert answer.text == "Hello" + "a" * 100 + "b" * 200 + "c" * 10
    first, appended = (
        call.args for call in fake_slack.calls("chat.startStream") + fake_slack.calls("chat.appendStream")
    )
    assert first["chunks"] == [{"type": "markdown_text", "text": "Hello"}]
    assert appended["chunks"] == [{"type": "markdown_text", "text": "a" * 100 + "b" * 200}]
    assert fake_slack.calls("chat.stopStream")[0].args["chunks"] == [
        {"type": "markdown_text", "text": "c" * 10}
    ]


async def test_a_stream_that_breaks_midway_continues_as_a_posted_answer(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    for method in ("chat.appendStream", "chat.stopStream"):  # whichever carries the rest fails
        fake_slack.fail(method, "internal_error", times=10)
    reply = pane_reply(client)

    await reply.on_delta("a" * 300)
    await fake_slack.wait_for(lambda: fake_slack.count("chat.startStream") == 1)  # the first piece is out
    await reply.on_delta("b" * 300)
    ts = await reply.finish("a" * 300 + "b" * 300, blocks=feedback_blocks())

    streamed, posted, buttons = fake_slack.posted(CHANNEL)
    assert streamed.streamed
    assert streamed.text == "a" * 300  # the cut-off stream stays
    assert posted.text == "a" * 300 + "b" * 300  # the whole answer, nothing lost
    assert buttons.ts == ts
    assert buttons.args["blocks"][0]["type"] == "context_actions"
    assert not reply.streaming_natively


async def test_a_final_text_that_differs_replaces_the_streamed_one(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    reply = pane_reply(client)
    await reply.on_delta("half an answer built from what was erased " * 10)
    await fake_slack.wait_for(lambda: fake_slack.count("chat.startStream") == 1)  # it was shown

    ts = await reply.finish("I dropped that answer: you erased your memory meanwhile.", blocks=None)

    (answer,) = fake_slack.posted(CHANNEL)
    assert ts is None  # no feedback buttons on a withdrawal
    assert answer.text == "I dropped that answer: you erased your memory meanwhile."
    assert answer.edits == 1  # chat.update on the streamed message
    assert not answer.stream_open


async def test_without_native_streaming_the_writer_posts_and_edits(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    reply = pane_reply(client, native=False)

    await reply.on_delta("x" * 300)
    ts = await reply.finish("x" * 300 + " done", blocks=feedback_blocks())

    answer, buttons = fake_slack.posted(CHANNEL)
    assert answer.text == "x" * 300 + " done"
    assert buttons.ts == ts
    assert fake_slack.count("chat.startStream") == 0
