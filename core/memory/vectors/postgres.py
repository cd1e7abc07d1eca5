"""mem0's vectors in PostgreSQL (SUPABASE_DB_URL), partitioned by account like core.memory.vectors.sqlite.

The same duck-typed mem0 interface and Mnemo extensions as `SQLiteVectorStore`, with the same
semantics, so several bot processes ("machines") share one memory and DATA_DIR holds none of it:
- filters and the order of results are core.memory.vectors.base's (score, then newest, then id);
- vectors (numbers and ids) and words (mem0's payload, the keyword tsvector) are in two tables,
  mnemo.memory_vectors and mnemo.memory_texts, one row each per memory
  (core.memory.vectors.postgres_schema);
- recall ranks in the database with pgvector: the person's top k by cosine similarity, with the
  privacy filters as SQL on the payload, through an HNSW index with iterative scans where pgvector
  is 0.8 or later, exactly otherwise (core.memory.vectors.postgres_recall). Only payloads and
  scores come back, not vectors;
- keyword search (mem0's BM25 signal) is PostgreSQL full-text search over the text table: a GIN
  index on `tsv`, any of the query's words (websearch_to_tsquery, which never rejects input), and
  an Okapi BM25 score over the person's rows, the scale mem0's normalization expects;
- erasure deletes at once (gone from every query) and records that it did; the text table's files
  are rewritten by the scheduled purge (core.memory.vectors.postgres_purge, VACUUM FULL of the text
  table and a plain VACUUM of the vector table, at most once per VECTOR_PURGE_INTERVAL_MINUTES), not
  by every forget. What remains outside the table: WAL until it is recycled, and backups for the
  server's retention; deleted vectors' numbers stay in the vector table's free space until reused.

The tables are created or upgraded if needed. mem0 calls us
from several threads and builds two stores (memories and entities): they share one small
connection pool per database URL in the process (core.memory.vectors.postgres_pool).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict, SecretStr

from core.memory.vectors.base import (
    OutputData,
    first_matching,
    matches,
    scoped_user,
    unit_vector,
    vector_blob,
)
from core.memory.vectors.postgres_index import IndexPlan, prepare_index
from core.memory.vectors.postgres_pool import POOLS
from core.memory.vectors.postgres_queries import (
    CHANGED_SQL,
    INSERT_SQL,
    KEYWORD_SQL,
    UPDATE_BOTH,
    UPDATE_PAYLOAD,
    UPDATE_VECTOR,
    checked_text,
    configure_connection,
    filters_sql,
    keyword_text,
    payload_params,
    search_text,
)
from core.memory.vectors.postgres_recall import recall
from core.memory.vectors.postgres_schema import prepare_database, vector_schema

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
        exact_recall: bool = False,
    ) -> None:
        """`exact_recall`: never use the HNSW index (benchmarks and tests compare the two); by
        default it is used where the server's pgvector can filter during the scan (0.8+)."""
        self.collection_name = collection_name
        self.embedding_model_dims = embedding_model_dims
        raw = url.get_secret_value() if isinstance(url, SecretStr) else url
        self._conninfo, self._pool = POOLS.acquire(
            raw, prepare=prepare_database, configure=configure_connection
        )
        self._closed = False
        # pgvector's operator and functions, qualified: on Supabase they live in `extensions`.
        schema = self._db(vector_schema) or "public"
        self._vec = sql.Identifier(schema)
        self.index_plan = (
            IndexPlan((), None)
            if exact_recall
            else self._db(lambda conn: prepare_index(conn, schema, embedding_model_dims))
        )

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
    def _vector(self, vector: Any) -> np.ndarray:
        vector_blob(vector, self.embedding_model_dims)  # ValueError for the wrong size
        arr = unit_vector(vector)
        if not np.isfinite(arr).all():
            raise ValueError("a vector may not hold NaN or infinity (pgvector refuses them)")
        return arr

    def _changed(self, query: str, before: str = "") -> sql.Composed:
        """`query` (a DELETE or UPDATE ... returning 1) that also marks the purge as due."""
        return sql.SQL(CHANGED_SQL).format(sql.SQL(before), sql.SQL(query))

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
                checked_text("id", vid),
                checked_text("user_id", payload.get("user_id")),
                checked_text("created_at", payload.get("created_at")),
                self._vector(vector),
                json.dumps(payload),
                search_text(payload),
            )
            for vid, vector, payload in zip(ids, vectors, payloads, strict=True)
        ]
        if not rows:
            return

        def insert_rows(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    INSERT_SQL,
                    [dict(zip(("c", "i", "u", "t", "v", "p", "w"), row, strict=True)) for row in rows],
                    returning=True,
                )
                replaced = False
                while True:
                    replaced = replaced or any(r[0] for r in cur.fetchall())
                    if not cur.nextset():
                        break
                if replaced:
                    cur.execute(
                        "update mnemo.memory_vectors_purge set deleted_at = greatest(deleted_at, now())"
                    )

        self._db(insert_rows)

    def search(
        self,
        query: str,
        vectors: Any,
        top_k: int = 5,
        filters: dict[str, Any] | None = None,
    ) -> builtins.list[OutputData]:
        user = scoped_user(filters)
        if "\x00" in user or top_k <= 0:
            return []  # no stored row can have a NUL: PostgreSQL text cannot hold one
        probe = unit_vector(vectors)
        if probe.shape != (self.embedding_model_dims,) or not np.isfinite(probe).all():
            return []  # nothing stored can be compared with it
        where, params = filters_sql(filters)
        # Rows of another vector size (EMBEDDING_DIMS changed) cannot be scored against this one.
        rows = self._db(
            lambda conn: recall(
                conn,
                plan=self.index_plan,
                vec=self._vec,
                dims=self.embedding_model_dims,
                probe=probe,
                collection=self.collection_name,
                user=user,
                where=where,
                params=params,
                top_k=top_k,
            )
        )
        # float32 like the embedded store's scores (pgvector sums in float32, returns a double);
        # clamped to [0, 1] as there (a zero vector scores 0).
        return [
            OutputData(vid, max(0.0, float(np.float32(sim))), payload)
            for vid, payload, sim, _ in rows
            if matches(payload, filters)
        ]

    def keyword_search(
        self, query: str, top_k: int = 5, filters: dict[str, Any] | None = None
    ) -> builtins.list[OutputData] | None:
        """mem0's keyword signal: the person's memories holding any of the query's words (English
        stems), best BM25 score first. Any text is a query: one without words matches nothing."""
        user = scoped_user(filters)
        text = keyword_text(query)
        if "\x00" in user or top_k <= 0 or not text:
            return []
        where, params = filters_sql(filters)
        statement = sql.SQL(KEYWORD_SQL).format(where=where)
        args = (text, self.collection_name, user, *params, self.collection_name, user, top_k)
        rows = self._db(lambda conn: conn.execute(statement, args).fetchall())
        return [
            OutputData(vid, float(score), payload)
            for vid, payload, score in rows
            if matches(payload, filters)
        ]

    def delete(self, vector_id: str) -> None:
        vid = checked_text("id", vector_id)
        statement = self._changed(
            "delete from mnemo.memory_vectors where collection = %s and id = %s returning 1"
        )
        self._db(lambda conn: conn.execute(statement, (self.collection_name, vid)))

    def update(self, vector_id: str, vector: Any = None, payload: dict[str, Any] | None = None) -> None:
        vid = checked_text("id", vector_id)
        # One statement per case (literal SQL, one round trip each). The old row version keeps the
        # old text in the files until the purge: marked like a delete.
        key = {"c": self.collection_name, "i": vid}
        if vector is not None and payload is not None:
            before, query = UPDATE_BOTH
            params: dict[str, Any] = {"v": self._vector(vector), **payload_params(payload), **key}
        elif vector is not None:
            before, query = UPDATE_VECTOR
            params = {"v": self._vector(vector), **key}
        elif payload is not None:
            before, query = UPDATE_PAYLOAD
            params = {**payload_params(payload), **key}
        else:
            return
        statement = self._changed(query, before)
        self._db(lambda conn: conn.execute(statement, params))

    def get(self, vector_id: str) -> OutputData | None:
        if "\x00" in str(vector_id):
            return None
        row = self._db(
            lambda conn: conn.execute(
                "select id, payload from mnemo.memory_texts where collection = %s and id = %s",
                (self.collection_name, str(vector_id)),
            ).fetchone()
        )
        return OutputData(row[0], None, row[1]) if row else None

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
        statement = self._changed("delete from mnemo.memory_vectors where collection = %s returning 1")
        self._db(lambda conn: conn.execute(statement, (self.collection_name,)))

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
        where, params = filters_sql(filters)
        query = sql.SQL(
            "select id, payload from mnemo.memory_texts where collection = %s and user_id = %s{where} "
            "order by created_at desc nulls last, id"
        ).format(where=where)
        args: tuple[Any, ...] = (self.collection_name, user, *params)
        if top_k is not None:
            query += sql.SQL(" limit %s")  # filtered in the database: let it stop early
            args += (max(0, top_k),)
        rows = self._db(lambda conn: conn.execute(query, args).fetchall())
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
        """One user's records with their (normalized) vectors, newest first (housekeeping)."""
        if "\x00" in user_id:
            return []
        statement = sql.SQL(
            "select v.id, v.vector, t.payload from mnemo.memory_vectors v "
            "join mnemo.memory_texts t on t.collection = v.collection and t.id = v.id "
            "where v.collection = %s and v.user_id = %s and {s}.vector_dims(v.vector) = %s "
            "order by v.created_at desc nulls last, v.id"
        ).format(s=self._vec)
        args = (self.collection_name, user_id, self.embedding_model_dims)
        rows = self._db(lambda conn: conn.execute(statement, args, binary=True).fetchall())
        return [(OutputData(vid, None, payload), vector.to_numpy()) for vid, vector, payload in rows]

    def erase_user(self, user_id: str) -> int:
        """Delete every vector of one user in every collection, at once (their text rows go with
        them): gone from every query. The scheduled purge (core.memory.vectors.postgres_purge)
        rewrites the text table's files."""
        user = checked_text("user_id", user_id)
        statement = self._changed("delete from mnemo.memory_vectors where user_id = %s returning 1")

        row = self._db(lambda conn: conn.execute(statement, (user,)).fetchone())
        return int(row[0]) if row else 0

    def purge(self) -> None:
        """Called after every forget: nothing to do here any more. Deleting recorded that the files
        hold deleted text; the scheduled purge job rewrites them (at most once per interval), so a
        forget no longer locks everyone's recalls behind a VACUUM FULL of the shared table."""
        return None

    def ping(self) -> None:
        """Cheap readiness check: the database answers and the table is there (no count)."""
        self._db(lambda conn: conn.execute("select 1 from mnemo.memory_vectors limit 0"))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            POOLS.release(self._conninfo)
