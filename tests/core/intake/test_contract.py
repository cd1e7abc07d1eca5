"""The intake's contract, on every inbox: deduplicated acceptance, at-least-once handling with one
delivery at a time per lane in arrival order, take-over after a worker dies, retries, notes."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from core.intake.model import Delivery, DeliveryHandler, HandBack, Intake, NewDelivery
from core.intake.sqlite import MAX_ATTEMPTS
from tests.core.intake.conftest import Inboxes

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
_keys = itertools.count(1)


def new(lane: str = "slack|T1|C1|", *, text: str = "hello", key: str | None = None) -> NewDelivery:
    return NewDelivery(
        key=key if key is not None else f"msg:{next(_keys)}",
        kind="test.message",
        lane=lane,
        payload={"text": text},
        received_at=T0,
    )


class Recorder:
    """A handler that records what it got, and can hold deliveries until the test releases them."""

    def __init__(self) -> None:
        self.seen: list[Delivery] = []
        self.holds: dict[str, asyncio.Event] = {}
        self.arrived = asyncio.Condition()
        self.fail_first: set[str] = set()
        self.fail_always: set[str] = set()
        self.hand_back_always: set[str] = set()

    def hold(self, text: str) -> asyncio.Event:
        self.holds[text] = asyncio.Event()
        return self.holds[text]

    async def __call__(self, delivery: Delivery) -> None:
        async with self.arrived:
            self.seen.append(delivery)
            self.arrived.notify_all()
        text = str(delivery.payload.get("text"))
        if text in self.fail_always:
            raise RuntimeError("a bug on every attempt")
        if text in self.fail_first:
            self.fail_first.discard(text)
            raise RuntimeError("a bug on the first attempt")
        if text in self.hand_back_always:
            raise HandBack("stopping: the next worker answers it")
        gate = self.holds.get(text)
        if gate is not None:
            await gate.wait()

    async def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Delivery]:
        async with asyncio.timeout(timeout), self.arrived:
            await self.arrived.wait_for(lambda: len(self.seen) >= count)
        return list(self.seen)

    def texts(self) -> list[str]:
        return [str(d.payload.get("text")) for d in self.seen]


@pytest.fixture
async def serving(inboxes: Inboxes) -> AsyncIterator[Callable[..., Awaitable[tuple[Intake, Recorder]]]]:
    started: list[tuple[Intake, asyncio.Task[None]]] = []

    async def start(intake: Intake | None = None, *, concurrency: int = 4) -> tuple[Intake, Recorder]:
        inbox = intake or await inboxes.open()
        recorder = Recorder()
        handler: DeliveryHandler = recorder
        started.append((inbox, asyncio.create_task(inbox.serve(handler, concurrency=concurrency))))
        return inbox, recorder

    yield start
    for inbox, task in started:
        await inbox.stop(grace=1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_key_is_accepted_once_across_processes(inboxes: Inboxes) -> None:
    first, second = await inboxes.open(), await inboxes.open()
    delivery = new(key="msg:slack:T1:C1:1700.1")
    results = await asyncio.gather(*(inbox.accept(delivery) for inbox in (first, second) for _ in range(3)))
    assert sorted(results) == [False] * 5 + [True]
    assert await first.pending() == 1


async def test_each_delivery_is_handled_once_and_then_forgets_its_payload(
    inboxes: Inboxes, serving: Callable[..., Awaitable[tuple[Intake, Recorder]]]
) -> None:
    inbox, recorder = await serving()
    for i in range(5):
        assert await inbox.accept(new(f"lane-{i}", text=f"text {i}"))
    seen = await recorder.wait_for(5)
    assert sorted(recorder.texts()) == [f"text {i}" for i in range(5)]
    assert all(d.attempt == 1 for d in seen)
    await inboxes.settled(inbox)
    assert await inbox.pending() == 0
    assert await inboxes.payloads_holding(inbox, "text ") == 0


async def test_one_lane_goes_one_at_a_time_in_arrival_order_while_others_run(
    inboxes: Inboxes, serving: Callable[..., Awaitable[tuple[Intake, Recorder]]]
) -> None:
    inbox, recorder = await serving(concurrency=4)
    first = recorder.hold("a1")
    for text in ("a1", "a2", "a3"):
        await inbox.accept(new("lane-a", text=text))
    await inbox.accept(new("lane-b", text="b1"))
    seen = await recorder.wait_for(2)
    assert sorted(d.payload["text"] for d in seen) == ["a1", "b1"]  # a2 waits behind a1, b1 does not
    first.set()
    await recorder.wait_for(4)
    assert [t for t in recorder.texts() if t.startswith("a")] == ["a1", "a2", "a3"]


async def test_a_delivery_whose_worker_died_is_taken_over(
    inboxes: Inboxes, serving: Callable[..., Awaitable[tuple[Intake, Recorder]]]
) -> None:
    doomed, doomed_recorder = await serving()
    doomed_recorder.hold("mid-answer")  # never released: this worker "dies" while answering
    await doomed.accept(new(text="mid-answer"))
    [taken] = await doomed_recorder.wait_for(1)
    await doomed.note_reply(taken.id, {"posted": ["1700.2"]})
    await inboxes.kill(doomed)

    _, survivor = await serving()
    [again] = await survivor.wait_for(1, timeout=30)
    assert again.id == taken.id
    assert again.attempt == 2
    assert again.reply_ref == {"posted": ["1700.2"]}  # the retry continues the reply


async def test_a_failing_handler_gets_the_delivery_again(
    inboxes: Inboxes, serving: Callable[..., Awaitable[tuple[Intake, Recorder]]]
) -> None:
    inbox, recorder = await serving()
    recorder.fail_first.add("flaky")
    await inbox.accept(new(text="flaky"))
    seen = await recorder.wait_for(2, timeout=30)
    assert [d.attempt for d in seen] == [1, 2]
    await inboxes.settled(inbox)
    assert await inbox.pending() == 0


async def test_a_delivery_handed_back_by_a_stopping_worker_is_answered_by_the_next_without_an_error(
    inboxes: Inboxes,
    serving: Callable[..., Awaitable[tuple[Intake, Recorder]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    stopping, stopping_recorder = await serving()
    stopping_recorder.hand_back_always.add("mid-deploy")  # its assistant stopped accepting
    await stopping.accept(new(text="mid-deploy"))
    [first] = await stopping_recorder.wait_for(1)
    await inboxes.settled(stopping)
    await stopping.stop(grace=1)  # the shutdown goes on: this process takes no more work

    _, next_recorder = await serving()
    [again] = await next_recorder.wait_for(1, timeout=30)
    assert again.id == first.id
    assert again.attempt >= 2  # counted: the next attempt knows it is not the first
    handed = [r for r in caplog.records if "handed back" in r.getMessage()]
    assert handed
    assert {r.levelno for r in handed} == {logging.INFO}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_purged_keys_can_be_accepted_again_later(
    inboxes: Inboxes, serving: Callable[..., Awaitable[tuple[Intake, Recorder]]]
) -> None:
    inbox, recorder = await serving()
    delivery = new(key="msg:old")
    assert await inbox.accept(delivery)
    await recorder.wait_for(1)
    await inboxes.settled(inbox)
    assert not await inbox.accept(delivery)  # done, but its key still deduplicates
    assert await inbox.purge(before=datetime.now(UTC) + timedelta(minutes=1)) == 1
    assert await inbox.accept(delivery)


async def test_bad_input_is_refused(inboxes: Inboxes) -> None:
    inbox = await inboxes.open()
    with pytest.raises(ValueError, match="key"):
        await inbox.accept(new(key=""))
    with pytest.raises(ValueError, match="timezone"):
        await inbox.accept(
            NewDelivery(key="k", kind="x", lane="l", payload={}, received_at=datetime(2026, 1, 1))
        )
    assert await inbox.pending() == 0


async def test_a_delivery_that_keeps_failing_is_given_up_and_forgotten(
    inboxes: Inboxes, serving: Callable[..., Awaitable[tuple[Intake, Recorder]]]
) -> None:
    inbox, recorder = await serving()
    recorder.fail_always.add("poison")
    await inbox.accept(new(text="poison"))
    seen = await recorder.wait_for(MAX_ATTEMPTS, timeout=30)
    assert [d.attempt for d in seen] == list(range(1, MAX_ATTEMPTS + 1))
    await inboxes.settled(inbox)
    assert await inbox.pending() == 0  # done: never retried forever
    assert await inboxes.payloads_holding(inbox, "poison") == 0


async def test_no_log_line_carries_what_was_said(
    inboxes: Inboxes,
    serving: Callable[..., Awaitable[tuple[Intake, Recorder]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    inbox, recorder = await serving()
    recorder.fail_first.add("canary-7f3a words")
    await inbox.accept(new(text="canary-7f3a words"))
    await recorder.wait_for(2, timeout=30)
    await inboxes.settled(inbox)
    assert "delivery" in caplog.text or "job" in caplog.text  # the queue did log
    assert "canary-7f3a" not in caplog.text


async def test_work_queued_while_no_worker_runs_is_drained_in_order_per_lane(
    inboxes: Inboxes, serving: Callable[..., Awaitable[tuple[Intake, Recorder]]]
) -> None:
    front_door = await inboxes.open()  # accepts while every worker is down
    for i in range(4):
        for lane in ("lane-a", "lane-b", "lane-c"):
            assert await front_door.accept(new(lane, text=f"{lane}:{i}"))
    assert await front_door.pending() == 12
    _, recorder = await serving(concurrency=3)  # a worker (re)starts
    seen = await recorder.wait_for(12, timeout=30)
    for lane in ("lane-a", "lane-b", "lane-c"):
        assert [d.payload["text"] for d in seen if d.lane == lane] == [f"{lane}:{i}" for i in range(4)]
