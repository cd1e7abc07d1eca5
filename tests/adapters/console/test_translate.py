"""The console's pure rules: a line becomes an IncomingMessage."""

from __future__ import annotations

from adapters.console.translate import to_incoming
from core.models import Platform


def test_to_incoming_keeps_the_thread_that_names_the_conversation() -> None:
    from datetime import UTC, datetime

    message = to_incoming("hi", user="ann", channel="dm-ann", is_dm=True, now=datetime.now(UTC), thread="t1")
    assert message.platform is Platform.CONSOLE
    assert message.conversation.thread == "t1"
