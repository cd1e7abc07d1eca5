"""mem0's vectors in PostgreSQL (SUPABASE_DB_URL), partitioned by account like core.memory.vectors.sqlite.

The same duck-typed mem0 interface and Mnemo extensions as `SQLiteVectorStore`, with the same
semantics, so several bot processes ("machines") share one memory and DATA_DIR holds none of it:
- filters, the stored vector format (`bytea`) and the order of search results are
  core.memory.vectors.base's, the same code as the embedded store's;
- recall is an exact cosine score with numpy over one account's rows, fetched through an index on
  (collection, user_id): its cost grows with the person's own memories, not the table's
  (bench/recall_scaling_postgres.py). No pgvector needed (Debian has no package for it; Supabase
  has it, but exact per-account scoring does not need an approximate index over everyone's vectors);
- erasure really erases: rows are deleted, then `VACUUM (FULL)` rewrites the table into new files,
  because DELETE (and plain VACUUM, which only marks the space reusable) leaves the deleted bytes in
  the table's pages until something overwrites them. What remains is outside the table: WAL until
  it is recycled, and base backups / point-in-time recovery for the server's retention period.

The table (core.memory.vectors.postgres_schema) is `mnemo.memory_vectors`, created if missing. mem0
calls us from several threads and builds two stores (memories and entities): they share one small
connection pool per database URL in the process (core.memory.vectors.postgres_pool).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import psycopg
from pydantic import BaseModel, ConfigDict, SecretStr

from core.memory.vectors.base import (
    OutputData,
    first_matching,
    matches,
    ranked,
    scoped_user,
    vector_blob,
    vector_from_blob,
)
from core.memory.vectors.postgres_pool import POOLS
from core.memory.vectors.postgres_schema import prepare_database

PROVIDER = "mnemo_postgres"

T = TypeVar("T")


class PostgresVectorConfig(BaseModel):
    """Shape mem0 expects of a vector store config (it reads `collection_name` and deep-copies it).
    The URL stays a SecretStr through mem0's copies and dumps, so no repr shows the password."""

    model_config = ConfigDict(extra="forbid")
    collection_name: str = "mnemo"
    url: SecretStr
    embedding_model_dims: int


class PostgresVectorStore:
    """Implements mem0's VectorStoreBase interface by duck typing (importing this module does not
    import mem0), with the same Mnemo extensions as SQLiteVectorStore."""

    def __init__(
        self,
        *,
        collection_name: str,
        url: SecretStr | str,
        embedding_model_dims: int,
    ) -> None:
        self.collection_name = collection_name
        self.embedding_model_dims = embedding_model_dims
        raw = url.get_secret_value() if isinstance(url, SecretStr) else url
        self._conninfo, self._pool = POOLS.acquire(raw, prepare=prepare_database)
        self._closed = False

    def _db(self, statements: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run `statements` on a pooled connection. Every statement here is idempotent, so a connection
        the server dropped (restart, failover, idle timeout) is retried once on a fresh one."""
        if self._closed:
            raise RuntimeError("the memory vector store is closed")
        for attempt in (1, 2):
            with self._pool.connection() as conn:
                try:
                    return statements(conn)
                except psycopg.OperationalError:
                    if attempt == 2 or not conn.broken:
                        raise
            self._pool.discard_idle()
        raise AssertionError("unreachable")  # pragma: no cover

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _text(name: str, value: Any) -> str | None:
        if value is None:
            return None
        text = str(value)
        if "\x00" in text:
            raise ValueError(f"{name} may not contain a NUL character (PostgreSQL text cannot hold one)")
        return text

    def _payload_params(self, payload: dict[str, Any]) -> tuple[str, str | None, str | None]:
        return (
            json.dumps(payload),
            self._text("user_id", payload.get("user_id")),
            self._text("created_at", payload.get("created_at")),
        )

    # -- VectorStoreBase -----------------------------------------------------------------------
    def create_col(self, name: str, vector_size: int, distance: str) -> None:
        return None  # one table serves every collection

    def insert(
        self,
        vectors: builtins.list[Any],
        payloads: builtins.list[dict[str, Any]] | None = None,
        ids: builtins.list[str] | None = None,
    ) -> None:
        if ids is None:
            raise ValueError("ids are required")
        payloads = payloads or [{} for _ in vectors]
        # Everything is checked before the first statement, and the batch is one transaction: a bad
        # row writes nothing.
        rows = [
            (
                self.collection_name,
                self._text("id", vid),
                self._text("user_id", payload.get("user_id")),
                self._text("created_at", payload.get("created_at")),
                vector_blob(vector, self.embedding_model_dims),
                json.dumps(payload),
            )
            for vid, vector, payload in zip(ids, vectors, payloads, strict=True)
        ]
        if not rows:
            return

        def insert_rows(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "insert into mnemo.memory_vectors (collection, id, user_id, created_at, vector, payload) "
                    "values (%s, %s, %s, %s, %s, %s::json) "
                    "on conflict (collection, id) do update set user_id = excluded.user_id, "
                    "created_at = excluded.created_at, vector = excluded.vector, payload = excluded.payload",
                    rows,
                )

        self._db(insert_rows)

    def _user_rows(self, user: str, *, order: bool) -> builtins.list[tuple[Any, ...]]:
        if "\x00" in user:
            return []  # no stored row can have it: PostgreSQL text cannot hold a NUL
        # Rows of another vector size (EMBEDDING_DIMS changed) cannot be scored against this one.
        query = (
            "select id, vector, payload from mnemo.memory_vectors "
            "where collection = %s and user_id = %s and octet_length(vector) = %s"
        )
        if order:
            query += " order by created_at desc nulls last, id"
        params = (self.collection_name, user, 4 * self.embedding_model_dims)
        return self._db(lambda conn: conn.execute(query, params, binary=True).fetchall())

    def search(
        self,
        query: str,
        vectors: Any,
        top_k: int = 5,
        filters: dict[str, Any] | None = None,
    ) -> builtins.list[OutputData]:
        user = scoped_user(filters)
        candidates = [
            (vid, blob, payload)
            for vid, blob, payload in self._user_rows(user, order=False)
            if matches(payload, filters)
        ]
        return ranked(candidates, vectors, dims=self.embedding_model_dims, top_k=top_k)

    def delete(self, vector_id: str) -> None:
        vid = self._text("id", vector_id)
        self._db(
            lambda conn: conn.execute(
                "delete from mnemo.memory_vectors where collection = %s and id = %s",
                (self.collection_name, vid),
            )
        )

    def update(self, vector_id: str, vector: Any = None, payload: dict[str, Any] | None = None) -> None:
        vid = self._text("id", vector_id)
        # One statement per case (literal SQL, one round trip each).
        if vector is not None and payload is not None:
            query = (
                "update mnemo.memory_vectors set vector = %s, payload = %s::json, user_id = %s, "
                "created_at = %s where collection = %s and id = %s"
            )
            params: tuple[Any, ...] = (
                vector_blob(vector, self.embedding_model_dims),
                *self._payload_params(payload),
            )
        elif vector is not None:
            query = "update mnemo.memory_vectors set vector = %s where collection = %s and id = %s"
            params = (vector_blob(vector, self.embedding_model_dims),)
        elif payload is not None:
            query = (
                "update mnemo.memory_vectors set payload = %s::json, user_id = %s, created_at = %s "
                "where collection = %s and id = %s"
            )
            params = self._payload_params(payload)
        else:
            return
        params += (self.collection_name, vid)
        self._db(lambda conn: conn.execute(query, params))

    def get(self, vector_id: str) -> OutputData | None:
        if "\x00" in str(vector_id):
            return None
        row = self._db(
            lambda conn: conn.execute(
                "select id, payload from mnemo.memory_vectors where collection = %s and id = %s",
                (self.collection_name, str(vector_id)),
            ).fetchone()
        )
        return OutputData(row[0], None, row[1]) if row else None

    def keyword_search(
        self, query: str, top_k: int = 5, filters: dict[str, Any] | None = None
    ) -> builtins.list[OutputData] | None:
        return None  # no BM25 index: mem0 then ranks by semantic similarity alone

    def search_batch(
        self,
        queries: builtins.list[str],
        vectors_list: builtins.list[Any],
        top_k: int = 1,
        filters: dict[str, Any] | None = None,
    ) -> builtins.list[builtins.list[OutputData]]:
        return [
            self.search(q, v, top_k=top_k, filters=filters)
            for q, v in zip(queries, vectors_list, strict=True)
        ]

    def list_cols(self) -> builtins.list[str]:
        rows = self._db(
            lambda conn: conn.execute(
                "select distinct collection from mnemo.memory_vectors order by 1"
            ).fetchall()
        )
        return [str(r[0]) for r in rows]

    def delete_col(self) -> None:
        self._db(
            lambda conn: conn.execute(
                "delete from mnemo.memory_vectors where collection = %s",
                (self.collection_name,),
            )
        )

    def col_info(self) -> dict[str, Any]:
        row = self._db(
            lambda conn: conn.execute(
                "select count(*) from mnemo.memory_vectors where collection = %s",
                (self.collection_name,),
            ).fetchone()
        )
        return {
            "name": self.collection_name,
            "count": int(row[0]) if row else 0,
            "dims": self.embedding_model_dims,
        }

    def list(
        self, filters: dict[str, Any] | None = None, top_k: int | None = None
    ) -> builtins.list[builtins.list[OutputData]]:
        """Newest first. Returned wrapped in a list, the shape mem0's delete_all indexes with [0]."""
        user = scoped_user(filters)
        if "\x00" in user:
            return [[]]
        query = (
            "select id, payload from mnemo.memory_vectors where collection = %s and user_id = %s "
            "order by created_at desc nulls last, id"
        )
        params: tuple[Any, ...] = (self.collection_name, user)
        if top_k is not None and set(filters or {}) == {"user_id"}:
            query += " limit %s"  # nothing left to filter in Python: let the database stop early
            params += (max(0, top_k),)
        rows = self._db(lambda conn: conn.execute(query, params).fetchall())
        return [first_matching(rows, filters, top_k)]

    def reset(self) -> None:
        self.delete_col()

    # -- Mnemo extensions ----------------------------------------------------------------------
    def user_ids(self) -> builtins.list[str]:
        """Every user with at least one vector in this collection (for per-account housekeeping)."""
        rows = self._db(
            lambda conn: conn.execute(
                "select distinct user_id from mnemo.memory_vectors "
                "where collection = %s and user_id is not null order by user_id",
                (self.collection_name,),
            ).fetchall()
        )
        return [str(r[0]) for r in rows]

    def user_vectors(self, user_id: str) -> builtins.list[tuple[OutputData, np.ndarray]]:
        """One user's records with their (normalized) vectors, newest first."""
        return [
            (OutputData(vid, None, payload), vector_from_blob(blob))
            for vid, blob, payload in self._user_rows(user_id, order=True)
        ]

    def erase_user(self, user_id: str) -> int:
        """Delete every vector of one user in every collection, then rewrite the table so none of the
        deleted text survives in its files (always: an earlier erasure may have failed before its
        rewrite, and asking again must finish the job)."""
        user = self._text("user_id", user_id)
        deleted = self._db(
            lambda conn: conn.execute("delete from mnemo.memory_vectors where user_id = %s", (user,)).rowcount
        )
        self.purge()
        return int(deleted)

    def purge(self) -> None:
        """Remove deleted rows' text from the table's files. VACUUM (FULL): writes the live rows into
        new files and drops the old ones. It holds an exclusive lock on the table while it runs
        (other machines' recalls wait) and its cost grows with the whole table;
        bench/recall_scaling_postgres.py prints it."""
        self._db(lambda conn: conn.execute("vacuum (full) mnemo.memory_vectors"))

    def ping(self) -> None:
        """Cheap readiness check: the database answers and the table is there (no count)."""
        self._db(lambda conn: conn.execute("select 1 from mnemo.memory_vectors limit 0"))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            POOLS.release(self._conninfo)
