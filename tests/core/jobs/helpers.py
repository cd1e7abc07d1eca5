"""Shared by the job tests: a clock the test moves, message builders, and what a test reads back."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from bot.scheduler import job_options
from bot.wiring import Core
from core.jobs import Jobs, VectorIndexer, VectorPurger
from core.models import IdentityKey, IncomingMessage, MemoryOrigin, Platform

_ids = itertools.count(1)


def postgres_jobs(
    core: Core, *, purger: VectorPurger | None = None, indexer: VectorIndexer | None = None
) -> Jobs:
    """The core's jobs, with the Postgres memory jobs' parts a test gives (build_jobs makes them
    only from SUPABASE_DB_URL)."""
    return Jobs(
        store=core.store,
        memory=core.memory,
        removals=core.removals,
        clock=core.clock,
        options=job_options(core.settings),
        vector_purger=purger,
        vector_indexer=indexer,
    )


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
