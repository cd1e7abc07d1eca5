"""One admission limit per process (core/admission.py): replies wait their turn in order, and past
MAX_WAITING_REPLIES the next one is refused at once, with nothing claimed or stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.wiring import build_core
from core.admission import Admission, SwampedError
from core.models import ReplyKind
from tests.conftest import make_settings
from tests.core.helpers import message
from tests.fakes.openai_server import FakeOpenAI


async def test_past_the_waiting_bound_a_reply_is_refused_and_nothing_is_claimed(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path / "data", fake_openai, max_concurrent_replies=1, max_waiting_replies=1)
    async with build_core(settings) as core:
        gate = fake_openai.hold("chat")
        first = asyncio.create_task(core.orchestrator.handle(message("one", channel="c1")))
        await gate.arrived()  # the one slot is taken
        second = asyncio.create_task(core.orchestrator.handle(message("two", channel="c2")))
        while core.admission.waiting < 1:  # the second reply has joined the queue
            await asyncio.sleep(0)
        refused = message("three", channel="c3")

        with pytest.raises(SwampedError):
            await core.orchestrator.handle(refused)

        gate.release()
        assert [r.kind for r in await asyncio.gather(first, second) if r] == [ReplyKind.ANSWER] * 2
        # Nothing of the refused message was claimed: sent again, it is answered.
        again = await core.orchestrator.handle(refused)
        assert again is not None
        assert again.kind is ReplyKind.ANSWER
        assert core.admission.refused == 1
        assert (core.admission.waiting, core.admission.limit.active) == (0, 0)


async def test_waiting_for_a_busy_conversation_counts_as_waiting(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """A flood into one conversation cannot queue uncounted behind its lock: with a slot free, the
    bound is that free slot plus MAX_WAITING_REPLIES."""
    settings = make_settings(tmp_path / "data", fake_openai, max_concurrent_replies=2, max_waiting_replies=2)
    async with build_core(settings) as core:
        gate = fake_openai.hold("chat")
        first = asyncio.create_task(core.orchestrator.handle(message("one", channel="c1")))
        await gate.arrived()
        assert core.admission.limit.active == 1  # one slot of two is free
        queued = [asyncio.create_task(core.orchestrator.handle(message(t, channel="c1"))) for t in "abc"]
        while core.admission.waiting < 3:  # all three wait behind the conversation's lock
            await asyncio.sleep(0)
        with pytest.raises(SwampedError):
            await core.orchestrator.handle(message("d", channel="c1"))
        gate.release()
        assert len([r for r in await asyncio.gather(first, *queued) if r is not None]) == 4


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="max_waiting"):
        Admission(max_concurrent=4, max_waiting=-1)
    with pytest.raises(ValueError, match="minimum"):
        Admission(max_concurrent=0, max_waiting=1)
