"""Background jobs and health: what a run costs. Prints medians; loopback only.

- run-slot claim latency (the per-run cost of "exactly one process runs it"): embedded SQLite,
  and PostgreSQL on 127.0.0.1:5432 when it answers (a database of our own, dropped after);
- retry-memory-writes throughput against the fake model (extraction + embeddings per write);
- memory-housekeeping (consolidate) time for one account with 100 / 1,000 / 3,000 memories, 10%
  of them near duplicates;
- /readyz latency with every dependency up (no cache).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import bench_core, summary
from bot.scheduler import build_jobs
from bot.web import create_web_app
from core.jobs import RETRY_MEMORY_WRITES
from core.memory.service import Mem0Memory
from core.models import IdentityKey, MemoryOrigin, Platform
from core.storage.sqlite import SQLiteStore
from tests.fakes.openai_server import FakeOpenAI

CLAIMS = 500
PENDING = 200
SIZES = (100, 1000, 3000)


async def claim_latency_sqlite(path: Path) -> list[float]:
    store = await SQLiteStore.open(path)
    times = []
    try:
        for i in range(CLAIMS):
            begin = time.perf_counter()
            await store.claim_event(f"job:bench:{i}", now=datetime.now(UTC))
            times.append((time.perf_counter() - begin) * 1000)
    finally:
        await store.close()
    return times


async def claim_latency_postgres() -> list[float] | None:
    try:
        import psycopg
    except ImportError:
        return None
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = "mnemo_jobs_bench_" + secrets.token_hex(4)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'create database "{name}"')
    except psycopg.OperationalError:
        return None
    times = []
    try:
        dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(
                "create table processed_events (key text primary key, processed_at timestamptz not null)"
            )
            for i in range(CLAIMS):
                begin = time.perf_counter()
                cur = await conn.execute(
                    "insert into processed_events values (%s, %s) on conflict (key) do nothing returning 1",
                    (f"job:bench:{i}", datetime.now(UTC)),
                )
                await cur.fetchone()
                times.append((time.perf_counter() - begin) * 1000)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
    return times


async def retry_throughput(fake: FakeOpenAI) -> tuple[float, float]:
    async with bench_core(fake) as core:
        origin = MemoryOrigin(Platform.CONSOLE, "dm", True)
        now = datetime.now(UTC)
        accounts = [
            (await core.store.resolve_account(IdentityKey(Platform.CONSOLE, "bench", f"u{i}"))).id
            for i in range(20)
        ]
        for i in range(PENDING):
            await core.store.add_pending_write(
                account_id=accounts[i % len(accounts)],
                messages=[{"role": "user", "content": f"fact number {i} about topic {i % 7}"}],
                origin=origin,
                now=now,
                error="bench",
                epoch=0,
            )
        jobs = build_jobs(core)
        begin = time.perf_counter()
        written = 0
        while True:
            result = await jobs.run(RETRY_MEMORY_WRITES)
            written += result.counts["written"]
            if not result.did_something:
                break
        seconds = time.perf_counter() - begin
        assert written == PENDING, written
        return PENDING / seconds, seconds * 1000 / PENDING


def fill(memory: Mem0Memory, account: uuid.UUID, count: int, dims: int) -> None:
    """Insert memories straight into the vector store (mem0 add would cost a model call each)."""
    store = memory._store
    rng = np.random.default_rng(7)
    base = rng.normal(size=(count, dims)).astype(np.float32)
    near = rng.choice(count, size=count // 10, replace=False)
    vectors = base.copy()
    for i in near:  # a near duplicate of another memory
        vectors[i] = base[(i + 1) % count] + rng.normal(scale=0.05, size=dims)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids, payloads = [], []
    for i in range(count):
        ids.append(str(uuid.uuid4()))
        payloads.append(
            {
                "data": f"memory {i}",
                "hash": f"h{i}",
                "user_id": str(account),
                "run_id": "private",
                "is_private": True,
                "created_at": (start + timedelta(minutes=i)).isoformat(),
            }
        )
    store.insert(vectors=list(vectors), payloads=payloads, ids=ids)


async def consolidation(fake: FakeOpenAI) -> list[tuple[int, float, int]]:
    rows = []
    for size in SIZES:
        async with bench_core(fake) as core:
            assert isinstance(core.memory, Mem0Memory)
            account = uuid.uuid4()
            await asyncio.to_thread(fill, core.memory, account, size, core.settings.embedding_dims)
            begin = time.perf_counter()
            merged = await core.memory.consolidate(account, similarity=0.9, epoch=0)
            rows.append((size, (time.perf_counter() - begin) * 1000, merged))
    return rows


async def readyz_latency(fake: FakeOpenAI) -> list[float]:
    import httpx

    async with bench_core(fake) as core:
        app = create_web_app(core, readiness_cache_seconds=0.0)
        times = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http:
            for _ in range(100):
                begin = time.perf_counter()
                response = await http.get("/readyz")
                times.append((time.perf_counter() - begin) * 1000)
                assert response.status_code == 200, json.dumps(response.json())
        return times


async def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(f"claim one run slot, SQLite:      {summary(await claim_latency_sqlite(Path(tmp) / 'c.db'))}")
    pg = await claim_latency_postgres()
    print(f"claim one run slot, PostgreSQL:  {summary(pg) if pg else 'skipped (no server)'}")
    with FakeOpenAI() as fake:
        per_second, per_write = await retry_throughput(fake)
        print(f"retry-memory-writes: {per_second:6.1f} writes/s ({per_write:.1f} ms per write, n={PENDING})")
        for size, ms, merged in await consolidation(fake):
            print(f"consolidate one account, {size:5d} memories: {ms:8.1f} ms ({merged} merged)")
        times = await readyz_latency(fake)
        print(f"/readyz (storage + memory + model ping): {summary(times)}")
        print(f"median /readyz: {statistics.median(times):.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
