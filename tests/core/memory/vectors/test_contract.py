"""The vector-store contract mem0 and Mnemo rely on, run on both stores: the embedded SQLite one
(DATA_DIR) and the PostgreSQL one (SUPABASE_DB_URL). Same inputs, same answers."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.memory.vectors.postgres import PostgresVectorStore
from core.memory.vectors.sqlite import SQLiteVectorStore
from tests.core.memory import pgdb
from tests.core.memory.vectors.records import DIMS, Store, add, insert_tied, texts, tied_rows, vec

MakeStore = Callable[..., Store]


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    opened: list[Store] = []

    def make(collection: str = "mnemo", dims: int = DIMS) -> Store:
        store: Store
        if request.param == "sqlite":
            store = SQLiteVectorStore(
                collection_name=collection, path=str(tmp_path / "vectors.db"), embedding_model_dims=dims
            )
        else:
            name = request.getfixturevalue("vec_db")
            store = PostgresVectorStore(
                collection_name=collection, url=pgdb.url(name), embedding_model_dims=dims
            )
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> Store:
    return make_store()


def test_insert_then_get_returns_the_payload_unchanged(store: Store) -> None:
    payload = {
        "user_id": "u1",
        "data": 'likes crème brûlée 🍮, "quotes" and a NUL \x00 inside',
        "created_at": "2026-11-01T12:00:00.000001+00:00",
        "hash": "abc",
        "is_private": False,
        "nested": {"a": [1, 2.5, None, True]},
    }
    store.insert([vec("dessert")], payloads=[payload], ids=["m1"])
    got = store.get("m1")
    assert got is not None
    assert got.id == "m1"
    assert got.score is None
    assert got.payload == payload
    assert store.get("nope") is None


def test_insert_with_an_existing_id_replaces_it(store: Store) -> None:
    store.insert([vec("old")], payloads=[{"user_id": "u1", "data": "old", "created_at": "1"}], ids=["m1"])
    store.insert([vec("new")], payloads=[{"user_id": "u2", "data": "new", "created_at": "2"}], ids=["m1"])
    assert texts(store.list(filters={"user_id": "u2"})[0]) == ["new"]
    assert store.list(filters={"user_id": "u1"})[0] == []
    assert store.col_info()["count"] == 1


def test_search_ranks_one_users_memories_by_cosine_and_never_anyone_elses(store: Store) -> None:
    add(store, "alice", "alice plays chess on sundays", created="1")
    add(store, "alice", "alice grows tomatoes", created="2")
    add(store, "alice", "alice drinks green tea", created="3")
    add(store, "bob", "bob plays chess too", created="4")

    results = store.search("chess", vec("who plays chess"), top_k=2, filters={"user_id": "alice"})

    assert len(results) == 2
    assert results[0].payload["data"] == "alice plays chess on sundays"
    assert all(r.payload["user_id"] == "alice" for r in results)
    assert results[0].score is not None
    assert results[1].score is not None
    assert 1.0 >= results[0].score >= results[1].score >= 0.0
    expected = float(np.dot(vec("who plays chess"), vec("alice plays chess on sundays")))
    expected /= float(np.linalg.norm(vec("who plays chess"))) * float(
        np.linalg.norm(vec("alice plays chess on sundays"))
    )
    assert math.isclose(results[0].score, max(0.0, expected), rel_tol=1e-5)
    assert texts(store.search("x", vec("chess"), top_k=10, filters={"user_id": "bob"})) == [
        "bob plays chess too"
    ]
    assert store.search("x", vec("chess"), top_k=10, filters={"user_id": "carol"}) == []


def test_other_filter_keys_match_the_payload_exactly(store: Store) -> None:
    add(store, "alice", "public fact", created="1", private=False)
    add(store, "alice", "private fact", created="2", private=True)
    add(store, "alice", "no flag at all", created="3", private=None)  # type: ignore[arg-type]

    public = store.search("f", vec("fact"), top_k=10, filters={"user_id": "alice", "is_private": False})
    listed = store.list(filters={"user_id": "alice", "is_private": True})[0]

    assert texts(public) == ["public fact"]
    assert texts(listed) == ["private fact"]
    assert store.list(filters={"user_id": "alice", "missing_key": "x"})[0] == []


@pytest.mark.parametrize("user", ["*", "%", "alice%", "' or 1=1 --", "ALICE"])
def test_user_id_is_matched_exactly_so_wildcards_match_nobody(store: Store, user: str) -> None:
    add(store, "alice", "alice has a boat", created="1")
    assert store.search("q", vec("boat"), top_k=5, filters={"user_id": user}) == []
    assert store.list(filters={"user_id": user})[0] == []


@pytest.mark.parametrize("filters", [None, {}, {"user_id": ""}, {"user_id": None}, {"agent_id": "a"}])
def test_search_and_list_refuse_queries_not_scoped_to_one_user(
    store: Store, filters: dict[str, Any] | None
) -> None:
    add(store, "alice", "alice has a boat", created="1")
    with pytest.raises(ValueError, match="scoped to one user_id"):
        store.search("q", vec("boat"), top_k=5, filters=filters)
    with pytest.raises(ValueError, match="scoped to one user_id"):
        store.list(filters=filters)


def test_list_is_newest_first_wrapped_in_a_list_and_honours_top_k(store: Store) -> None:
    add(store, "alice", "first", created="2026-11-01T10:00:00+00:00")
    add(store, "alice", "third", created="2026-11-01T12:00:00+00:00")
    add(store, "alice", "second", created="2026-11-01T11:00:00+00:00")
    add(store, "alice", "second, same instant, id later", created="2026-11-01T11:00:00+00:00")
    add(store, "bob", "bob's", created="2026-11-01T13:00:00+00:00")

    listed = store.list(filters={"user_id": "alice"})

    assert isinstance(listed, list)
    assert len(listed) == 1
    assert texts(listed[0])[0] == "third"
    assert set(texts(listed[0])[1:3]) == {"second", "second, same instant, id later"}
    assert texts(listed[0])[3] == "first"
    # Ties on created_at are broken by id, in byte order, on both stores.
    tied = [r for r in listed[0] if r.payload["created_at"].startswith("2026-11-01T11")]
    assert [r.id for r in tied] == sorted(r.id for r in tied)
    assert texts(store.list(filters={"user_id": "alice"}, top_k=2)[0]) == texts(listed[0])[:2]


def test_a_record_without_created_at_lists_last(store: Store) -> None:
    store.insert([vec("undated")], payloads=[{"user_id": "alice", "data": "undated"}], ids=["u"])
    add(store, "alice", "dated", created="2026-11-01T10:00:00+00:00")
    assert texts(store.list(filters={"user_id": "alice"})[0]) == ["dated", "undated"]


def test_equal_scores_come_back_newest_first_then_by_id(store: Store) -> None:
    # The same words give the same vector, so the same score; the order among them must not depend
    # on how the store happens to read its rows.
    rows = tied_rows(30, seed=12)
    insert_tied(store, rows)
    add(store, "alice", "alice grows tomatoes", created="2026-11-02T00:00:00+00:00")  # newer, less alike

    found = store.search("q", vec("alice likes green tea"), top_k=50, filters={"user_id": "alice"})

    by_id = sorted(rows)
    dated = sorted((r for r in by_id if r[1] is not None), key=lambda r: r[1] or "", reverse=True)
    expected = [vid for vid, _ in dated] + [vid for vid, created in by_id if created is None]
    assert [r.id for r in found[:30]] == expected
    assert len({r.score for r in found[:30]}) == 1  # really a tie
    assert texts(found[30:]) == ["alice grows tomatoes"]
    # A top_k that cuts through the tie keeps the same order.
    top = store.search("q", vec("alice likes green tea"), top_k=7, filters={"user_id": "alice"})
    assert [r.id for r in top] == expected[:7]


ALICE = {"user_id": "alice"}


@pytest.fixture
def both_stores(tmp_path: Path, vec_db: str) -> Iterator[tuple[Store, Store]]:
    sqlite = SQLiteVectorStore(collection_name="mnemo", path=f"{tmp_path}/v.db", embedding_model_dims=DIMS)
    postgres = PostgresVectorStore(collection_name="mnemo", url=pgdb.url(vec_db), embedding_model_dims=DIMS)
    yield sqlite, postgres
    sqlite.close()
    postgres.close()


def test_equal_scores_come_back_in_the_same_order_on_both_stores(
    both_stores: tuple[Store, Store],
) -> None:
    green = tied_rows(40, seed=7)
    plain = [(vid + "-b", created) for vid, created in green]
    for store, write_order in zip(both_stores, (1, -1), strict=True):  # each written in another order
        insert_tied(store, green[::write_order], "alice likes green tea")
        insert_tied(store, plain[::write_order], "alice likes tea")
    for query in ("alice likes green tea", "green tea", "tea"):
        for top_k in (5, 40, 100):
            sqlite, postgres = (
                [(r.id, r.score) for r in store.search("q", vec(query), top_k=top_k, filters=ALICE)]
                for store in both_stores
            )
            assert sqlite == postgres
            assert len(sqlite) == min(top_k, 80)


def test_both_stores_keep_vectors_as_the_same_little_endian_float32(
    both_stores: tuple[Store, Store], tmp_path: Path, vec_db: str
) -> None:
    for store in both_stores:
        add(store, "alice", "alice likes tea", created="1")
    with sqlite3.connect(tmp_path / "v.db") as conn:
        [(in_sqlite,)] = conn.execute("select vector from vectors").fetchall()
    [(in_postgres,)] = pgdb.query(vec_db, "select vector::real[] from mnemo.memory_vectors")
    assert np.asarray(in_postgres, dtype="<f4").tobytes() == bytes(in_sqlite)
    raw = np.asarray(vec("alice likes tea"))
    assert np.allclose(np.frombuffer(in_sqlite, dtype="<f4"), raw / np.linalg.norm(raw), atol=1e-7)


def test_update_replaces_vector_and_payload_and_can_move_a_memory_to_another_user(store: Store) -> None:
    vid = add(store, "alice", "alice likes tea", created="1")
    store.update(vid, vector=vec("coffee beans"))
    hit = store.search("q", vec("coffee beans"), top_k=1, filters={"user_id": "alice"})
    assert hit[0].id == vid
    assert hit[0].score is not None
    assert hit[0].score > 0.99
    assert hit[0].payload["data"] == "alice likes tea"  # payload untouched by a vector update

    moved = {"user_id": "bob", "data": "likes tea (moved)", "created_at": "2"}
    store.update(vid, payload=moved)
    assert store.list(filters={"user_id": "alice"})[0] == []
    [record] = store.list(filters={"user_id": "bob"})[0]
    assert (record.id, record.payload) == (vid, moved)

    store.update(vid, vector=vec("tea"), payload={"user_id": "bob", "data": "both", "created_at": "3"})
    got = store.get(vid)
    assert got is not None
    assert got.payload["data"] == "both"
    store.update("missing-id", payload={"user_id": "x"})  # nothing to update: no error, no row
    assert store.get("missing-id") is None


def test_delete_delete_col_reset_and_col_info(make_store: MakeStore) -> None:
    memories, entities = make_store("mnemo"), make_store("mnemo_entities")
    keep = add(memories, "alice", "keep", created="1")
    gone = add(memories, "alice", "gone", created="2")
    add(entities, "alice", "an entity", created="3")

    memories.delete(gone)
    memories.delete("never-existed")

    assert memories.get(gone) is None
    assert memories.get(keep) is not None
    assert memories.col_info() == {"name": "mnemo", "count": 1, "dims": DIMS}
    assert sorted(memories.list_cols()) == ["mnemo", "mnemo_entities"]
    entities.delete_col()
    assert entities.col_info()["count"] == 0
    assert memories.col_info()["count"] == 1  # another collection: untouched
    memories.reset()
    assert memories.col_info()["count"] == 0


def test_collections_are_separate(make_store: MakeStore) -> None:
    memories, entities = make_store("mnemo"), make_store("mnemo_entities")
    add(memories, "alice", "memory text", created="1")
    add(entities, "alice", "entity text", created="1")
    assert texts(memories.list(filters={"user_id": "alice"})[0]) == ["memory text"]
    assert texts(entities.search("q", vec("text"), top_k=5, filters={"user_id": "alice"})) == ["entity text"]


def test_keyword_search_is_offered_by_both_stores_and_search_batch_runs_each_query(store: Store) -> None:
    # (Each store's own keyword-search tests: tests/core/memory/vectors/test_keyword_sqlite.py and
    # test_postgres_search.py.)
    add(store, "alice", "alice plays chess", created="1")
    add(store, "alice", "alice bakes bread", created="2")
    found = store.keyword_search("chess", top_k=5, filters={"user_id": "alice"})
    assert texts(found or []) == ["alice plays chess"]
    batch = store.search_batch(
        ["chess", "bread"], [vec("chess"), vec("bread")], top_k=1, filters={"user_id": "alice"}
    )
    assert [texts(r) for r in batch] == [["alice plays chess"], ["alice bakes bread"]]


@pytest.mark.parametrize("bad", [[0.1] * (DIMS - 1), [[0.1] * DIMS], []])
def test_a_vector_of_the_wrong_size_is_refused_and_the_batch_writes_nothing(store: Store, bad: Any) -> None:
    payloads = [{"user_id": "alice", "data": "ok", "created_at": "1"}, {"user_id": "alice", "data": "bad"}]
    with pytest.raises(ValueError, match=f"expected a vector of {DIMS} dims"):
        store.insert([vec("ok"), bad], payloads=payloads, ids=["ok", "bad"])
    assert store.list(filters={"user_id": "alice"})[0] == []
    vid = add(store, "alice", "fine", created="1")
    with pytest.raises(ValueError, match=f"expected a vector of {DIMS} dims"):
        store.update(vid, vector=bad)
    assert store.search("q", vec("fine"), top_k=1, filters={"user_id": "alice"})[0].id == vid


def test_insert_needs_ids(store: Store) -> None:
    with pytest.raises(ValueError, match="ids are required"):
        store.insert([vec("x")], payloads=[{"user_id": "alice"}])
    with pytest.raises(ValueError, match="shorter than argument"):  # zip(strict=True)
        store.insert([vec("x"), vec("y")], payloads=[{"user_id": "alice"}], ids=["a", "b"])
    assert store.col_info()["count"] == 0


def test_user_ids_and_user_vectors_serve_housekeeping(make_store: MakeStore) -> None:
    store, entities = make_store("mnemo"), make_store("mnemo_entities")
    add(store, "bob", "bob fact", created="1")
    add(store, "alice", "alice older", created="2026-11-01T10:00:00+00:00")
    add(store, "alice", "alice newer", created="2026-11-01T11:00:00+00:00")
    add(entities, "carol", "only an entity", created="1")
    store.insert([vec("anon")], payloads=[{"data": "no user"}], ids=["anon"])

    assert store.user_ids() == ["alice", "bob"]  # this collection only, no None, sorted

    records = store.user_vectors("alice")
    assert [r.payload["data"] for r, _ in records] == ["alice newer", "alice older"]
    for record, vector in records:
        assert vector.dtype == np.float32
        assert vector.shape == (DIMS,)
        assert math.isclose(float(np.linalg.norm(vector)), 1.0, rel_tol=1e-5)
        expected = np.asarray(vec(record.payload["data"]), dtype=np.float32)
        assert np.allclose(vector, expected / np.linalg.norm(expected), atol=1e-6)
    assert store.user_vectors("nobody") == []


def test_erase_user_deletes_that_user_in_every_collection_and_nobody_else(make_store: MakeStore) -> None:
    memories, entities = make_store("mnemo"), make_store("mnemo_entities")
    for i in range(3):
        add(memories, "alice", f"alice fact {i}", created=str(i))
    add(entities, "alice", "alice entity", created="1")
    add(memories, "bob", "bob fact", created="1")
    add(entities, "bob", "bob entity", created="1")

    assert memories.erase_user("alice") == 4

    assert memories.list(filters={"user_id": "alice"})[0] == []
    assert entities.list(filters={"user_id": "alice"})[0] == []
    assert texts(memories.list(filters={"user_id": "bob"})[0]) == ["bob fact"]
    assert texts(entities.list(filters={"user_id": "bob"})[0]) == ["bob entity"]
    assert memories.erase_user("alice") == 0  # again: nothing left, no error
    memories.purge()
    assert memories.col_info()["count"] == 1


def test_concurrent_writers_and_readers_lose_nothing(store: Store) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(15):
                add(store, f"user{n}", f"user {n} fact {i}", created=f"{i:03d}")
                assert store.search("q", vec("fact"), top_k=3, filters={"user_id": f"user{n}"})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert store.col_info()["count"] == 90
    for n in range(6):
        assert len(store.list(filters={"user_id": f"user{n}"})[0]) == 15
