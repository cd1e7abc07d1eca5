"""Slack's answers through the shared ReplyWriter (adapters.common.reply_writer), against the fake
Web API with a hand-driven clock: throttled edits, long streams continuing in new messages, and a
final text that replaces whatever was shown."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.reply_writer import Pacing, ReplyWriter
from adapters.slack.responders import SlackThread
from adapters.slack.translate import reply_messages
from adapters.slack.web_api import retry_handlers
from tests.adapters.common.clock import ManualClock
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack


@pytest.fixture
async def client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(
            token=BOT_TOKEN, base_url=fake_slack.base_url, session=session, retry_handlers=retry_handlers()
        )


def stream(client: AsyncWebClient, clock: ManualClock, *, limit: int = 3000) -> ReplyWriter[str]:
    return ReplyWriter(
        SlackThread(client, channel="C1", thread_ts="1.1"),
        layout=functools.partial(reply_messages, limit=limit),
        pacing=Pacing(interval=1.0),
        clock=clock,
        sleep=clock.sleep,
    )


async def test_edits_are_throttled_to_one_per_interval(client: AsyncWebClient, fake_slack: FakeSlack) -> None:
    clock = ManualClock()
    replies = stream(client, clock)

    for second in range(5):  # 10 pieces per second for 5 seconds
        for tenth in range(10):
            clock.now = second + tenth / 10
            await replies.on_delta(f"w{second}{tenth} ")
            await replies.flushed()
    await replies.finish("the final answer")

    assert fake_slack.count("chat.postMessage") == 1
    # One edit per elapsed second while streaming (4), plus the final one.
    assert fake_slack.count("chat.update") == 5
    assert [m.text for m in fake_slack.posted("C1")] == ["the final answer"]
    assert fake_slack.posted("C1")[0].thread_ts == "1.1"


async def test_partial_text_shows_that_it_is_still_being_written(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    replies = stream(client, ManualClock())
    await replies.on_delta("Thinking about")
    await replies.flushed()

    assert fake_slack.posted("C1")[0].text == "Thinking about …"


async def test_a_long_stream_continues_in_new_messages(client: AsyncWebClient, fake_slack: FakeSlack) -> None:
    clock = ManualClock()
    replies = stream(client, clock, limit=200)
    for index in range(30):
        clock.now = index
        await replies.on_delta(f"sentence number {index}. ")
        await replies.flushed()
    final = "".join(f"sentence number {index}. " for index in range(30))
    await replies.finish(final)

    posted = fake_slack.posted("C1")
    assert len(posted) == len(replies.posted) >= 3
    assert all(len(m.text) <= 200 for m in posted)
    assert " ".join(m.text for m in posted) == final.strip()


async def test_a_shorter_final_text_deletes_leftover_messages(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    clock = ManualClock()
    replies = stream(client, clock, limit=100)
    await replies.on_delta("x " * 150)  # three messages' worth
    await replies.flushed()
    assert len(fake_slack.posted("C1")) == 4

    await replies.finish("Sorry, I can't think right now.")

    assert [m.text for m in fake_slack.posted("C1")] == ["Sorry, I can't think right now."]
    assert fake_slack.count("chat.delete") == 3


async def test_a_failed_edit_does_not_stop_the_stream(client: AsyncWebClient, fake_slack: FakeSlack) -> None:
    clock = ManualClock()
    replies = stream(client, clock)
    await replies.on_delta("one ")
    await replies.flushed()
    fake_slack.fail("chat.update", "internal_error", times=1)
    clock.now = 2
    await replies.on_delta("two ")
    await replies.flushed()
    await replies.finish("one two three")

    assert [m.text for m in fake_slack.posted("C1")] == ["one two three"]
