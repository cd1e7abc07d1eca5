"""The Postgres inbox with real worker processes on one database: a burst answered once each by
two workers (with retries), a worker killed with SIGKILL mid-delivery whose delivery another takes
over after the lease, and per-lane order kept through both."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.clock import utc_now
from core.intake.model import NewDelivery
from core.intake.postgres import PostgresIntake
from tests.core.intake import pg_worker, pgqueue

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LEASE_SECONDS = 2.0
WORKER = [sys.executable, "-m", "tests.core.intake.pg_worker"]


@pytest.fixture
def database() -> Iterator[str]:
    name = pgqueue.create_database()
    pgqueue.query(name, pg_worker.TABLES)
    try:
        yield name
    finally:
        pgqueue.drop_database(name)


@pytest.fixture
async def front_door(database: str) -> AsyncIterator[PostgresIntake]:
    """The web process's side: accepts, never serves (and installs the schema first)."""
    intake = await PostgresIntake.open(pgqueue.url(database), clock=utc_now)
    yield intake
    await intake.close()


@pytest.fixture
def workers(database: str) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(name: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [*WORKER, database, name, "--lease", str(LEASE_SECONDS)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "serving"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Wait for a condition another process makes true (the database is the only way to know)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def answers(database: str) -> list[tuple[str, str, str, int]]:
    rows = pgqueue.query(database, "SELECT key, lane, worker, attempt FROM answers ORDER BY seq")
    return [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


def serving_workers(database: str) -> int:
    return int(pgqueue.query(database, "SELECT count(*) FROM mnemo_intake.procrastinate_workers")[0][0])


def new(key: str, lane: str, **payload: object) -> NewDelivery:
    return NewDelivery(key=key, kind="test.message", lane=lane, payload=payload, received_at=T0)


def order_by_lane(rows: list[tuple[str, str, str, int]]) -> dict[str, list[int]]:
    lanes: dict[str, list[int]] = defaultdict(list)
    for key, lane, _, _ in rows:
        lanes[lane].append(int(key.rsplit(":", 1)[1]))
    return lanes


async def test_two_workers_answer_a_burst_of_500_once_each_in_lane_order_with_retries(
    database: str, front_door: PostgresIntake, workers: Callable[[str], subprocess.Popen[str]]
) -> None:
    workers("A")
    workers("B")
    await until(lambda: serving_workers(database) == 2, timeout=30, what="both workers")

    lanes = [f"lane-{n}" for n in range(25)]
    burst = [new(f"msg:{lane}:{i}", lane, fail_first=(i % 7 == 3)) for i in range(20) for lane in lanes]
    started = time.monotonic()
    # Every event arrives twice (a platform retry, or two front doors): accepted once.
    results = await asyncio.gather(*(front_door.accept(d) for d in burst + burst))
    assert sum(results) == 500

    await until(lambda: len(answers(database)) >= 500, timeout=120, what="500 answers")
    elapsed = time.monotonic() - started
    rows = answers(database)
    keys = [row[0] for row in rows]
    assert len(keys) == len(set(keys)) == 500  # none answered twice
    assert {row[2] for row in rows} == {"A", "B"}  # both took part
    retried = [row for row in rows if row[0].rsplit(":", 1)[1] in {"3", "10", "17"}]
    assert len(retried) == 75
    assert all(row[3] == 2 for row in retried)
    assert all(order == list(range(20)) for order in order_by_lane(rows).values())
    assert await front_door.pending() == 0
    print(f"\n500 deliveries (75 retried once) by 2 worker processes: {elapsed:.2f}s, {500 / elapsed:.0f}/s")


async def test_a_worker_killed_mid_delivery_is_taken_over_after_the_lease_in_lane_order(
    database: str, front_door: PostgresIntake, workers: Callable[[str], subprocess.Popen[str]]
) -> None:
    doomed = workers("A")
    await front_door.accept(new("msg:L:0", "L", hold_first=True))
    await until(
        lambda: bool(pgqueue.query(database, "SELECT 1 FROM started WHERE worker = 'A'")),
        timeout=30,
        what="worker A to start answering",
    )
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    killed_at = time.monotonic()
    # Queued while no worker is alive: answered after msg:L:0, in order, once a worker is back.
    for i in (1, 2):
        await front_door.accept(new(f"msg:L:{i}", "L"))
    await front_door.accept(new("msg:M:0", "M"))

    workers("B")
    await until(lambda: len(answers(database)) >= 4, timeout=60, what="the survivor's answers")
    taken_over = time.monotonic() - killed_at
    rows = answers(database)
    assert len(rows) == 4
    assert all(worker == "B" for _, _, worker, _ in rows)
    assert ("msg:L:0", "L", "B", 2) in rows  # the killed delivery, its second attempt
    assert order_by_lane(rows)["L"] == [0, 1, 2]
    assert await front_door.pending() == 0
    print(f"\ntaken over {taken_over:.2f}s after SIGKILL (lease {LEASE_SECONDS}s)")
