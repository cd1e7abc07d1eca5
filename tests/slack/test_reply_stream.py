"""ReplyStream against the fake Web API with a hand-driven clock: throttled edits, long streams
continuing in new messages, and a final text that replaces whatever was shown."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import ReplyStream, TTLCache
from adapters.slack.service import retry_handlers
from core.locks import KeyedLocks
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(
            token=BOT_TOKEN, base_url=fake_slack.base_url, session=session, retry_handlers=retry_handlers()
        )


def stream(client: AsyncWebClient, clock: Clock, *, limit: int = 3000) -> ReplyStream:
    return ReplyStream(client=client, channel="C1", thread_ts="1.1", interval=1.0, limit=limit, clock=clock)


async def _idle(replies: ReplyStream) -> None:
    if replies._pending is not None:
        await replies._pending


async def test_edits_are_throttled_to_one_per_interval(client: AsyncWebClient, fake_slack: FakeSlack) -> None:
    clock = Clock()
    replies = stream(client, clock)

    for second in range(5):  # 10 pieces per second for 5 seconds
        for tenth in range(10):
            clock.now = second + tenth / 10
            await replies.on_delta(f"w{second}{tenth} ")
            await _idle(replies)
    await replies.finish("the final answer")

    assert fake_slack.count("chat.postMessage") == 1
    # One edit per elapsed second while streaming (4), plus the final one.
    assert fake_slack.count("chat.update") == 5
    assert [m.text for m in fake_slack.posted("C1")] == ["the final answer"]
    assert fake_slack.posted("C1")[0].thread_ts == "1.1"


async def test_partial_text_shows_that_it_is_still_being_written(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    replies = stream(client, Clock())
    await replies.on_delta("Thinking about")
    await _idle(replies)

    assert fake_slack.posted("C1")[0].text == "Thinking about …"


async def test_a_long_stream_continues_in_new_messages(client: AsyncWebClient, fake_slack: FakeSlack) -> None:
    clock = Clock()
    replies = stream(client, clock, limit=200)
    for index in range(30):
        clock.now = index
        await replies.on_delta(f"sentence number {index}. ")
        await _idle(replies)
    final = "".join(f"sentence number {index}. " for index in range(30))
    await replies.finish(final)

    posted = fake_slack.posted("C1")
    assert len(posted) == len(replies.posted_ts) >= 3
    assert all(len(m.text) <= 200 for m in posted)
    assert " ".join(m.text for m in posted) == final.strip()


async def test_a_shorter_final_text_deletes_leftover_messages(
    client: AsyncWebClient, fake_slack: FakeSlack
) -> None:
    clock = Clock()
    replies = stream(client, clock, limit=100)
    await replies.on_delta("x " * 150)  # three messages' worth
    await _idle(replies)
    assert len(fake_slack.posted("C1")) == 4

    await replies.finish("Sorry, I can't think right now.")

    assert [m.text for m in fake_slack.posted("C1")] == ["Sorry, I can't think right now."]
    assert fake_slack.count("chat.delete") == 3


async def test_a_failed_edit_does_not_stop_the_stream(client: AsyncWebClient, fake_slack: FakeSlack) -> None:
    clock = Clock()
    replies = stream(client, clock)
    await replies.on_delta("one ")
    await _idle(replies)
    fake_slack.fail("chat.update", "internal_error", times=1)
    clock.now = 2
    await replies.on_delta("two ")
    await _idle(replies)
    await replies.finish("one two three")

    assert [m.text for m in fake_slack.posted("C1")] == ["one two three"]


def test_ttl_cache_is_bounded_and_expires() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(max_size=2, ttl=10, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (True, 1)  # a is now the most recently used
    cache.put("c", 3)

    assert len(cache) == 2
    assert cache.get("b") == (False, None)  # least recently used went first
    clock.now = 11
    assert cache.get("a") == (False, None)


async def test_keyed_locks_are_dropped_when_unused() -> None:
    locks = KeyedLocks()
    async with locks.hold("x"):
        assert len(locks) == 1
    assert len(locks) == 0
