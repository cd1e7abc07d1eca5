"""Recall and forget on the PostgreSQL vector store (SUPABASE_DB_URL), with pgvector ranking in the
database (core/memory/vectors/postgres.py), at the real embedding size (1536 dims).

Printed side by side in one run:
- recall p50 for a person with 5,000 memories vs a person with 50 (target: at most 2x), with
  mem0's fetch size (top 60 for 8 memories per prompt), and the bytes one recall moves: the query
  vector sent plus the rows returned (target: at most 100 KB);
- forget p50 (delete + what MemoryService calls after it) with 100,000 other people's memories in
  the table vs 1,000 (target: at most 1.5x), and the scheduled purge (VACUUM FULL) it no longer runs.

Needs the pgvector test server (tests/supabase/pgvector_server.py, started if needed) or
MNEMO_TEST_PG_DSN; creates and drops its own `mnemo_vec_*` database. Loopback: add your round-trip
time to the database to every call.

    python bench/recall_scaling_postgres.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from core.memory.vectors.postgres import PostgresVectorStore
from core.memory.vectors.postgres_purge import VectorPurge
from tests.core.memory import pgdb

DIMS = 1536
FETCH = 60  # mem0 2.2.1 asks the store for max(4 * limit, 60)
RUNS = 200

# One row per i: person `user`, a short memory, a random vector (or a constant one: cheaper to make).
FILL = """
insert into mnemo.memory_vectors (collection, id, user_id, created_at, payload, vector, tsv)
select 'mnemo', %(prefix)s || i, %(user)s || (i %% %(users)s), lpad(i::text, 8, '0'),
       json_build_object('user_id', %(user)s || (i %% %(users)s), 'data', 'memory number ' || i
                         || ' about tea, jazz and the weekend', 'created_at', lpad(i::text, 8, '0')),
       {vector}, to_tsvector('english', 'memory number ' || i || ' about tea, jazz and the weekend')
  from generate_series(1, %(n)s) as i
"""
RANDOM_VECTOR = (
    f"(select array_agg(random() - 0.5 + 0 * d + 0 * i)::real[]::vector from generate_series(1, {DIMS}) as d)"
)
CONSTANT_VECTOR = f"array_fill(0.1, array[{DIMS}])::real[]::vector"


def fill(db: str, *, prefix: str, user: str, users: int, n: int, random: bool) -> None:
    sql = FILL.replace("{vector}", RANDOM_VECTOR if random else CONSTANT_VECTOR)
    pgdb.query(db, sql, {"prefix": prefix, "user": user, "users": users, "n": n})  # type: ignore[arg-type]
    pgdb.query(db, "vacuum analyze mnemo.memory_vectors")


def p50(times: list[float]) -> float:
    return statistics.median(times)


def recall_times(store: PostgresVectorStore, user: str) -> tuple[list[float], int]:
    rng = np.random.default_rng(7)
    times, moved = [], 0
    for _ in range(RUNS):
        query = rng.standard_normal(DIMS).astype(np.float32)
        start = time.perf_counter()
        found = store.search("q", query, top_k=FETCH, filters={"user_id": user, "epoch": 0})
        times.append((time.perf_counter() - start) * 1000)
        # Sent: the query vector (binary float32). Returned: id, payload (json text), score per row.
        moved = 4 * DIMS + sum(len(r.id) + len(json.dumps(r.payload)) + 8 for r in found)
    return times, moved


def forget_times(db: str, store: PostgresVectorStore, prefix: str) -> list[float]:
    times = []
    for i in range(1, RUNS + 1):
        start = time.perf_counter()
        store.delete(f"{prefix}{i}")
        store.purge()  # what MemoryService.forget calls after the delete
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    db = pgdb.create_database()
    store = PostgresVectorStore(collection_name="mnemo", url=pgdb.url(db), embedding_model_dims=DIMS)
    try:
        # Recall: one person with 5,000 memories, one with 50, in one table.
        fill(db, prefix="heavy-", user="heavy", users=1, n=5000, random=True)
        fill(db, prefix="light-", user="light", users=1, n=50, random=True)
        heavy, heavy_bytes = recall_times(store, "heavy0")
        light, light_bytes = recall_times(store, "light0")

        # Forget: the person's own 1,000 memories among 1,000 others', then among 100,000 others'.
        pgdb.truncate(db)
        fill(db, prefix="own-", user="me", users=1, n=RUNS, random=False)
        fill(db, prefix="other-", user="other", users=100, n=1_000, random=False)
        small = forget_times(db, store, "own-")
        start = time.perf_counter()
        VectorPurge(pgdb.url(db)).run()
        purge_small = (time.perf_counter() - start) * 1000
        pgdb.truncate(db)
        fill(db, prefix="own-", user="me", users=1, n=RUNS, random=False)
        fill(db, prefix="other-", user="other", users=1000, n=100_000, random=False)
        large = forget_times(db, store, "own-")
        start = time.perf_counter()
        VectorPurge(pgdb.url(db)).run()
        purge_large = (time.perf_counter() - start) * 1000
    finally:
        store.close()
        pgdb.drop_database(db)

    print(f"PostgreSQL + pgvector, {DIMS} dims, top {FETCH} per recall, medians of {RUNS}")
    print(f"{'':44}{'baseline':>14}{'scaled':>14}{'ratio':>8}{'target':>9}")
    print(
        f"{'recall p50 (ms): 50 vs 5,000 memories':44}{p50(light):14.2f}{p50(heavy):14.2f}"
        f"{p50(heavy) / p50(light):8.2f}{'<= 2x':>9}"
    )
    print(
        f"{'bytes per recall (KB): 50 vs 5,000':44}{light_bytes / 1024:14.1f}{heavy_bytes / 1024:14.1f}"
        f"{'':8}{'<= 100':>9}"
    )
    print(
        f"{'forget p50 (ms): 1,000 vs 100,000 others':44}{p50(small):14.2f}{p50(large):14.2f}"
        f"{p50(large) / p50(small):8.2f}{'<= 1.5x':>9}"
    )
    print(
        f"{'scheduled purge, VACUUM FULL (ms)':44}{purge_small:14.0f}{purge_large:14.0f}"
        f"{purge_large / purge_small:8.1f}{'(batch)':>9}"
    )


if __name__ == "__main__":
    main()
