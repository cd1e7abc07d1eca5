"""Keyword search (mem0's BM25 signal) in the embedded store: FTS5 over each memory's text, with the
same per-account and privacy filters as semantic search, kept in step with every write, and gone
from the file once a memory is deleted and the store purged."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.memory.vectors.sqlite import SQLiteVectorStore
from tests.core.memory.vectors.records import DIMS, add, texts, vec


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteVectorStore]:
    opened = SQLiteVectorStore(
        collection_name="mnemo", path=str(tmp_path / "vectors.db"), embedding_model_dims=DIMS
    )
    yield opened
    opened.close()


def keyword(store: SQLiteVectorStore, query: str, **filters: object) -> list[str]:
    found = store.keyword_search(query, top_k=10, filters={"user_id": "alice", **filters})
    assert found is not None
    return texts(found)


def index_terms(path: str) -> set[str]:
    """Every term the keyword index holds, deleted rows' included until they are merged away."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, memory_terms, row)")
        return {row[0] for row in conn.execute("SELECT term FROM temp.terms")}
    finally:
        conn.close()


def test_keyword_search_ranks_by_bm25_with_positive_scores(store: SQLiteVectorStore) -> None:
    add(store, "alice", "my greyhound loves the beach", created="1")
    add(store, "alice", "I adopted a greyhound called Pixel", created="2")
    add(store, "alice", "I work at Quarry Labs", created="3")
    found = store.keyword_search("what is my greyhound called?", top_k=5, filters={"user_id": "alice"})
    assert found is not None
    # Both mention the greyhound; only one says what it is called: more matching terms rank higher.
    assert texts(found) == ["I adopted a greyhound called Pixel", "my greyhound loves the beach"]
    scores = [r.score for r in found]
    assert all(s is not None and s > 0 for s in scores)
    assert scores == sorted(scores, reverse=True)


def test_words_match_whatever_their_case_and_accents_but_are_not_stemmed(store: SQLiteVectorStore) -> None:
    add(store, "alice", "We finally moved to Zürich", created="1")
    assert keyword(store, "ZURICH") == ["We finally moved to Zürich"]
    assert keyword(store, "Moved") == ["We finally moved to Zürich"]
    assert keyword(store, "when am I moving?") == []  # no stemmer (README "Memory quality")


def test_keyword_search_is_per_account(store: SQLiteVectorStore) -> None:
    add(store, "alice", "alice keeps bees", created="1")
    add(store, "bob", "bob keeps bees too", created="2")
    assert keyword(store, "bees") == ["alice keeps bees"]
    found = store.keyword_search("bees", top_k=10, filters={"user_id": "bob"})
    assert found is not None
    assert texts(found) == ["bob keeps bees too"]
    with pytest.raises(ValueError, match="user_id"):
        store.keyword_search("bees", top_k=10, filters={})
    # mem0's "*" wildcard is a string that names no one.
    assert store.keyword_search("bees", top_k=10, filters={"user_id": "*"}) == []


def test_keyword_search_applies_privacy_and_epoch_filters(store: SQLiteVectorStore) -> None:
    add(store, "alice", "secret: my salary is ninety thousand", created="1", private=True)
    add(store, "alice", "my salary review is in March", created="2", private=False)
    add(store, "alice", "salary from before the erasure", created="3", private=False, epoch=0)
    add(store, "alice", "salary after the erasure", created="4", private=False, epoch=1)
    public = keyword(store, "salary", is_private=False, epoch=0)
    assert sorted(public) == ["my salary review is in March", "salary from before the erasure"]
    assert "secret: my salary is ninety thousand" in keyword(store, "salary", epoch=0)
    assert keyword(store, "salary", is_private=False, epoch=1) == ["salary after the erasure"]


def test_a_filtered_out_memory_does_not_take_a_place_in_top_k(store: SQLiteVectorStore) -> None:
    for i in range(5):
        add(store, "alice", f"private tea note {i} tea tea", created=f"{i}", private=True)
    add(store, "alice", "public tea", created="9", private=False)
    found = store.keyword_search("tea", top_k=1, filters={"user_id": "alice", "is_private": False})
    assert found is not None
    assert texts(found) == ["public tea"]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "' OR 1=1 --",
        "NEAR(a b, 2) AND text:* ^ - + ( ) { } :",
        "   ",
        "",
        "***",
        "a the of and",  # stop words only
        "x" * 100_000,
        "tea " * 50_000,
        "emoji 🍵 and NUL \x00 inside",
        "\ud800 lone surrogate",
    ],
)
def test_bad_query_text_never_errors(store: SQLiteVectorStore, query: str) -> None:
    add(store, "alice", "alice likes green tea", created="1")
    found = store.keyword_search(query, top_k=5, filters={"user_id": "alice"})
    assert isinstance(found, list)
    assert all(r.payload["user_id"] == "alice" for r in found)


def test_query_syntax_is_taken_as_words(store: SQLiteVectorStore) -> None:
    add(store, "alice", "alice likes green tea", created="1")
    assert keyword(store, 'text:"green" OR NEAR(tea*') == ["alice likes green tea"]
    assert keyword(store, "top_k <= 0") == []
    assert store.keyword_search("tea", top_k=0, filters={"user_id": "alice"}) == []


def test_index_follows_updates_replacements_and_deletes(store: SQLiteVectorStore) -> None:
    vid = add(store, "alice", "alice plays the cello", created="1")
    assert keyword(store, "cello") == ["alice plays the cello"]
    # mem0's update rewrites the payload.
    store.update(vid, payload={"user_id": "alice", "data": "alice plays the banjo", "created_at": "1"})
    assert keyword(store, "cello") == []
    assert keyword(store, "banjo") == ["alice plays the banjo"]
    # INSERT with an existing id replaces the row (and its index entry).
    store.insert([vec("harp")], payloads=[{"user_id": "alice", "data": "alice plays the harp"}], ids=[vid])
    assert keyword(store, "banjo") == []
    assert keyword(store, "harp") == ["alice plays the harp"]
    # Moving a memory to another account moves its keyword entry with it.
    store.update(vid, payload={"user_id": "bob", "data": "alice plays the harp"})
    assert keyword(store, "harp") == []
    store.delete(vid)
    found = store.keyword_search("harp", top_k=5, filters={"user_id": "bob"})
    assert found == []


def test_deleted_words_leave_the_index_and_the_file_after_purge(store: SQLiteVectorStore) -> None:
    canary = "quokkacanary5531"
    vid = add(store, "alice", f"my password hint is {canary}", created="1")
    add(store, "alice", "alice likes green tea", created="2")
    store.purge()
    assert canary in index_terms(store.path)
    store.delete(vid)
    store.purge()
    assert canary not in index_terms(store.path)
    assert "green" in index_terms(store.path)
    for file in Path(store.path).parent.iterdir():
        assert canary.encode() not in file.read_bytes(), file


def test_erase_user_empties_their_keyword_entries(store: SQLiteVectorStore) -> None:
    add(store, "alice", "alice secretly collects stamps zorblatt", created="1")
    add(store, "alice", "stamps again", created="2", private=False)
    add(store, "bob", "bob collects coins", created="3")
    assert store.erase_user("alice") == 2
    assert keyword(store, "stamps zorblatt") == []
    terms = index_terms(store.path)
    assert "zorblatt" not in terms
    assert "stamps" not in terms
    assert "coins" in terms
    for file in Path(store.path).parent.iterdir():
        assert b"zorblatt" not in file.read_bytes(), file


def test_a_store_written_before_keyword_search_is_indexed_on_open(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    old = SQLiteVectorStore(collection_name="mnemo", path=path, embedding_model_dims=DIMS)
    add(old, "alice", "alice rides a tandem bicycle", created="1")
    old.close()
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP TRIGGER vectors_terms_insert; DROP TRIGGER vectors_terms_delete; "
        "DROP TRIGGER vectors_terms_update; DROP TABLE memory_terms;"
    )
    conn.close()
    reopened = SQLiteVectorStore(collection_name="mnemo", path=path, embedding_model_dims=DIMS)
    try:
        assert keyword(reopened, "tandem") == ["alice rides a tandem bicycle"]
    finally:
        reopened.close()


@pytest.mark.parametrize("user", ['he said "hi" OR *', "zoë", "a" * 300, "scope : x"])
def test_any_user_id_scopes_the_search_to_exactly_that_user(store: SQLiteVectorStore, user: str) -> None:
    add(store, user, "likes kayaking", created="1")
    add(store, user + "x", "also likes kayaking", created="2")
    found = store.keyword_search("kayaking", top_k=5, filters={"user_id": user})
    assert found is not None
    assert texts(found) == ["likes kayaking"]


def test_another_collection_is_not_searched(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    memories = SQLiteVectorStore(collection_name="mnemo", path=path, embedding_model_dims=DIMS)
    entities = SQLiteVectorStore(collection_name="mnemo_entities", path=path, embedding_model_dims=DIMS)
    try:
        add(memories, "alice", "alice visits Lisbon", created="1")
        add(entities, "alice", "Lisbon", created="1")
        assert keyword(memories, "lisbon") == ["alice visits Lisbon"]
        assert keyword(entities, "lisbon") == ["Lisbon"]
    finally:
        entities.close()
        memories.close()
