"""ReplyWriter over an in-memory target, with a hand-driven clock: when it posts, edits and
deletes, what survives a failure, and that the model stream never waits for the platform."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from adapters.common.reply_writer import DeliveryFailed, Pacing, ReplyWriter, Sent
from adapters.common.split import split_message
from tests.adapters.common.clock import ManualClock


class FakeTarget:
    """Messages by id, every call in order; `hold()` parks the next call until released,
    `fail(...)` makes the next call of a kind raise DeliveryFailed."""

    def __init__(self) -> None:
        self.messages: dict[int, str] = {}
        self.calls: list[tuple[str, int, str]] = []
        self.failures: dict[str, DeliveryFailed] = {}
        self.gate: asyncio.Event | None = None
        self.parked = asyncio.Event()
        self.resend: dict[int, tuple[int, str]] = {}  # index -> an existing message a post returns
        self._ids = itertools.count(1)

    def hold(self) -> asyncio.Event:
        self.gate = asyncio.Event()
        self.parked.clear()
        return self.gate

    def fail(self, kind: str, *, permanent: bool = False) -> None:
        self.failures[kind] = DeliveryFailed(f"{kind} refused", permanent=permanent)

    async def _call(self, kind: str) -> None:
        if self.gate is not None:
            gate, self.gate = self.gate, None
            self.parked.set()
            await gate.wait()
        if kind in self.failures:
            raise self.failures.pop(kind)

    async def post(self, text: str, *, index: int) -> Sent[int]:
        await self._call("post")
        if index in self.resend:
            handle, shown = self.resend.pop(index)
            self.calls.append(("post", handle, text))
            return Sent(handle, shown)
        handle = next(self._ids)
        self.messages[handle] = text
        self.calls.append(("post", handle, text))
        return Sent(handle, text)

    async def edit(self, handle: int, text: str) -> None:
        await self._call("edit")
        self.messages[handle] = text
        self.calls.append(("edit", handle, text))

    async def delete(self, handle: int) -> None:
        await self._call("delete")
        del self.messages[handle]
        self.calls.append(("delete", handle, ""))

    def count(self, kind: str) -> int:
        return sum(1 for call in self.calls if call[0] == kind)

    def shown(self) -> list[str]:
        return list(self.messages.values())


def layout(text: str, final: bool) -> list[str]:
    return split_message(text if final else text.rstrip() + " …", limit=100)


def writer(
    target: FakeTarget,
    clock: ManualClock,
    *,
    first_post_delay: float = 0.0,
    new_messages_per_update: int | None = None,
) -> ReplyWriter[int]:
    pacing = Pacing(
        interval=1.0, first_post_delay=first_post_delay, new_messages_per_update=new_messages_per_update
    )
    return ReplyWriter(target, layout=layout, pacing=pacing, clock=clock, sleep=clock.sleep)


async def test_first_words_at_once_then_at_most_one_edit_per_interval() -> None:
    target, clock = FakeTarget(), ManualClock()
    replies = writer(target, clock)
    for tenth in range(30):  # ten pieces a second for three seconds
        clock.now = tenth / 10
        await replies.on_delta(f"w{tenth} ")
        await replies.flushed()
    await replies.finish("the final answer")

    assert [kind for kind, _, _ in target.calls] == ["post", "edit", "edit", "edit"]
    assert target.calls[0][2] == "w0 …"
    assert target.calls[1][2].endswith("w10 …")  # the first piece at or after one second
    assert target.shown() == ["the final answer"]


async def test_an_update_comes_when_the_interval_ends_without_waiting_for_more_text() -> None:
    target, clock = FakeTarget(), ManualClock()
    replies = writer(target, clock)
    await replies.on_delta("one")
    await replies.flushed()
    await replies.on_delta(" two")
    await replies.flushed()
    assert target.shown() == ["one …"]  # too early for an edit

    clock.now = 1.0
    await replies.flushed()

    assert target.shown() == ["one two …"]


async def test_unchanged_text_is_never_sent_again() -> None:
    target, clock = FakeTarget(), ManualClock()
    replies = writer(target, clock)
    await replies.on_delta("same")
    await replies.flushed()
    clock.now = 5.0
    await replies.flushed()
    await replies.finish("same …")

    assert [kind for kind, _, _ in target.calls] == ["post"]


async def test_a_first_post_delay_makes_a_fast_answer_one_post_and_no_edit() -> None:
    target, clock = FakeTarget(), ManualClock()
    replies = writer(target, clock, first_post_delay=1.0)
    await replies.on_delta("quick ")
    await replies.on_delta("answer")
    await replies.flushed()
    assert target.calls == []

    await replies.finish("quick answer")

    assert target.calls == [("post", 1, "quick answer")]


async def test_text_past_the_limit_continues_in_new_messages() -> None:
    target, clock = FakeTarget(), ManualClock()
    replies = writer(target, clock)
    sentences = [f"sentence number {i}. " for i in range(30)]
    for second, sentence in enumerate(sentences):
        clock.now = second
        await replies.on_delta(sentence)
        await replies.flushed()
    final = "".join(sentences).strip()
    await replies.finish(final)

    assert len(replies.posted) == len(target.shown()) >= 5
    assert all(len(text) <= 100 for text in target.shown())
    assert " ".join(target.shown()) == final


async def test_new_messages_per_update_holds_back_a_burst() -> None:
    target, clock = FakeTarget(), ManualClock()
    replies = writer(target, clock, new_messages_per_update=1)
    await replies.on_delta("x " * 150)  # three messages' worth at once
    await replies.flushed()
    assert target.count("post") == 1

    clock.now = 1.0
    await replies.flushed()
    assert target.count("post") == 2

    await replies.finish("x " * 150)  # three messages without the "still writing" mark
    assert target.count("post") == 3
    assert " ".join(target.shown()).split() == ["x"] * 150


async def test_a_shorter_final_text_deletes_the_leftover_messages() -> None:
    target, clock = FakeTarget(), ManualClock()
    replies = writer(target, clock)
    await replies.on_delta("x " * 150)
    await replies.flushed()
    assert len(target.shown()) == 4

    await replies.finish("Sorry, I can't think right now.")

    assert target.shown() == ["Sorry, I can't think right now."]
    assert target.count("delete") == 3
    assert len(replies.posted) == 1


async def test_a_failed_update_is_logged_and_the_final_text_tries_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    target, clock = FakeTarget(), ManualClock()
    replies = writer(target, clock)
    target.fail("post")
    with caplog.at_level(logging.WARNING):
        await replies.on_delta("first part")
        await replies.flushed()
    assert target.shown() == []
    assert "post refused" in caplog.text

    await replies.finish("first part and the rest")

    assert target.shown() == ["first part and the rest"]


async def test_a_permanent_failure_stops_every_further_attempt() -> None:
    target, clock = FakeTarget(), ManualClock()
    replies = writer(target, clock)
    target.fail("post", permanent=True)
    await replies.on_delta("hello")
    await replies.flushed()
    clock.now = 5.0
    await replies.on_delta(" again")
    await replies.flushed()

    with pytest.raises(DeliveryFailed, match="post refused"):
        await replies.finish("hello again")
    assert target.calls == []


async def test_a_final_failure_is_raised() -> None:
    target = FakeTarget()
    replies = writer(target, ManualClock())
    target.fail("post")

    with pytest.raises(DeliveryFailed):
        await replies.finish("never shown")


async def test_a_resend_that_returns_an_older_message_is_brought_up_to_date() -> None:
    target = FakeTarget()
    target.messages[41] = "first pa"
    target.resend[0] = (41, "first pa")  # an earlier attempt's message, found by its idempotency key
    replies = writer(target, ManualClock())

    await replies.finish("first part, complete")

    assert target.messages == {41: "first part, complete"}
    assert target.calls == [("post", 41, "first part, complete"), ("edit", 41, "first part, complete")]


async def test_on_first_post_runs_once_after_the_first_message_is_up() -> None:
    target, clock = FakeTarget(), ManualClock()
    seen: list[int] = []

    async def first_posted() -> None:
        seen.append(len(target.calls))

    replies = ReplyWriter(
        target,
        layout=layout,
        pacing=Pacing(interval=1.0),
        on_first_post=first_posted,
        clock=clock,
        sleep=clock.sleep,
    )
    await replies.on_delta("x " * 150)
    await replies.flushed()
    await replies.finish("x " * 150)

    assert seen == [1]


async def test_the_model_stream_never_waits_for_the_platform() -> None:
    target, clock = FakeTarget(), ManualClock()
    replies = writer(target, clock)
    release = target.hold()
    await replies.on_delta("first")
    await target.parked.wait()  # the first post is stuck on the platform

    for second in range(1, 6):  # five seconds of model output meanwhile
        clock.now = second
        await replies.on_delta(f" {second}")
    assert target.calls == []

    release.set()
    await replies.flushed()
    assert target.shown() == ["first …"]
    clock.now = 6.0  # one interval after the stuck post finally went through
    await replies.flushed()
    await replies.finish("first 1 2 3 4 5")

    assert [kind for kind, _, _ in target.calls] == ["post", "edit", "edit"]
    assert target.calls[1][2] == "first 1 2 3 4 5 …"  # the backlog in one edit, not five
    assert target.shown() == ["first 1 2 3 4 5"]


async def test_leaving_the_block_without_finish_abandons_the_stream() -> None:
    target, clock = FakeTarget(), ManualClock()
    async with writer(target, clock) as replies:
        await replies.on_delta("partial")
        await replies.flushed()
    await replies.on_delta(" more")
    clock.now = 5.0
    await replies.flushed()

    assert target.shown() == ["partial …"]
    with pytest.raises(RuntimeError, match="twice"):
        await replies.finish("too late")


async def test_a_broken_layout_is_raised_by_finish_and_only_logged_by_abandon(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(text: str, final: bool) -> list[str]:
        raise ZeroDivisionError

    clock = ManualClock()
    with caplog.at_level(logging.ERROR):
        async with ReplyWriter(FakeTarget(), layout=broken, clock=clock, sleep=clock.sleep) as replies:
            await replies.on_delta("boom")
            await replies.flushed()
        with pytest.raises(ZeroDivisionError):
            async with ReplyWriter(FakeTarget(), layout=broken, clock=clock, sleep=clock.sleep) as other:
                await other.finish("boom")

    assert caplog.text.count("streamed updates failed") == 1
