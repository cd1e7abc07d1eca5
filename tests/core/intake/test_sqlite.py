"""core/intake/sqlite.py beyond the contract: how a worker learns of new work (another process's
write, its own finished delivery) without waiting for its poll, an inbox file made before the lease
token existed, the WAL holding no one's words once a worker stops, and a hand-back that another
process takes at once while the stopping one takes nothing more."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import utc_now
from core.intake.model import Delivery
from core.intake.sqlite import SQLiteIntake
from tests.core.intake.test_contract import Recorder, new

# Far longer than any test waits: a delivery seen sooner was seen without the poll.
SLOW_POLL = 60.0


@contextlib.asynccontextmanager
async def inbox(path: Path, **options: float) -> AsyncIterator[SQLiteIntake]:
    opened = await SQLiteIntake.open(path, clock=utc_now, lease=timedelta(seconds=5), **options)  # type: ignore[arg-type]
    try:
        yield opened
    finally:
        await opened.stop(grace=1)
        await opened.close()


@contextlib.asynccontextmanager
async def serving(intake: SQLiteIntake, recorder: Recorder) -> AsyncIterator[None]:
    task = asyncio.create_task(intake.serve(recorder, concurrency=4))
    try:
        yield
    finally:
        await intake.stop(grace=1)
        await task


async def test_a_worker_sees_another_processs_accept_before_its_poll(tmp_path: Path) -> None:
    path = tmp_path / "intake.db"
    async with inbox(path) as web, inbox(path, poll_interval=SLOW_POLL, watch_interval=0.01) as worker:
        recorder = Recorder()
        assert await web.accept(new(text="warm-up"))
        async with serving(worker, recorder):
            await recorder.wait_for(1, timeout=10)
            # The worker has looked for work after the warm-up (its completion wakes it), found
            # none, and waits: only its watch on the file can see this one within the test.
            assert await web.accept(new(text="from the web process"))
            await recorder.wait_for(2, timeout=10)
        assert recorder.texts() == ["warm-up", "from the web process"]


async def test_the_next_delivery_of_a_lane_follows_at_once_when_the_previous_one_is_done(
    tmp_path: Path,
) -> None:
    path = tmp_path / "intake.db"
    async with inbox(path) as web, inbox(path, poll_interval=SLOW_POLL, watch_interval=SLOW_POLL) as worker:
        for text in ("first", "second", "third"):
            assert await web.accept(new("one-conversation", text=text))
        recorder = Recorder()
        async with serving(worker, recorder):
            # The first is taken at start; each next one only once this worker finished the one
            # before (no other process writes, and neither the watch nor the poll comes in time).
            await recorder.wait_for(3, timeout=10)
        assert recorder.texts() == ["first", "second", "third"]
        assert await worker.pending() == 0


async def test_an_inbox_made_before_the_lease_token_is_upgraded_and_its_deliveries_answered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "intake.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(
            """
            CREATE TABLE deliveries (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, key TEXT NOT NULL UNIQUE,
                kind TEXT NOT NULL, lane TEXT NOT NULL, payload TEXT, received_at TEXT NOT NULL,
                accepted_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, leased_by TEXT,
                lease_until TEXT, not_before TEXT, reply_ref TEXT, done_at TEXT
            );
            INSERT INTO deliveries (id, key, kind, lane, payload, received_at, accepted_at)
            VALUES ('d1', 'msg:old', 'test.message', 'lane', '{"text": "queued before the upgrade"}',
                    '2026-12-04T12:00:00.000000+00:00', '2026-12-04T12:00:00.000000+00:00');
            """
        )
        conn.commit()
    async with inbox(path) as worker:
        recorder = Recorder()
        async with serving(worker, recorder):
            seen = await recorder.wait_for(1, timeout=10)
        assert [(d.key, d.attempt, d.payload["text"]) for d in seen] == [
            ("msg:old", 1, "queued before the upgrade")
        ]
        assert await worker.pending() == 0


async def test_a_stopped_worker_leaves_no_words_in_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "intake.db"
    secret = "aubergine-lighthouse-4711"
    async with inbox(path) as web, inbox(path) as worker:
        assert await web.accept(new(text=f"my code is {secret}"))
        done = asyncio.Event()

        async def handle(delivery: Delivery) -> None:
            done.set()

        task = asyncio.create_task(worker.serve(handle, concurrency=2))
        async with asyncio.timeout(10):
            await done.wait()
        await worker.stop(grace=5)  # the delivery is completed, and the WAL folded and truncated
        await task
        assert await worker.pending() == 0
        for file in (path, path.with_name("intake.db-wal")):
            if file.exists():
                assert secret.encode() not in file.read_bytes()


async def test_a_handed_back_delivery_goes_to_another_process_at_once_and_the_stopping_one_takes_no_more(
    tmp_path: Path,
) -> None:
    path = tmp_path / "intake.db"
    # A failure's backoff is an hour here: only a hand-back can come back within the test.
    async with inbox(path, retry_base=timedelta(hours=1)) as stopping, inbox(path) as other:
        stopping_recorder, other_recorder = Recorder(), Recorder()
        stopping_recorder.hand_back_always.update({"mid-deploy", "next"})
        async with serving(stopping, stopping_recorder):
            await stopping.accept(new("lane-a", text="mid-deploy"))
            await stopping_recorder.wait_for(1)
            await stopping.idle()
            async with serving(other, other_recorder):
                [again] = await other_recorder.wait_for(1)
                assert again.payload["text"] == "mid-deploy"
                assert again.attempt == 2
                await stopping.accept(new("lane-b", text="next"))  # the stopping process's own
                await other_recorder.wait_for(2)
        assert stopping_recorder.texts() == ["mid-deploy"]  # it leased nothing after handing back


@pytest.mark.parametrize("bad", [0, -1])
async def test_serving_with_no_slots_is_refused(tmp_path: Path, bad: int) -> None:
    async with inbox(tmp_path / "intake.db") as worker:
        with pytest.raises(ValueError, match="concurrency"):
            await worker.serve(Recorder(), concurrency=bad)
