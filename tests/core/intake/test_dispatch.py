"""The worker's dispatcher: a responder per kind, an apology (or a logged drop) for late deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.intake.dispatch import Dispatcher, NoteReply
from core.intake.model import Delivery
from tests.core.intake.conftest import Inboxes
from tests.core.jobs.helpers import FakeClock

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def delivery(kind: str, *, received: datetime = T0) -> Delivery:
    return Delivery(id="d1", key="k1", kind=kind, lane="l", payload={"text": "hi"}, received_at=received)


class Calls:
    def __init__(self) -> None:
        self.made: list[tuple[str, str]] = []

    def responder(self, name: str) -> Any:
        async def respond(got: Delivery, note_reply: NoteReply) -> None:
            self.made.append((name, got.kind))

        return respond


async def test_each_kind_goes_to_its_responder(inboxes: Inboxes) -> None:
    calls, clock = Calls(), FakeClock(T0)
    dispatch = Dispatcher(intake=await inboxes.open(), clock=clock)
    dispatch.register("slack.message", calls.responder("slack"))
    dispatch.register("discord.message", calls.responder("discord"))
    await dispatch(delivery("discord.message"))
    await dispatch(delivery("slack.message"))
    assert calls.made == [("discord", "discord.message"), ("slack", "slack.message")]
    assert dispatch.kinds == ["discord.message", "slack.message"]
    with pytest.raises(ValueError, match="already"):
        dispatch.register("slack.message", calls.responder("again"))


async def test_an_unknown_kind_is_dropped_not_retried(
    inboxes: Inboxes, caplog: pytest.LogCaptureFixture
) -> None:
    dispatch = Dispatcher(intake=await inboxes.open(), clock=FakeClock(T0))
    await dispatch(delivery("telegram.message"))  # returns: the delivery is done, not retried
    assert "no responder for kind=telegram.message" in caplog.text


async def test_a_late_delivery_gets_an_apology_or_is_dropped_with_a_log_line(
    inboxes: Inboxes, caplog: pytest.LogCaptureFixture
) -> None:
    calls, clock = Calls(), FakeClock(T0 + timedelta(minutes=11))
    dispatch = Dispatcher(intake=await inboxes.open(), clock=clock, max_age=timedelta(minutes=10))
    dispatch.register("slack.message", calls.responder("answer"), on_late=calls.responder("sorry"))
    dispatch.register("discord.interaction", calls.responder("answer"))
    await dispatch(delivery("slack.message"))
    await dispatch(delivery("discord.interaction"))
    await dispatch(delivery("slack.message", received=T0 + timedelta(minutes=2)))  # 9 min: in time
    assert calls.made == [("sorry", "slack.message"), ("answer", "slack.message")]
    assert "delivery dropped: waited 660s (more than 600s) kind=discord.interaction" in caplog.text
