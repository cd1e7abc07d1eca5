"""The /v1 router's tracker of chat replies: a failed reply is logged once (nobody may be awaiting
it: its client left), an overloaded one is not (it is a 503, not a failure)."""

from __future__ import annotations

import logging

import pytest

from adapters.http.deps import chat_tracker
from core.admission import SwampedError


async def refused() -> None:
    raise SwampedError("too many replies waiting")


async def broken() -> None:
    raise RuntimeError("the store went away")


async def test_a_failed_reply_is_logged_an_overloaded_one_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    replies = chat_tracker()
    with caplog.at_level(logging.ERROR, logger="adapters.http.deps"):
        replies.spawn(refused(), name="chat")
        replies.spawn(broken(), name="chat")
        assert await replies.wait_idle(5)

    logged = [(record.getMessage(), type(record.exc_info[1])) for record in caplog.records if record.exc_info]
    assert logged == [("chat reply failed", RuntimeError)]
    assert replies.in_flight == 0
