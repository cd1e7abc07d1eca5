"""An HNSW index of their own for people with many memories (core.memory.vectors.postgres_personal):
built for people at or above min_rows, used by recall for them (and only them), kept down to
keep_rows, dropped once they have none left or fewer than that, rebuilt when a build was left
invalid; one runner at a time. Each test has a database of its own: an index left behind in the
shared one would change other tests' plans."""

from __future__ import annotations

import logging

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from psycopg import sql

from core.memory.vectors.postgres import PostgresVectorStore
from core.memory.vectors.postgres_personal import (
    LOCK_KEY,
    IndexChanges,
    PersonalIndexes,
    personal_index_name,
)
from core.memory.vectors.postgres_queries import filters_sql
from core.memory.vectors.postgres_recall import either_statement
from tests.core.memory import pgdb
from tests.core.memory.vectors.test_postgres import migrate, open_store
from tests.supabase import pg

DIMS = 32
K = 10
PUBLIC = {"user_id": "alice", "is_private": False}


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def fill(store: PostgresVectorStore, user: str, n: int, *, seed: int, private_every: int = 0) -> None:
    rng = np.random.default_rng(seed)
    ids = [f"{user}-{i}" for i in range(n)]
    payloads = [
        {"user_id": user, "data": vid, "is_private": bool(private_every and i % private_every == 0)}
        for i, vid in enumerate(ids)
    ]
    store.insert([unit(rng.standard_normal(DIMS)) for _ in ids], payloads=payloads, ids=ids)


def indexes(db: str) -> dict[str, tuple[bool, str]]:
    rows = pgdb.query(
        db,
        "select c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) from pg_index i "
        "join pg_class c on c.oid = i.indexrelid "
        "where i.indrelid = 'mnemo.memory_vectors'::regclass and c.relname like '%%\\_p\\_%%'",
    )
    return {name: (valid, definition) for name, valid, definition in rows}


def recall_plan(db: str, user: str, probe: np.ndarray) -> str:
    """The plan recall runs for `user` (the same statement, parameters and settings)."""
    where, params = filters_sql({"user_id": user, "is_private": False})
    statement = sql.SQL("explain ") + either_statement(sql.Identifier("public"), DIMS, where)
    with psycopg.connect(pgdb.dsn(db)) as conn:
        register_vector(conn)
        conn.execute("set hnsw.iterative_scan = relaxed_order")
        args = (
            *(K, "mnemo", user, K + 1),
            *(probe, "mnemo", user, *params, probe, K + 1),
            *(probe, "mnemo", user, DIMS, *params, K),
        )
        return "\n".join(row[0] for row in conn.execute(statement, args).fetchall())


def job(db: str, **limits: int) -> PersonalIndexes:
    return PersonalIndexes(pgdb.url(db), dims=DIMS, **({"min_rows": 200, "keep_rows": 100} | limits))


def test_a_person_with_many_memories_gets_an_index_of_their_own_and_recall_uses_it(
    fresh_database: str,
) -> None:
    db = fresh_database
    store = open_store(db, dims=DIMS)
    exact = PostgresVectorStore(
        collection_name="mnemo", url=pgdb.url(db), embedding_model_dims=DIMS, exact_recall=True
    )
    try:
        fill(store, "alice", 300, seed=1, private_every=10)
        fill(store, "bob", 150, seed=2)  # under min_rows: no index of his own
        for n in range(20):
            fill(store, f"other{n}", 40, seed=10 + n)
        pgdb.query(db, "analyze mnemo.memory_vectors; analyze mnemo.memory_texts")

        assert job(db).run() == IndexChanges(built=1, dropped=0)
        name = personal_index_name(DIMS, "mnemo", "alice")
        [(found, (valid, definition))] = indexes(db).items()
        assert found == name
        assert valid
        assert "alice" not in name  # a hash, not the person's id
        assert "USING hnsw" in definition
        assert "user_id = 'alice'::text" in definition
        assert job(db).run() == IndexChanges()  # nothing more to do

        probe = unit(np.random.default_rng(7).standard_normal(DIMS))
        assert f"Index Scan using {name}" in recall_plan(db, "alice", probe)
        assert name not in recall_plan(db, "bob", probe)
        got = store.search("q", probe, top_k=K, filters=PUBLIC)
        want = exact.search("q", probe, top_k=K, filters=PUBLIC)
        assert len(got) == K
        assert all(r.payload["user_id"] == "alice" and r.payload["is_private"] is False for r in got)
        assert len({r.id for r in got} & {r.id for r in want}) >= K - 1
    finally:
        store.close()
        exact.close()


def test_the_index_stays_down_to_keep_rows_and_goes_when_the_person_is_erased(
    fresh_database: str,
) -> None:
    db = fresh_database
    store = open_store(db, dims=DIMS)
    try:
        fill(store, "alice", 220, seed=1)
        assert job(db).run().built == 1
        for i in range(100):  # 120 left: under min_rows, over keep_rows
            store.delete(f"alice-{i}")
        assert job(db).run() == IndexChanges()
        assert list(indexes(db)) == [personal_index_name(DIMS, "mnemo", "alice")]

        assert store.erase_user("alice") == 120
        assert job(db).run() == IndexChanges(built=0, dropped=1)
        assert indexes(db) == {}
    finally:
        store.close()


def test_an_interrupted_build_is_dropped_and_built_again(fresh_database: str) -> None:
    db = fresh_database
    store = open_store(db, dims=DIMS)
    try:
        fill(store, "alice", 220, seed=1)
        assert job(db).run().built == 1
        name = personal_index_name(DIMS, "mnemo", "alice")
        # What CREATE INDEX CONCURRENTLY leaves when it is interrupted: an invalid index.
        pgdb.query(
            db, "update pg_index set indisvalid = false where indexrelid = %s::regclass", (f"mnemo.{name}",)
        )
        assert job(db).run() == IndexChanges(built=1, dropped=0)
        assert indexes(db)[name][0] is True
    finally:
        store.close()


def test_a_few_builds_per_run_and_one_runner_at_a_time(fresh_database: str) -> None:
    db = fresh_database
    store = open_store(db, dims=DIMS)
    try:
        for n in range(3):
            fill(store, f"heavy{n}", 210, seed=n)
        with psycopg.connect(pgdb.dsn(db), autocommit=True) as other:
            other.execute("select pg_advisory_lock(%s)", (LOCK_KEY,))  # another process is at it
            assert job(db).run() == IndexChanges()
            other.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))
        assert job(db, max_builds=2).run().built == 2
        assert job(db, max_builds=2).run().built == 1
        assert len(indexes(db)) == 3

        stops = iter([False, True])  # the deadline comes after the first build
        for n in range(3, 5):
            fill(store, f"heavy{n}", 210, seed=n)
        assert job(db).run(lambda: next(stops)).built == 1
    finally:
        store.close()


def test_nothing_to_do_where_the_store_never_ran(fresh_database: str) -> None:
    assert job(fresh_database).run() == IndexChanges()


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="keep_rows"):
        PersonalIndexes("postgresql://127.0.0.1:1/x", dims=DIMS, min_rows=100, keep_rows=200)
    with pytest.raises(ValueError, match="keep_rows"):
        PersonalIndexes("postgresql://127.0.0.1:1/x", dims=DIMS, keep_rows=0)


def test_a_person_whose_id_needs_quoting_gets_a_working_index(fresh_database: str) -> None:
    db = fresh_database
    store = open_store(db, dims=DIMS)
    user = 'acct:o\'hara "x"; drop table mnemo.memory_texts; --é'
    try:
        fill(store, user, 210, seed=4)
        for n in range(10):
            fill(store, f"other{n}", 40, seed=20 + n)
        pgdb.query(db, "analyze mnemo.memory_vectors; analyze mnemo.memory_texts")
        assert job(db).run().built == 1
        name = personal_index_name(DIMS, "mnemo", user)
        assert f"Index Scan using {name}" in recall_plan(db, user, unit(np.ones(DIMS, dtype=np.float32)))
        got = store.search("q", unit(np.ones(DIMS, dtype=np.float32)), top_k=K, filters={"user_id": user})
        assert len(got) == K
        assert {r.payload["user_id"] for r in got} == {user}
        assert pgdb.query(db, "select count(*) from mnemo.memory_texts")[0][0] == 610  # nothing dropped
    finally:
        store.close()


def test_a_role_that_may_not_build_indexes_is_warned_once_and_nothing_changes(
    fresh_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = fresh_database
    pg.bootstrap(pgdb.dsn(db))
    migrate(db)
    role = {"options": "-c role=service_role"}
    store = open_store(db, dims=DIMS, **role)
    try:
        fill(store, "alice", 220, seed=1)
        indexer = PersonalIndexes(pgdb.url(db, **role), dims=DIMS, min_rows=200, keep_rows=100)
        with caplog.at_level(logging.DEBUG, logger="core.memory.vectors.postgres_personal"):
            assert indexer.run() == IndexChanges()
            assert indexer.run() == IndexChanges()
        told = [r for r in caplog.records if "may not create indexes" in r.getMessage()]
        assert [r.levelno for r in told] == [logging.WARNING, logging.DEBUG]
        assert indexes(db) == {}
        probe = unit(np.ones(DIMS, dtype=np.float32))
        assert len(store.search("q", probe, top_k=K, filters={"user_id": "alice"})) == K  # still recalls
    finally:
        store.close()
    # The table owner's job builds it.
    assert job(db).run().built == 1
