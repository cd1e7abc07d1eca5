"""Shared by the job tests: a clock the test moves, message builders, and what a test reads back."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from bot.wiring import Core
from core.models import IdentityKey, IncomingMessage, MemoryOrigin, Platform

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


ALICE = IdentityKey(Platform.CONSOLE, "w1", "alice")
DM = MemoryOrigin(Platform.CONSOLE, "dm-alice", True)


async def memory_texts(core: Core, account: uuid.UUID) -> list[str]:
    page = await core.memory.page(account, offset=0, limit=50, epoch=0)
    return sorted(item.text for item in page.items)


async def pending(core: Core, *, at: datetime) -> int:
    return len(await core.store.due_pending_writes(now=at, limit=1000))
