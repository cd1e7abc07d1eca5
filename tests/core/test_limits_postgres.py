"""core/limits_postgres.py: token buckets and counted slots in Postgres, shared by every process
(here: several PostgresLimits on one throwaway database, as several processes would have)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.wiring import open_limits
from config import ConfigError, Settings
from core.errors import StorageError
from core.limits_postgres import PostgresLimits
from tests.core.intake import pgqueue

PASSWORD = "pw-Secr3t-do-not-print"


class Clock:
    """Epoch seconds, moved by the test (the buckets' refill)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def database() -> Iterator[str]:
    name = pgqueue.create_database()
    try:
        yield name
    finally:
        pgqueue.drop_database(name)


@pytest.fixture
async def processes(database: str) -> AsyncIterator[Callable[..., Awaitable[PostgresLimits]]]:
    opened: list[PostgresLimits] = []

    async def open_one(**options: object) -> PostgresLimits:
        limits = await PostgresLimits.open(pgqueue.url(database), **options)  # type: ignore[arg-type]
        opened.append(limits)
        return limits

    yield open_one
    for limits in opened:
        await limits.close()


async def test_processes_draw_from_one_bucket_that_refills_and_caps(
    processes: Callable[..., Awaitable[PostgresLimits]],
) -> None:
    clock = Clock()
    first, second = await processes(clock=clock), await processes(clock=clock)
    rate = 3 / 60  # 3 a minute

    takes = [
        await limits.take("api", "sub-1", capacity=3, rate=rate) for limits in (first, second, first, second)
    ]
    other = await second.take("api", "sub-2", capacity=3, rate=rate)
    clock.now += 20  # one token's worth
    refilled = await second.take("api", "sub-1", capacity=3, rate=rate)
    empty_again = await first.take("api", "sub-1", capacity=3, rate=rate)
    clock.now += 3600
    capped = [(await first.take("api", "sub-1", capacity=3, rate=rate)).allowed for _ in range(4)]

    assert [t.allowed for t in takes] == [True, True, True, False]
    assert [round(t.tokens, 6) for t in takes] == [2, 1, 0, 0]
    assert other.allowed
    assert refilled.allowed
    assert not empty_again.allowed
    assert capped == [True, True, True, False]


async def test_a_token_given_back_counts_once_and_never_past_capacity(
    database: str, processes: Callable[..., Awaitable[PostgresLimits]]
) -> None:
    clock = Clock()
    first, second = await processes(clock=clock), await processes(clock=clock)
    for _ in range(2):
        await first.take("login", "a@example.com", capacity=2, rate=0.001)
    for _ in range(3):  # one more than was taken: capped
        await second.give_back("login", "a@example.com", capacity=2, rate=0.001)
    await second.give_back("login", "never-taken", capacity=2, rate=0.001)  # adds no row
    allowed = [(await first.take("login", "a@example.com", capacity=2, rate=0.001)).allowed for _ in range(3)]
    assert allowed == [True, True, False]
    # One row (the never-taken key added none), and the email is kept as a hash only.
    [(key,)] = pgqueue.query(database, "SELECT key FROM mnemo_limits.buckets")
    assert "example" not in key


async def test_the_database_clock_is_used_without_a_test_clock(
    processes: Callable[..., Awaitable[PostgresLimits]],
) -> None:
    limits = await processes()
    results = [(await limits.take("api", "k", capacity=2, rate=1 / 3600)).allowed for _ in range(3)]
    assert results == [True, True, False]


async def test_slots_are_shared_and_a_freed_one_goes_to_a_waiting_process(
    processes: Callable[..., Awaitable[PostgresLimits]],
) -> None:
    first, second = await processes(poll_interval=0.02), await processes(poll_interval=0.02)
    held = contextlib.AsyncExitStack()
    await held.enter_async_context(first.slot("replies", 2))
    await held.enter_async_context(second.slot("replies", 2))
    admitted = asyncio.Event()

    async def third() -> None:
        async with second.slot("replies", 2):
            admitted.set()

    waiting = asyncio.create_task(third())
    tries_before = second.tries
    while second.tries < tries_before + 3:  # it has looked, and looked again: the limit holds
        await asyncio.sleep(0.01)
    assert not admitted.is_set()
    await held.aclose()  # both released (one by each process)
    await asyncio.wait_for(admitted.wait(), timeout=10)
    await waiting


async def test_a_dead_process_slot_expires_after_its_lease(
    database: str, processes: Callable[..., Awaitable[PostgresLimits]]
) -> None:
    survivor = await processes(poll_interval=0.02)
    # What a process killed while holding the only slot leaves behind: a row nobody renews.
    await survivor.take("warm-up", "k", capacity=1, rate=1)  # the schema exists
    pgqueue.query(
        database,
        "INSERT INTO mnemo_limits.slots (name, holder, process, expires_at) "
        "VALUES ('replies', 'dead-holder', 'dead-process', now() + interval '300 milliseconds')",
    )
    async with asyncio.timeout(10), survivor.slot("replies", 1):
        rows = pgqueue.query(database, "SELECT holder FROM mnemo_limits.slots")
    assert "dead-holder" not in [r[0] for r in rows]


async def test_a_held_slot_is_renewed_past_its_lease(
    database: str, processes: Callable[..., Awaitable[PostgresLimits]]
) -> None:
    holder = await processes(lease=timedelta(seconds=1), poll_interval=0.02)
    other = await processes(poll_interval=0.02)
    async with holder.slot("replies", 1):
        [(first_expiry,)] = pgqueue.query(database, "SELECT expires_at FROM mnemo_limits.slots")
        # Until the slot is older than its first lease: only renewals by its process keep it.
        while not pgqueue.query(database, "SELECT now() > %s", (first_expiry,))[0][0]:
            await asyncio.sleep(0.05)
        tries = other.tries
        attempt = asyncio.create_task(enter(other))
        while other.tries < tries + 2:
            await asyncio.sleep(0.01)
        assert not attempt.done()  # still held
    await asyncio.wait_for(attempt, timeout=10)


async def enter(limits: PostgresLimits) -> None:
    async with limits.slot("replies", 1):
        pass


async def test_a_failing_database_is_a_storage_error(database: str) -> None:
    limits = await PostgresLimits.open(pgqueue.url(database))
    pgqueue.drop_database(database)
    with pytest.raises(StorageError, match="shared limits: rate limit failed"):
        await limits.take("api", "k", capacity=1, rate=1)
    # Then at once for a while: a request does not wait on a database that just failed.
    with pytest.raises(StorageError, match="failed moments ago"):
        await limits.take("api", "k", capacity=1, rate=1)
    await limits.close()


async def test_bad_input_is_refused_clearly(processes: Callable[..., Awaitable[PostgresLimits]]) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/mnemo_q_does_not_exist"
    with pytest.raises(ConfigError, match="SUPABASE_DB_URL: cannot use the database") as caught:
        await PostgresLimits.open(url)
    assert PASSWORD not in str(caught.value)
    limits = await processes()
    with pytest.raises(ValueError, match="limit must be >= 1"):
        async with limits.slot("x", 0):
            pass


async def test_the_wiring_shares_limits_only_with_supabase_db_url(database: str, tmp_path: Path) -> None:
    base = {"openai_base_url": "http://127.0.0.1:9/v1", "openai_api_key": "k", "data_dir": tmp_path}
    with_db = Settings(_env_file=None, supabase_db_url=pgqueue.url(database), **base)  # type: ignore[call-arg]
    shared = await open_limits(with_db)
    assert isinstance(shared, PostgresLimits)
    await shared.close()
    assert await open_limits(Settings(_env_file=None, **base)) is None  # type: ignore[call-arg]
