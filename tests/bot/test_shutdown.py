"""Shutdown is bounded: in-flight replies and queued memory writes share one grace period, and what
does not fit is kept durably for the retry job (nothing the person said is lost)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from bot.scheduler import build_jobs
from bot.wiring import build_core
from core.clock import utc_now
from core.jobs import RETRY_MEMORY_WRITES
from core.models import IdentityKey, Platform
from tests.conftest import make_settings
from tests.core.jobs.helpers import message
from tests.fakes.openai_server import FakeOpenAI


async def test_replies_and_memory_writes_share_one_grace_period(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    grace = 2.0
    settings = make_settings(
        tmp_path / "data", fake_openai, shutdown_grace_seconds=grace, memory_write_workers=2
    )
    fake_openai.state.delay_chat = 1.5
    fake_openai.state.delay_extract = 1.0
    users = ["ann", "ben", "cat", "dan"]
    async with build_core(settings) as core:
        replies = [
            asyncio.create_task(core.orchestrator.handle(message(f"{u} keeps {u}-canary facts", user=u)))
            for u in users
        ]
        while fake_openai.count("chat") < len(users):
            await asyncio.sleep(0.01)

        begin = time.monotonic()
        await core.shutdown(grace)
        elapsed = time.monotonic() - begin

        answered = await asyncio.gather(*replies)
        assert all(r is not None and r.kind.value == "answer" for r in answered)
        # 1.5 s of replies + 4 writes of 1 s on 2 workers would be 3.5 s; the budget is 2 s in total.
        assert elapsed < grace + 0.7, elapsed
        accounts = [
            (await core.store.resolve_account(IdentityKey(Platform.CONSOLE, "w1", u))).id for u in users
        ]
        written = [u for u, a in zip(users, accounts, strict=True) if (await core.memory.export(a, epoch=0))]
        kept = await core.store.due_pending_writes(now=utc_now() + timedelta(days=1), limit=100)
        kept_for = {w.account_id for w in kept}
        # Every exchange is written or kept. (A write cut off mid-flight is kept although mem0's
        # thread may still finish it: the retry then finds the same text and adds nothing.)
        assert set(written) | {u for u, a in zip(users, accounts, strict=True) if a in kept_for} == set(users)
        assert kept, "the budget should have been too short for every write"

    # The next process's retry job writes what was kept.
    fake_openai.state.delay_extract = 0
    async with build_core(settings) as core:
        result = await build_jobs(core).run(RETRY_MEMORY_WRITES)
        assert result.counts["written"] == len(kept)
        for u, a in zip(users, accounts, strict=True):
            assert [m.text for m in await core.memory.export(a, epoch=0)] == [f"{u} keeps {u}-canary facts"]
