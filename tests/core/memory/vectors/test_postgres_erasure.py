"""Erasure on the PostgreSQL vector store: forget and erase are gone from every query at once; the
text leaves the tables' files (heap, TOAST, keyword index) when the scheduled purge rewrites the
text table, only when something was deleted or replaced since the last rewrite. The vector table
holds no words at all (its files are checked too), so the purge only VACUUMs it."""

from __future__ import annotations

import json
import secrets

import psycopg
import pytest

from core.memory.vectors.postgres_purge import VectorPurge
from tests.core.memory import pgdb
from tests.core.memory.vectors.test_postgres import (
    MIGRATION,
    PGVECTOR_MIGRATION,
    TEXTS_MIGRATION,
    add,
    open_store,
)
from tests.fakes.openai_server import embed_text
from tests.supabase import pg


def purge(name: str) -> bool:
    """What the scheduled purge job runs."""
    return VectorPurge(pgdb.url(name)).run()


def test_erasure_is_gone_from_every_query_at_once_and_from_the_files_after_the_purge(vec_db: str) -> None:
    canary = "zebracanary" + secrets.token_hex(4)
    store = open_store(vec_db, dims=1536)  # real embedding size
    try:
        add(store, "bob", "bob keeps this text")
        # A long, incompressible memory is stored out of line, in the TOAST table.
        add(store, "alice", f"{canary} " + secrets.token_urlsafe(4500))
        last = add(store, "alice", f"my locker code is {canary}")
        files = pgdb.table_files(vec_db)
        # Control: the TOAST table of the text table and the keyword (GIN) index hold it; no file of
        # the vector table (heap, TOAST, b-tree and HNSW indexes) ever does.
        assert len(pgdb.files_holding(vec_db, canary.encode(), files)) >= 2
        vector_files = pgdb.table_files(vec_db, (pgdb.TABLE,))
        assert len(vector_files) >= 4
        assert pgdb.files_holding(vec_db, canary.encode(), vector_files) == []

        # Why the purge rewrites the table: DELETE, and even a plain VACUUM after it, leave the
        # bytes in the page (VACUUM only makes the space reusable; nothing here moved over them).
        store.delete(last)
        assert pgdb.files_holding(vec_db, b"my locker code is " + canary.encode(), files)
        pgdb.query(vec_db, "vacuum mnemo.memory_texts")
        assert pgdb.files_holding(vec_db, b"my locker code is " + canary.encode(), files)

        assert store.erase_user("alice") == 1
        # Gone from every query at once, before any purge.
        probe = embed_text(canary, 1536)
        assert store.search("q", probe, top_k=5, filters={"user_id": "alice"}) == []
        assert store.keyword_search(canary, top_k=5, filters={"user_id": "alice"}) == []
        assert store.list(filters={"user_id": "alice"}) == [[]]
        assert pgdb.query(
            vec_db, "select count(*) from mnemo.memory_texts where payload::text like %s", (f"%{canary}%",)
        ) == [(0,)]

        assert purge(vec_db) is True  # the scheduled job
        assert purge(vec_db) is False  # nothing deleted since: no second rewrite

        assert pgdb.files_holding(vec_db, canary.encode()) == []  # the table's files now
        assert pgdb.files_holding(vec_db, canary.encode(), files) == []  # and the old ones
        assert pgdb.files_holding(vec_db, b"bob keeps this text")  # control: the rest survived
    finally:
        store.close()


def test_forgetting_one_memory_then_the_purge_removes_its_text_from_the_files(vec_db: str) -> None:
    canary = "okapicanary" + secrets.token_hex(4)
    store = open_store(vec_db)
    try:
        assert purge(vec_db) is False  # nothing deleted yet
        gone = add(store, "alice", f"forget {canary}")
        add(store, "alice", "keep this one")
        assert pgdb.files_holding(vec_db, canary.encode())
        store.delete(gone)
        store.purge()  # what MemoryService calls after a forget: cheap now, no rewrite
        assert pgdb.files_holding(vec_db, canary.encode())
        assert purge(vec_db) is True
        assert pgdb.files_holding(vec_db, canary.encode()) == []
        assert [r.payload["data"] for r in store.list(filters={"user_id": "alice"})[0]] == ["keep this one"]
    finally:
        store.close()


def test_replacing_a_memory_leaves_old_text_for_the_purge_to_remove(vec_db: str) -> None:
    canary = "tapircanary" + secrets.token_hex(4)
    store = open_store(vec_db)
    try:
        vid = add(store, "alice", f"old {canary}")
        purge(vec_db)
        store.update(vid, payload={"user_id": "alice", "data": "new text", "created_at": "2"})
        assert pgdb.files_holding(vec_db, canary.encode())  # the old row version
        assert purge(vec_db) is True
        assert pgdb.files_holding(vec_db, canary.encode()) == []
    finally:
        store.close()


def test_a_snapshot_open_during_the_purge_makes_the_next_run_rewrite_again(vec_db: str) -> None:
    canary = "quaggacanary" + secrets.token_hex(4)
    store = open_store(vec_db)
    try:
        gone = add(store, "alice", f"forget {canary}")
        with psycopg.connect(pgdb.dsn(vec_db)) as reader:
            # A transaction on another table (one on this table would hold a lock the rewrite waits
            # for): its snapshot still sees the row deleted after it began.
            reader.execute("set transaction isolation level repeatable read")
            reader.execute("select count(*) from mnemo.memory_vectors_purge")
            store.delete(gone)
            assert purge(vec_db) is True
            assert pgdb.files_holding(vec_db, canary.encode())  # kept for that snapshot
            reader.rollback()
        assert purge(vec_db) is True  # not recorded as purged: this run rewrites again
        assert pgdb.files_holding(vec_db, canary.encode()) == []
        assert purge(vec_db) is False
    finally:
        store.close()


def test_a_purge_that_cannot_get_the_table_soon_gives_up_until_the_next_run(vec_db: str) -> None:
    canary = "serowcanary" + secrets.token_hex(4)
    store = open_store(vec_db)
    try:
        store.delete(add(store, "alice", f"forget {canary}"))
        with psycopg.connect(pgdb.dsn(vec_db)) as reader:
            reader.execute("select count(*) from mnemo.memory_texts")  # holds a lock until it ends
            assert VectorPurge(pgdb.url(vec_db), lock_timeout_ms=200).run() is False
        assert pgdb.files_holding(vec_db, canary.encode())
        assert purge(vec_db) is True
        assert pgdb.files_holding(vec_db, canary.encode()) == []
    finally:
        store.close()


@pytest.mark.parametrize("upgrade", ["bot at start-up", "supabase db push"])
def test_upgrading_the_inline_layout_moves_the_words_and_leaves_none_in_old_files(
    fresh_database: str, upgrade: str
) -> None:
    """The second layout (payload and tsv beside the vector) to vectors and texts apart: the rows
    keep their text and vector, and the old table's files (with the words) are gone at commit."""
    canary = "dugongcanary" + secrets.token_hex(4)
    pg.bootstrap(pgdb.dsn(fresh_database))
    pg.run_sql_file(pgdb.dsn(fresh_database), MIGRATION)
    pg.run_sql_file(pgdb.dsn(fresh_database), PGVECTOR_MIGRATION)
    vector = embed_text(f"alice {canary}", 16)
    pgdb.query(
        fresh_database,
        "insert into mnemo.memory_vectors (collection, id, user_id, created_at, payload, vector, tsv) "
        "values ('mnemo', 'm1', 'alice', '1', %s::json, %s::real[]::extensions.vector, "
        "to_tsvector('english', %s))",
        (json.dumps({"user_id": "alice", "data": f"alice {canary}"}), vector, f"alice {canary}"),
    )
    old_files = pgdb.table_files(fresh_database, (pgdb.TABLE,))
    assert pgdb.files_holding(fresh_database, canary.encode(), old_files)  # control
    if upgrade == "supabase db push":
        pg.run_sql_file(pgdb.dsn(fresh_database), TEXTS_MIGRATION)
    store = open_store(fresh_database)
    try:
        assert [r.id for r in store.search("q", vector, top_k=1, filters={"user_id": "alice"})] == ["m1"]
        found = store.keyword_search(canary, top_k=1, filters={"user_id": "alice"}) or []
        assert [r.payload["data"] for r in found] == [f"alice {canary}"]
        assert pgdb.files_holding(fresh_database, canary.encode(), old_files) == []
        vector_files = pgdb.table_files(fresh_database, (pgdb.TABLE,))
        assert pgdb.files_holding(fresh_database, canary.encode(), vector_files) == []
        assert pgdb.files_holding(fresh_database, canary.encode())  # in the text table now
    finally:
        store.close()


def test_the_purge_rewrites_the_text_table_and_leaves_the_vector_table_and_its_index_in_place(
    vec_db: str,
) -> None:
    """VACUUM FULL of the vector table would rebuild the HNSW index with every recall waiting: the
    purge rewrites only the text table (new files) and vacuums the vector table where it is."""
    store = open_store(vec_db)
    try:
        assert store.index_plan.index is not None
        relations = ("mnemo.memory_texts", "mnemo.memory_vectors", f"mnemo.{store.index_plan.index}")

        def files() -> list[tuple[str, str]]:
            return [
                (name, str(pgdb.query(vec_db, "select pg_relation_filepath(%s::regclass)", (name,))[0][0]))
                for name in relations
            ]

        store.delete(add(store, "alice", "forget this"))
        add(store, "alice", "keep this")
        before = files()
        assert purge(vec_db) is True
        after = files()
        assert after[0] != before[0]  # the text table: rewritten
        assert after[1:] == before[1:]  # the vector table and its HNSW index: the same files
        assert [r.payload["data"] for r in store.list(filters={"user_id": "alice"})[0]] == ["keep this"]
    finally:
        store.close()
