"""A per-user partitioned vector store for mem0, on SQLite + numpy.

Why hand-written: mem0's embedded options scale with *everyone's* memories. Embedded Qdrant scans
every point on each search (~155 ms at 11k points even for a user with one memory) and is not
thread-safe; mem0's FAISS adapter filters after a global top-k, so a user with few memories among
many can get none back; sqlite-vec needs SQLite extension loading, which this Python build lacks.
Every recall here is scoped to one account, so we index by (collection, user_id) and score only that
account's vectors with one numpy matrix product: cost grows with the person's own memories, not the
store's. A memory count per person in the thousands stays a few milliseconds.

Filters, the stored vector format and the search order are core.memory.vectors.base's, shared with
the PostgreSQL store.

Keyword search (mem0's BM25 signal) is SQLite's FTS5 over each memory's text, ranked by its bm25().
The index is contentless (it keeps terms, not a second copy of the text) and follows the
`vectors` table through triggers, so every write path, mem0's included, keeps it in step, and a
deleted memory leaves its index at once. Deleted terms can linger in old index segments until FTS5
merges them, so `purge` first merges the whole index into one ('optimize') and then rewrites the
file: after a purge no deleted word survives anywhere in the file.

The tokenizer folds case and accents and does not stem, chosen by measurement (README "Memory
quality"): FTS5's built-in Porter stemmer recalled less on the benchmark (81.2% against 82.3%
evidence recall), as stems join words that mean different things ("reading" a book, "read" every
label). Nothing to install, nothing to download.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from core.memory.vectors.base import (
    OutputData,
    first_matching,
    matches,
    ranked,
    scoped_user,
    vector_blob,
    vector_from_blob,
)
from core.memory.vectors.keywords import fts5_query, keyword_terms

PROVIDER = "mnemo_sqlite"


class SQLiteVectorConfig(BaseModel):
    """Shape mem0 expects of a vector store config (it reads `collection_name` and deep-copies it)."""

    model_config = ConfigDict(extra="forbid")
    collection_name: str = "mnemo"
    path: str
    embedding_model_dims: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT,
    created_at TEXT,
    vector BLOB NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE INDEX IF NOT EXISTS vectors_user ON vectors(collection, user_id, created_at);
"""


# Contentless FTS5 (3.40 has no contentless_delete): a row leaves the index through the 'delete'
# command, given the values it was indexed with, which the old row still holds. `scope` is one token
# per (collection, user): a search matches it first, so it reads one account's entries, not every
# entry holding a common word (bm25 weighs the column 0).
_KEYWORD_SCHEMA = (
    """
CREATE VIRTUAL TABLE IF NOT EXISTS memory_terms USING fts5(
    text, scope, content='', tokenize='unicode61 remove_diacritics 2'
)
""",
    """
CREATE TRIGGER IF NOT EXISTS vectors_terms_insert AFTER INSERT ON vectors BEGIN
    INSERT INTO memory_terms(rowid, text, scope) VALUES (
        new.rowid,
        coalesce(json_extract(new.payload, '$.data'), ''),
        hex(new.collection || char(0) || new.user_id)
    );
END;
""",
    """
CREATE TRIGGER IF NOT EXISTS vectors_terms_delete AFTER DELETE ON vectors BEGIN
    INSERT INTO memory_terms(memory_terms, rowid, text, scope) VALUES (
        'delete',
        old.rowid,
        coalesce(json_extract(old.payload, '$.data'), ''),
        hex(old.collection || char(0) || old.user_id)
    );
END;
""",
    """
CREATE TRIGGER IF NOT EXISTS vectors_terms_update AFTER UPDATE OF payload, user_id, collection ON vectors
BEGIN
    INSERT INTO memory_terms(memory_terms, rowid, text, scope) VALUES (
        'delete',
        old.rowid,
        coalesce(json_extract(old.payload, '$.data'), ''),
        hex(old.collection || char(0) || old.user_id)
    );
    INSERT INTO memory_terms(rowid, text, scope) VALUES (
        new.rowid,
        coalesce(json_extract(new.payload, '$.data'), ''),
        hex(new.collection || char(0) || new.user_id)
    );
END;
""",
)


def _scope_token(collection: str, user_id: str) -> str:
    """The `scope` token SQLite's hex() gives the same (collection, user) (UTF-8, upper case)."""
    return (collection + "\0" + user_id).encode().hex().upper()


class SQLiteVectorStore:
    """Implements mem0's VectorStoreBase interface by duck typing, so importing this module does not
    import mem0 (which must only happen after its environment is set, see core.memory.service)."""

    def __init__(self, *, collection_name: str, path: str, embedding_model_dims: int) -> None:
        self.collection_name = collection_name
        self.embedding_model_dims = embedding_model_dims
        self.path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # mem0 calls us from several threads at once; one connection per store guarded by a lock.
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA secure_delete=ON")
            # INSERT OR REPLACE deletes the row it replaces; only with recursive triggers does
            # that deletion reach the keyword index.
            self._conn.execute("PRAGMA recursive_triggers=ON")
            self._conn.executescript(_SCHEMA)
            # One transaction, so that two processes opening a store written before keyword
            # search index it once.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                had_index = self._conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'memory_terms'"
                ).fetchone()
                for statement in _KEYWORD_SCHEMA:
                    self._conn.execute(statement)
                if had_index is None:  # written before keyword search: index what it holds
                    self._conn.execute(
                        "INSERT INTO memory_terms(rowid, text, scope) "
                        "SELECT rowid, coalesce(json_extract(payload, '$.data'), ''), "
                        "hex(collection || char(0) || user_id) FROM vectors"
                    )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- VectorStoreBase -----------------------------------------------------------------------
    def create_col(self, name: str, vector_size: int, distance: str) -> None:
        return None  # one table serves every collection

    def insert(
        self,
        vectors: list[Any],
        payloads: list[dict[str, Any]] | None = None,
        ids: list[str] | None = None,
    ) -> None:
        if ids is None:
            raise ValueError("ids are required")
        payloads = payloads or [{} for _ in vectors]
        rows = [
            (
                self.collection_name,
                str(vid),
                payload.get("user_id"),
                payload.get("created_at"),
                vector_blob(vector, self.embedding_model_dims),
                json.dumps(payload),
            )
            for vid, vector, payload in zip(ids, vectors, payloads, strict=True)
        ]
        with self._lock:
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors (collection, id, user_id, created_at, vector, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def search(
        self,
        query: str,
        vectors: Any,
        top_k: int = 5,
        filters: dict[str, Any] | None = None,
    ) -> list[OutputData]:
        user = scoped_user(filters)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, vector, payload FROM vectors WHERE collection = ? AND user_id = ?",
                (self.collection_name, user),
            ).fetchall()
        candidates = []
        for vid, blob, payload_json in rows:
            payload = json.loads(payload_json)
            if matches(payload, filters):
                candidates.append((vid, blob, payload))
        return ranked(candidates, vectors, dims=self.embedding_model_dims, top_k=top_k)

    def delete(self, vector_id: str) -> None:
        with self._lock:
            self._conn.execute(
                "DELETE FROM vectors WHERE collection = ? AND id = ?",
                (self.collection_name, str(vector_id)),
            )

    def update(self, vector_id: str, vector: Any = None, payload: dict[str, Any] | None = None) -> None:
        with self._lock:
            if vector is not None:
                self._conn.execute(
                    "UPDATE vectors SET vector = ? WHERE collection = ? AND id = ?",
                    (vector_blob(vector, self.embedding_model_dims), self.collection_name, str(vector_id)),
                )
            if payload is not None:
                self._conn.execute(
                    "UPDATE vectors SET payload = ?, user_id = ?, created_at = ? "
                    "WHERE collection = ? AND id = ?",
                    (
                        json.dumps(payload),
                        payload.get("user_id"),
                        payload.get("created_at"),
                        self.collection_name,
                        str(vector_id),
                    ),
                )

    def get(self, vector_id: str) -> OutputData | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, payload FROM vectors WHERE collection = ? AND id = ?",
                (self.collection_name, str(vector_id)),
            ).fetchone()
        return OutputData(row[0], None, json.loads(row[1])) if row else None

    def keyword_search(
        self, query: str, top_k: int = 5, filters: dict[str, Any] | None = None
    ) -> list[OutputData] | None:
        """One user's memories (same filters as `search`) containing words of `query`, best BM25
        first, scored with FTS5's bm25 negated (mem0 wants positive, higher is better)."""
        user = scoped_user(filters)
        terms = keyword_terms(query)
        if not terms or top_k <= 0:
            return []
        with self._lock:
            rows = self._conn.execute(
                "SELECT v.id, v.payload, -bm25(memory_terms, 1.0, 0.0) AS score "
                "FROM memory_terms JOIN vectors v ON v.rowid = memory_terms.rowid "
                "WHERE memory_terms MATCH ? AND v.collection = ? AND v.user_id = ? "
                "ORDER BY score DESC, v.created_at DESC, v.id",
                (
                    f'scope : "{_scope_token(self.collection_name, user)}" AND text : ({fts5_query(terms)})',
                    self.collection_name,
                    user,
                ),
            ).fetchall()
        found = []
        for vid, payload_json, score in rows:
            payload = json.loads(payload_json)
            if matches(payload, filters):
                found.append(OutputData(vid, float(score), payload))
                if len(found) >= top_k:
                    break
        return found

    def search_batch(
        self,
        queries: list[str],
        vectors_list: list[Any],
        top_k: int = 1,
        filters: dict[str, Any] | None = None,
    ) -> list[list[OutputData]]:
        return [
            self.search(q, v, top_k=top_k, filters=filters)
            for q, v in zip(queries, vectors_list, strict=True)
        ]

    def list_cols(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT DISTINCT collection FROM vectors")]

    def delete_col(self) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM vectors WHERE collection = ?", (self.collection_name,))

    def col_info(self) -> dict[str, Any]:
        with self._lock:
            count = self._conn.execute(
                "SELECT count(*) FROM vectors WHERE collection = ?",
                (self.collection_name,),
            ).fetchone()[0]
        return {
            "name": self.collection_name,
            "count": count,
            "dims": self.embedding_model_dims,
        }

    def list(self, filters: dict[str, Any] | None = None, top_k: int | None = None) -> list[list[OutputData]]:
        """Newest first. Returned wrapped in a list, the shape mem0's delete_all indexes with [0]."""
        user = scoped_user(filters)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, payload FROM vectors WHERE collection = ? AND user_id = ? "
                "ORDER BY created_at DESC, id",
                (self.collection_name, user),
            ).fetchall()
        return [first_matching(((vid, json.loads(raw)) for vid, raw in rows), filters, top_k)]

    def reset(self) -> None:
        self.delete_col()

    # -- Mnemo extensions ----------------------------------------------------------------------
    # `list` below is this class's method, hence builtins.list in these annotations.
    def user_ids(self) -> builtins.list[str]:
        """Every user with at least one vector in this collection (for per-account housekeeping)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT user_id FROM vectors WHERE collection = ? AND user_id IS NOT NULL "
                "ORDER BY user_id",
                (self.collection_name,),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def user_vectors(self, user_id: str) -> builtins.list[tuple[OutputData, np.ndarray]]:
        """One user's records with their (normalized) vectors, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, vector, payload FROM vectors WHERE collection = ? AND user_id = ? "
                "ORDER BY created_at DESC, id",
                (self.collection_name, user_id),
            ).fetchall()
        return [
            (OutputData(vid, None, json.loads(payload)), vector_from_blob(blob))
            for vid, blob, payload in rows
        ]

    def erase_user(self, user_id: str) -> int:
        """Delete every vector of one user in every collection, then rewrite the file so no deleted
        text survives in free pages or the WAL."""
        with self._lock:
            deleted = self._conn.execute("DELETE FROM vectors WHERE user_id = ?", (user_id,)).rowcount
            self._purge_locked()
        return int(deleted)

    def purge(self) -> None:
        """Rewrite the file and empty the WAL, so that no deleted row's text survives in free pages
        or old WAL frames."""
        with self._lock:
            self._purge_locked()

    def _purge_locked(self) -> None:
        # Merge the keyword index into one segment, which drops every deleted row's terms.
        self._conn.execute("INSERT INTO memory_terms(memory_terms) VALUES ('optimize')")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.execute("VACUUM")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
