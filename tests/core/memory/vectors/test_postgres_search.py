"""Recall and keyword search ranked inside PostgreSQL (pgvector, full-text search), and the upgrade
of tables of the first layout (vectors as float32 bytea): what only the Postgres store does."""

from __future__ import annotations

import json
import math
import uuid

import numpy as np
import pytest

from core.memory.vectors.base import vector_blob
from core.memory.vectors.postgres import PostgresVectorStore
from tests.core.memory import pgdb
from tests.core.memory.vectors.test_postgres import (
    DIMS,
    MIGRATION,
    PGVECTOR_MIGRATION,
    TEXTS_MIGRATION,
    catalog,
    migrate,
    open_store,
)
from tests.fakes.openai_server import embed_text
from tests.supabase import pg

ALICE = {"user_id": "alice"}


def put(store: PostgresVectorStore, user: str, text: str, **extra: object) -> str:
    vid = str(uuid.uuid4())
    payload = {"user_id": user, "data": text, "created_at": f"2026-11-0{len(text) % 9 + 1}", **extra}
    store.insert([embed_text(text, DIMS)], payloads=[payload], ids=[vid])
    return vid


@pytest.fixture
def store(vec_db: str) -> PostgresVectorStore:
    s = open_store(vec_db)
    yield s  # type: ignore[misc]
    s.close()


def words(results: list) -> list[str]:  # type: ignore[type-arg]
    return [r.payload["data"] for r in results]


def test_recall_returns_the_top_k_of_one_persons_rows_with_the_privacy_filters(
    store: PostgresVectorStore,
) -> None:
    put(store, "alice", "alice plays chess", is_private=False)
    put(store, "alice", "alice chess secret from a dm", is_private=True)
    put(store, "alice", "alice bakes bread", is_private=False)
    put(store, "bob", "bob plays chess", is_private=False)
    probe = embed_text("alice plays chess", DIMS)

    public = store.search("q", probe, top_k=5, filters={"user_id": "alice", "is_private": False})
    assert words(public) == ["alice plays chess", "alice bakes bread"]
    assert public[0].score == pytest.approx(1.0, abs=1e-6)
    assert store.search("q", probe, top_k=1, filters=ALICE)[0].payload["data"] == "alice plays chess"
    assert len(store.search("q", probe, top_k=2, filters=ALICE)) == 2
    assert store.search("q", probe, top_k=0, filters=ALICE) == []
    # A missing epoch reads as 0, as in the embedded store.
    assert len(store.search("q", probe, top_k=5, filters={"user_id": "alice", "epoch": 0})) == 3
    assert store.search("q", probe, top_k=5, filters={"user_id": "alice", "epoch": 1}) == []


def test_a_zero_vector_ranks_last_with_score_zero_and_nan_is_refused(store: PostgresVectorStore) -> None:
    store.insert([[0.0] * DIMS], payloads=[{"user_id": "alice", "data": "zero"}], ids=["z"])
    put(store, "alice", "alice plays chess")
    found = store.search("q", embed_text("chess", DIMS), top_k=5, filters=ALICE)
    assert words(found)[-1] == "zero"
    assert found[-1].score == 0.0
    with pytest.raises(ValueError, match="NaN"):
        store.insert([[math.nan] * DIMS], payloads=[{"user_id": "alice"}], ids=["n"])
    assert store.get("n") is None
    assert store.search("q", [math.nan] * DIMS, top_k=5, filters=ALICE) == []


def test_keyword_search_ranks_one_persons_memories_by_bm25(store: PostgresVectorStore) -> None:
    put(store, "alice", "alice plays chess on sundays")
    put(store, "alice", "alice bakes bread")
    put(store, "alice", "chess, chess and more chess: alice's chess club meets on sundays")
    put(store, "bob", "bob plays chess on sundays")

    found = store.keyword_search("chess sundays", top_k=10, filters=ALICE)
    assert found is not None
    assert set(words(found)) == {
        "alice plays chess on sundays",
        "chess, chess and more chess: alice's chess club meets on sundays",
    }
    assert all(r.score is not None and r.score > 0 for r in found)
    assert found[0].score >= found[1].score  # type: ignore[operator]
    # Stems: "played" finds "plays"; any of the words is enough.
    assert words(store.keyword_search("who played?", top_k=5, filters=ALICE) or []) == [
        "alice plays chess on sundays"
    ]
    assert words(store.keyword_search("bread or tennis", top_k=5, filters=ALICE) or []) == [
        "alice bakes bread"
    ]
    assert len(store.keyword_search("chess", top_k=1, filters=ALICE) or []) == 1


def test_keyword_search_keeps_the_privacy_filters_and_never_crosses_accounts(
    store: PostgresVectorStore,
) -> None:
    put(store, "alice", "my chess coach is Magnus", is_private=True)
    put(store, "alice", "alice likes chess", is_private=False)
    put(store, "bob", "bob's chess secret", is_private=False)
    public = store.keyword_search("chess", top_k=10, filters={"user_id": "alice", "is_private": False})
    assert words(public or []) == ["alice likes chess"]
    assert words(store.keyword_search("magnus", top_k=10, filters={"user_id": "bob"}) or []) == []
    assert store.keyword_search("chess", top_k=10, filters={"user_id": "*"}) == []
    with pytest.raises(ValueError, match="scoped to one user_id"):
        store.keyword_search("chess", top_k=10, filters={})


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "!!! ??? ...",
        "the and of",  # stop words only
        "chess & | ! ( ) :* <-> 'quoted' \"phrase",  # tsquery syntax is just text
        "ch\x00ess",
        "chess " * 200_000,  # 1.2 MB
        "💬 шахматы 国际象棋 chess",
        "a" * 5000,  # one word longer than a lexeme may be
    ],
)
def test_any_query_text_is_answered_without_an_error(store: PostgresVectorStore, query: str) -> None:
    put(store, "alice", "alice plays chess")
    found = store.keyword_search(query, top_k=5, filters=ALICE)
    assert isinstance(found, list)
    assert all(r.payload["user_id"] == "alice" for r in found)


def test_memories_with_nul_or_odd_text_are_still_searchable(store: PostgresVectorStore) -> None:
    put(store, "alice", "chess\x00club on fridays")
    store.insert([embed_text("x", DIMS)], payloads=[{"user_id": "alice"}], ids=["no-text"])
    assert words(store.keyword_search("club", top_k=5, filters=ALICE) or []) == ["chess\x00club on fridays"]


def test_mem0s_lemmatized_text_is_what_keyword_search_reads(store: PostgresVectorStore) -> None:
    put(store, "alice", "Alice's kids went swimming", text_lemmatized="alice kid go swim")
    assert words(store.keyword_search("go", top_k=5, filters=ALICE) or []) == ["Alice's kids went swimming"]


def test_replaced_and_erased_memories_leave_the_keyword_index_at_once(store: PostgresVectorStore) -> None:
    vid = put(store, "alice", "alice plays chess")
    store.update(vid, payload={"user_id": "alice", "data": "alice plays go"})
    assert store.keyword_search("chess", top_k=5, filters=ALICE) == []
    assert words(store.keyword_search("go", top_k=5, filters=ALICE) or []) == ["alice plays go"]
    store.update(vid, payload={"user_id": "bob", "data": "alice plays go"})  # moved to another account
    assert store.keyword_search("go", top_k=5, filters=ALICE) == []
    put(store, "bob", "bob plays go")
    assert store.erase_user("bob") == 2
    assert store.keyword_search("go", top_k=5, filters={"user_id": "bob"}) == []


# -- tables of the first layout -----------------------------------------------------------------
def _old_layout_with_rows(name: str) -> list[tuple[str, list[float]]]:
    """A database as the first migration left it, with rows the old store wrote."""
    pg.bootstrap(pgdb.dsn(name))
    pg.run_sql_file(pgdb.dsn(name), MIGRATION)
    rng = np.random.default_rng(5)
    rows = [(f"m{i}", rng.standard_normal(DIMS).tolist()) for i in range(5)]
    for vid, vector in rows:
        payload = {"user_id": "alice", "data": f"memory {vid} about chess", "created_at": vid}
        pgdb.query(
            name,
            "insert into mnemo.memory_vectors (collection, id, user_id, created_at, vector, payload) "
            "values ('mnemo', %s, 'alice', %s, %s, %s::json)",
            (vid, vid, vector_blob(vector, DIMS), json.dumps(payload)),
        )
    special = {"user_id": "alice", "data": "nul\x00text", "created_at": "n"}
    pgdb.query(
        name,
        "insert into mnemo.memory_vectors (collection, id, user_id, created_at, vector, payload) "
        "values ('mnemo', 'nan', 'alice', 'n', %s, %s::json)",
        (np.full(DIMS, np.nan, dtype="<f4").tobytes(), json.dumps(special)),
    )
    return rows


@pytest.mark.parametrize("upgrade", ["bot at start-up", "supabase db push"])
def test_a_table_of_the_first_layout_is_upgraded_in_place(fresh_database: str, upgrade: str) -> None:
    rows = _old_layout_with_rows(fresh_database)
    if upgrade == "supabase db push":
        for migration in (PGVECTOR_MIGRATION, PGVECTOR_MIGRATION, TEXTS_MIGRATION, TEXTS_MIGRATION):
            pg.run_sql_file(pgdb.dsn(fresh_database), migration)  # each re-runnable: no change
    store = open_store(fresh_database)
    try:
        for vid, vector in rows:
            [(stored,)] = pgdb.query(
                fresh_database, "select vector::real[] from mnemo.memory_vectors where id = %s", (vid,)
            )
            old = np.frombuffer(vector_blob(vector, DIMS), dtype="<f4")  # what the old store wrote
            assert np.array_equal(np.asarray(stored, dtype=np.float32), old)  # bit for bit
            top = store.search("q", vector, top_k=1, filters=ALICE)
            assert top[0].id == vid
        assert words(store.keyword_search("chess", top_k=10, filters=ALICE) or []) != []
        assert store.get("nan") is not None  # the NaN vector became a zero one: kept, ranked last
        assert store.search("q", rows[0][1], top_k=10, filters=ALICE)[-1].id == "nan"
    finally:
        store.close()
    fresh = pgdb.create_database()
    try:
        pg.bootstrap(pgdb.dsn(fresh))
        open_store(fresh).close()
        if upgrade == "supabase db push":
            open_store(fresh, dims=1536).close()  # the migration's index, for 1536 dimensions
        assert catalog(fresh) == catalog(fresh_database)  # the same tables as new ones
    finally:
        pgdb.drop_database(fresh)


def test_migrations_from_scratch_make_the_same_table_as_the_bot(fresh_database: str) -> None:
    pg.bootstrap(pgdb.dsn(fresh_database))
    migrate(fresh_database)
    store = open_store(fresh_database)  # nothing to upgrade: it just works
    try:
        put(store, "alice", "alice plays chess")
        assert words(store.keyword_search("chess", top_k=5, filters=ALICE) or []) == ["alice plays chess"]
    finally:
        store.close()
