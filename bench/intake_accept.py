"""What recording an accepted event costs on the acknowledgement path, and how fast workers drain
the inbox: the embedded SQLite inbox and the Postgres one (procrastinate), side by side in one run.

    python bench/intake_accept.py

Accept latency: one event at a time, and 50 at once (a burst of front-door acks). Drain: 1,000
queued events over 50 conversations, answered by an instant handler in this process (concurrency
16). Postgres runs on a throwaway database of the local server (MNEMO_TEST_PG_DSN).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import summary
from core.clock import utc_now
from core.intake.model import Delivery, Intake, NewDelivery
from core.intake.postgres import PostgresIntake
from core.intake.sqlite import SQLiteIntake
from tests.core.intake import pgqueue

SEQUENTIAL = 300
BURSTS = 10
BURST = 50
DRAIN = 1000


def event(n: int, lane: str) -> NewDelivery:
    return NewDelivery(
        key=f"bench:{n}", kind="bench", lane=lane, payload={"text": "hi"}, received_at=datetime.now(UTC)
    )


async def accept_latency(intake: Intake) -> tuple[list[float], list[float]]:
    one: list[float] = []
    for n in range(SEQUENTIAL):
        started = time.perf_counter()
        await intake.accept(event(n, f"lane-{n % 20}"))
        one.append((time.perf_counter() - started) * 1000)

    async def timed(n: int) -> float:
        started = time.perf_counter()
        await intake.accept(event(n, f"lane-{n % 20}"))
        return (time.perf_counter() - started) * 1000

    burst: list[float] = []
    for b in range(BURSTS):
        base = 100_000 + b * BURST
        burst += await asyncio.gather(*(timed(base + i) for i in range(BURST)))
    return one, burst


async def drain_rate(intake: Intake) -> float:
    for n in range(DRAIN):
        await intake.accept(event(1_000_000 + n, f"conv-{n % 50}"))
    done = asyncio.Event()
    count = 0

    async def handle(delivery: Delivery) -> None:
        nonlocal count
        count += 1
        if count >= DRAIN:
            done.set()

    started = time.perf_counter()
    serving = asyncio.create_task(intake.serve(handle, concurrency=16))
    await asyncio.wait_for(done.wait(), timeout=300)
    elapsed = time.perf_counter() - started
    await intake.stop(grace=5)
    await serving
    return DRAIN / elapsed


async def run_one(name: str, open_inbox: object) -> None:
    opener = open_inbox  # a coroutine function returning a fresh inbox
    inbox: Intake = await opener()  # type: ignore[operator]
    one, burst = await accept_latency(inbox)
    await inbox.close()
    drainer: Intake = await opener()  # type: ignore[operator]
    rate = await drain_rate(drainer)
    await drainer.close()
    print(f"{name:9} accept, one at a time: {summary(one)}")
    print(f"{name:9} accept, {BURST} at once:    {summary(burst)}")
    print(f"{name:9} drain: {rate:7.0f} events/s (median accept {statistics.median(one):.2f} ms)")


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-") as tmp:
        counter = iter(range(100))

        async def sqlite_inbox() -> Intake:
            return await SQLiteIntake.open(Path(tmp) / f"intake-{next(counter)}.db", clock=utc_now)

        await run_one("sqlite", sqlite_inbox)
    databases: list[str] = []

    async def postgres_inbox() -> Intake:
        databases.append(pgqueue.create_database())
        return await PostgresIntake.open(pgqueue.url(databases[-1]), clock=utc_now, poll_interval=0.2)

    try:
        await run_one("postgres", postgres_inbox)
    finally:
        for name in databases:
            pgqueue.drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
