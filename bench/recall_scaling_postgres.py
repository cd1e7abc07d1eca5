"""Recall, forget and the scheduled purge on the PostgreSQL vector store (SUPABASE_DB_URL), at the
real embedding size (1536 dims): core/memory/vectors/postgres*.py, words in mnemo.memory_texts,
vectors in mnemo.memory_vectors with an HNSW index (pgvector 0.8 iterative scans).

Printed side by side in one run:
- recall p50 for a person with 5,000 memories vs a person with 50, among 20,000 other people's
  memories (target: at most 2x), with mem0's fetch size (top 60 for 8 memories per prompt), through
  the heavy person's own HNSW index (core/memory/vectors/postgres_personal.py, built here as the
  index-memory-vectors job builds it), through the shared one alone, and with the exact scan; how
  many of the index's top 60 are the exact top 60; and the bytes one recall moves: the query vector
  sent plus the rows returned (target: at most 100 KB);
- forget p50 (delete + what MemoryService calls after it) with 100,000 other people's memories in
  the table vs 1,000 (target: at most 1.5x);
- the scheduled purge after those forgets (VACUUM FULL of the text table, plain VACUUM of the
  vector table): how long it takes, and the longest a recall running meanwhile took (how long it
  was blocked), next to a recall's p50 with nothing else running.

Needs the pgvector test server (tests/supabase/pgvector_server.py, started if needed) or
MNEMO_TEST_PG_DSN, with pgvector 0.8 or later; creates and drops its own `mnemo_vec_*` database.
Loopback: add your round-trip time to the database to every call. Takes a few minutes (building the
HNSW index over 100,000 rows is most of it).

    python bench/recall_scaling_postgres.py
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import psycopg

from core.memory.vectors.postgres import PostgresVectorStore
from core.memory.vectors.postgres_index import index_sql
from core.memory.vectors.postgres_personal import PersonalIndexes
from core.memory.vectors.postgres_purge import VectorPurge
from core.memory.vectors.postgres_schema import vector_schema
from tests.core.memory import pgdb

DIMS = 1536
FETCH = 60  # mem0 2.2.1 asks the store for max(4 * limit, 60)
RUNS = 200

# Embeddings of real text cluster by topic; uniformly random vectors (every pair about orthogonal,
# the nearest barely nearer than the rest) are the worst case for an HNSW index. Rows here are one
# of TOPICS random centers plus as much noise again (cosine to its center about 0.7, to another
# memory of the topic about 0.5, to other topics about 0); a realistic query is near a topic.
TOPICS = 50

# One memory per i, both tables: person `user` || (i % users), a short text, topic i % TOPICS. Unit
# vectors, as the store writes them (it normalizes): the index ranks by cosine and the score is the
# inner product, which agree only then.
FILL = """
with rows as (
    select i, %(prefix)s || i as id, %(user)s || (i %% %(users)s) as u, lpad(i::text, 8, '0') as t,
           'memory number ' || i || ' about tea, jazz and the weekend' as words
      from generate_series(1, %(n)s) as i
), vectors as (
    insert into mnemo.memory_vectors (collection, id, user_id, created_at, vector)
    select 'mnemo', id, u, t,
           l2_normalize((select array_agg(c.x + random() - 0.5 + 0 * i order by c.n)::real[]::vector
                           from bench_centers b, unnest(b.v) with ordinality as c(x, n)
                          where b.t = i %% {topics}))
      from rows
)
insert into mnemo.memory_texts (collection, id, user_id, created_at, payload, tsv)
select 'mnemo', id, u, t, json_build_object('user_id', u, 'data', words, 'created_at', t),
       to_tsvector('english', words)
  from rows
""".replace("{topics}", str(TOPICS))


def fill(db: str, *, prefix: str, user: str, users: int, n: int) -> None:
    params = {"prefix": prefix, "user": user, "users": users, "n": n}
    pgdb.query(db, FILL, params)  # type: ignore[arg-type]


def build_index(db: str) -> None:
    """The index the store would build at start, built here in one go with more memory (faster)."""
    with psycopg.connect(pgdb.dsn(db), autocommit=True) as conn:
        conn.execute("set maintenance_work_mem = '1GB'")
        conn.execute(index_sql(vector_schema(conn) or "public", DIMS, concurrently=False))
        conn.execute("vacuum analyze mnemo.memory_vectors")
        conn.execute("vacuum analyze mnemo.memory_texts")


def centers(db: str) -> np.ndarray:
    rng = np.random.default_rng(1)
    points = (rng.random((TOPICS, DIMS)) - 0.5).astype(np.float32)
    pgdb.query(db, "create table public.bench_centers (t int primary key, v real[] not null)")
    for t, v in enumerate(points):
        pgdb.query(db, "insert into public.bench_centers values (%s, %s)", (t, v.tolist()))
    return points


def p50(times: list[float]) -> float:
    return statistics.median(times)


def queries(n: int, seed: int = 7, topics: np.ndarray | None = None) -> list[np.ndarray]:
    """Near a topic (as a memory of it is) or, without topics, uniformly random."""
    rng = np.random.default_rng(seed)
    if topics is None:
        return [rng.standard_normal(DIMS).astype(np.float32) for _ in range(n)]
    return [(topics[i % TOPICS] + rng.random(DIMS) - 0.5).astype(np.float32) for i in range(n)]


def recall_times(store: PostgresVectorStore, user: str, topics: np.ndarray | None) -> tuple[list[float], int]:
    times, moved = [], 0
    for query in queries(RUNS, topics=topics):
        start = time.perf_counter()
        found = store.search("q", query, top_k=FETCH, filters={"user_id": user, "epoch": 0})
        times.append((time.perf_counter() - start) * 1000)
        # Sent: the query vector (binary float32). Returned: id, payload (json text), score per row.
        moved = 4 * DIMS + sum(len(r.id) + len(json.dumps(r.payload)) + 8 for r in found)
    return times, moved


def overlap(
    indexed: PostgresVectorStore, exact: PostgresVectorStore, user: str, topics: np.ndarray | None
) -> float:
    """The share of the exact top 60 that the index's top 60 holds, averaged over queries."""
    shares = []
    for query in queries(50, seed=11, topics=topics):
        filters = {"user_id": user}
        got = {r.id for r in indexed.search("q", query, top_k=FETCH, filters=filters)}
        want = {r.id for r in exact.search("q", query, top_k=FETCH, filters=filters)}
        shares.append(len(got & want) / len(want))
    return statistics.mean(shares)


def forget_times(store: PostgresVectorStore, prefix: str) -> list[float]:
    times = []
    for i in range(1, RUNS + 1):
        start = time.perf_counter()
        store.delete(f"{prefix}{i}")
        store.purge()  # what MemoryService.forget calls after the delete
        times.append((time.perf_counter() - start) * 1000)
    return times


def purge_with_recalls(
    db: str, store: PostgresVectorStore, user: str, centers_for_purge: np.ndarray
) -> tuple[float, float, int]:
    """The purge's duration, the longest recall that ran during it, and how many ran."""
    done = threading.Event()
    took: list[float] = []

    def run() -> None:
        start = time.perf_counter()
        VectorPurge(pgdb.url(db)).run()
        took.append((time.perf_counter() - start) * 1000)
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    longest, count = 0.0, 0
    probes = queries(50, seed=3, topics=centers_for_purge)
    while not done.is_set():
        start = time.perf_counter()
        store.search("q", probes[count % len(probes)], top_k=FETCH, filters={"user_id": user})
        longest = max(longest, (time.perf_counter() - start) * 1000)
        count += 1
    worker.join()
    return took[0], longest, count


def main() -> None:
    db = pgdb.create_database()
    url = pgdb.url(db)
    PostgresVectorStore(collection_name="mnemo", url=url, embedding_model_dims=DIMS).close()  # tables
    topics = centers(db)
    pgdb.query(db, f"drop index mnemo.memory_vectors_hnsw_{DIMS}")  # built after the rows, below
    try:
        # Recall: one person with 5,000 memories, one with 50, among 20,000 of 200 other people.
        fill(db, prefix="heavy-", user="heavy", users=1, n=5000)
        fill(db, prefix="light-", user="light", users=1, n=50)
        fill(db, prefix="crowd-", user="crowd", users=200, n=20_000)
        build_index(db)
        [(buffers,)] = pgdb.query(db, "show shared_buffers")
        store = PostgresVectorStore(collection_name="mnemo", url=url, embedding_model_dims=DIMS)
        exact = PostgresVectorStore(
            collection_name="mnemo", url=url, embedding_model_dims=DIMS, exact_recall=True
        )
        assert store.index_plan.index is not None, "needs pgvector 0.8+ (the HNSW index)"
        heavy_shared, _ = recall_times(store, "heavy0", topics)  # through the shared index
        changes = PersonalIndexes(url, dims=DIMS).run()  # what the index-memory-vectors job does
        assert changes.built == 1, changes  # the heavy person's own index; nobody else has 1,000
        heavy, heavy_bytes = recall_times(store, "heavy0", topics)
        light, light_bytes = recall_times(store, "light0", topics)
        heavy_exact, _ = recall_times(exact, "heavy0", topics)
        light_exact, _ = recall_times(exact, "light0", topics)
        heavy_random, _ = recall_times(store, "heavy0", None)
        share = overlap(store, exact, "heavy0", topics)
        share_random = overlap(store, exact, "heavy0", None)
        exact.close()

        # Forget: the person's own 200 memories among 1,000 others', then among 100,000 others'.
        pgdb.truncate(db)
        fill(db, prefix="own-", user="me", users=1, n=RUNS)
        fill(db, prefix="other-", user="other", users=100, n=1_000)
        pgdb.query(db, "vacuum analyze mnemo.memory_vectors")
        small = forget_times(store, "own-")
        purge_small, blocked_small, _ = purge_with_recalls(db, store, "other0", topics)
        pgdb.truncate(db)
        pgdb.query(db, f"drop index mnemo.memory_vectors_hnsw_{DIMS}")
        fill(db, prefix="own-", user="me", users=1, n=RUNS)
        fill(db, prefix="other-", user="other", users=1000, n=100_000)
        build_index(db)
        large = forget_times(store, "own-")
        quiet, _ = recall_times(store, "other0", topics)
        purge_large, blocked_large, during = purge_with_recalls(db, store, "other0", topics)
        store.close()
    finally:
        pgdb.drop_database(db)

    print(
        f"PostgreSQL + pgvector, {DIMS} dims, top {FETCH} per recall, medians of {RUNS}, "
        f"shared_buffers {buffers} (HNSW needs its index in memory)"
    )
    print(f"{'':50}{'baseline':>12}{'scaled':>12}{'ratio':>8}{'target':>9}")
    print(
        f"{'recall p50 (ms), HNSW: 50 vs 5,000 memories':50}{p50(light):12.2f}{p50(heavy):12.2f}"
        f"{p50(heavy) / p50(light):8.2f}{'<= 2x':>9}"
    )
    print(
        f"{'  the same, shared index only (no own index)':50}{'':12}{p50(heavy_shared):12.2f}"
        f"{p50(heavy_shared) / p50(light):8.2f}"
    )
    print(
        f"{'recall p50 (ms), exact scan: 50 vs 5,000':50}{p50(light_exact):12.2f}{p50(heavy_exact):12.2f}"
        f"{p50(heavy_exact) / p50(light_exact):8.2f}"
    )
    print(f"{'  (20,000 other people s memories in the table, queries near a topic)':50}")
    print(f"{'HNSW top 60 that are the exact top 60 (5,000)':50}{'':12}{share:12.1%}")
    print(
        f"{'  the same, uniformly random queries (worst case)':50}{'':12}{share_random:12.1%}"
        f"{'':8}  (p50 {p50(heavy_random):.2f} ms)"
    )
    print(
        f"{'bytes per recall (KB): 50 vs 5,000':50}{light_bytes / 1024:12.1f}{heavy_bytes / 1024:12.1f}"
        f"{'':8}{'<= 100':>9}"
    )
    print(
        f"{'forget p50 (ms): 1,000 vs 100,000 others':50}{p50(small):12.2f}{p50(large):12.2f}"
        f"{p50(large) / p50(small):8.2f}{'<= 1.5x':>9}"
    )
    print(f"{'scheduled purge (ms): 1,000 vs 100,000 others':50}{purge_small:12.0f}{purge_large:12.0f}")
    print(
        f"{'longest recall during the purge (ms)':50}{blocked_small:12.1f}{blocked_large:12.1f}"
        f"{'':8}  ({during} recalls ran during it; p50 {p50(quiet):.2f} ms without it)"
    )


if __name__ == "__main__":
    main()
