"""Recall latency on the PostgreSQL vector store (SUPABASE_DB_URL) as *other* people's memories grow.

1 user x 1 memory vs 1 memory among 9,900 others vs 100 users x 100 memories, top 8 for one user,
with the embedded SQLite store on the same corpora for reference; then the full
`MemoryService.recall` path (embedding on the loopback fake + mem0 + the Postgres store); then what
erasure costs: `erase_user` deletes the rows and rewrites the table (VACUUM FULL), so it grows with
the whole table, at the real embedding size (1536 dims).

Needs PostgreSQL (MNEMO_TEST_PG_DSN, default postgresql://postgres@127.0.0.1:5432/postgres); creates
and drops its own `mnemo_vec_*` database. Loopback: add your round-trip time to the database to
every recall (one query per recall).

    python bench/recall_scaling_postgres.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from _common import bench_core, summary
from recall_scaling import DIMS, QUERIES, corpus

from core.memory.vectors.postgres import PostgresVectorStore
from core.memory.vectors.sqlite import SQLiteVectorStore
from tests.core.memory import pgdb
from tests.fakes.openai_server import FakeOpenAI, embed_text

Row = tuple[str, str, list[float], dict[str, object]]
Store = SQLiteVectorStore | PostgresVectorStore


def load(store: Store, rows: list[Row]) -> None:
    for start in range(0, len(rows), 1000):
        batch = rows[start : start + 1000]
        store.insert([r[2] for r in batch], payloads=[r[3] for r in batch], ids=[r[0] for r in batch])


def time_search(store: Store, user_id: str) -> list[float]:
    query = embed_text("who likes jazz and tea", DIMS)
    times = []
    for _ in range(QUERIES):
        start = time.perf_counter()
        store.search("q", query, top_k=8, filters={"user_id": user_id})
        times.append((time.perf_counter() - start) * 1000)
    return times


def time_postgres(db: str, rows: list[Row], user_id: str) -> list[float]:
    pgdb.truncate(db)
    store = PostgresVectorStore(collection_name="bench", url=pgdb.url(db), embedding_model_dims=DIMS)
    try:
        load(store, rows)
        pgdb.query(db, "analyze mnemo.memory_vectors")
        return time_search(store, user_id)
    finally:
        store.close()


def time_sqlite(rows: list[Row], user_id: str) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteVectorStore(
            collection_name="bench", path=str(Path(tmp) / "v.db"), embedding_model_dims=DIMS
        )
        try:
            load(store, rows)
            return time_search(store, user_id)
        finally:
            store.close()


async def time_recall(fake: FakeOpenAI, db: str, rows: list[Row]) -> list[float]:
    pgdb.truncate(db)
    async with bench_core(fake, supabase_db_url=pgdb.url(db)) as core:
        store = core.memory._store  # type: ignore[attr-defined]
        load(store, rows)
        pgdb.query(db, "analyze mnemo.memory_vectors")
        account = uuid.UUID(int=1)
        times = []
        for _ in range(QUERIES // 2):
            start = time.perf_counter()
            await core.memory.recall(
                account, "who likes jazz and tea", include_private=True, limit=8, epoch=0
            )
            times.append((time.perf_counter() - start) * 1000)
        return times


def time_erasure(db: str, total: int, rounds: int = 3) -> tuple[list[float], float]:
    """erase_user of one person with 10 memories in a table of `total` 1536-dim vectors."""
    dims = 1536
    pgdb.truncate(db)
    store = PostgresVectorStore(collection_name="bench", url=pgdb.url(db), embedding_model_dims=dims)
    try:
        rng = np.random.default_rng(7)  # random vectors: real embeddings do not compress either
        others = [
            (str(uuid.uuid4()), {"user_id": f"u{i % 500}", "data": f"memory {i}", "created_at": "2026"})
            for i in range(total)
        ]
        for start in range(0, total, 500):
            batch = others[start : start + 500]
            store.insert(
                list(rng.standard_normal((len(batch), dims))),
                payloads=[b[1] for b in batch],
                ids=[b[0] for b in batch],
            )
        size_mb = float(
            pgdb.query(db, "select pg_total_relation_size('mnemo.memory_vectors')")[0][0] / 1e6  # type: ignore[operator]
        )
        times = []
        for r in range(rounds):
            person = f"erased{r}"
            store.insert(
                list(rng.standard_normal((10, dims))),
                payloads=[
                    {"user_id": person, "data": f"secret {k}", "created_at": "2026"} for k in range(10)
                ],
                ids=[str(uuid.uuid4()) for _ in range(10)],
            )
            start = time.perf_counter()
            store.erase_user(person)
            times.append((time.perf_counter() - start) * 1000)
        return times, size_mb
    finally:
        store.close()


async def main() -> None:
    db = pgdb.create_database()
    try:
        small = corpus(1, 1)
        crowd = corpus(100, 100, first_user=1)
        large = corpus(100, 100)
        target = str(uuid.UUID(int=1))
        print(f"vector search, top 8 for one user ({QUERIES} queries each)")
        for name, run in (
            ("postgres", lambda rows: time_postgres(db, rows, target)),
            ("sqlite", lambda rows: time_sqlite(rows, target)),
        ):
            one, others, many = run(small), run(crowd), run(large)
            base = statistics.median(one)
            print(f"  {name:9s} 1 user x 1:                  {summary(one)}")
            print(
                f"  {name:9s} 1 memory among 9,900 others: {summary(others)}   "
                f"ratio {statistics.median(others) / base:5.2f}"
            )
            print(
                f"  {name:9s} 100 users x 100:             {summary(many)}   "
                f"ratio {statistics.median(many) / base:5.2f}"
            )
        with FakeOpenAI() as fake:
            one = await time_recall(fake, db, small)
            many = await time_recall(fake, db, large)
        print("MemoryService.recall on Postgres (embedding on loopback + mem0 search + one query)")
        print(f"  1x1:     {summary(one)}")
        print(
            f"  100x100: {summary(many)}   ratio {statistics.median(many) / statistics.median(one):5.2f}"
            "   target <= 2"
        )
        print("erase_user (DELETE + VACUUM FULL) of 10 memories, 1536-dim vectors, by table size")
        for total in (1_000, 10_000):
            times, size_mb = time_erasure(db, total)
            print(f"  {total:6d} rows ({size_mb:6.1f} MB): {summary(times)}")
    finally:
        pgdb.drop_database(db)


if __name__ == "__main__":
    asyncio.run(main())
