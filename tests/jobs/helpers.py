"""Shared by the job tests: a clock the test moves, and message builders."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from core.models import IncomingMessage, Platform

_ids = itertools.count(1)


class FakeClock:
    """Call it for the time; `advance()` moves it. Starts at a fixed instant."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def message(
    text: str, *, user: str = "alice", dm: bool = True, channel: str | None = None
) -> IncomingMessage:
    return IncomingMessage(
        platform=Platform.CONSOLE,
        workspace="w1",
        user=user,
        channel=channel or (f"dm-{user}" if dm else "general"),
        text=text,
        message_id=f"jm{next(_ids)}",
        is_private=dm,
        is_direct=dm,
        mentions_bot=True,
        user_name=user.capitalize(),
    )
