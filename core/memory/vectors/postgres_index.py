"""The HNSW index recall uses on PostgreSQL, where pgvector can filter during the index scan.

Recall wants one person's k nearest rows among everyone's. An exact scan reads and scores every row
of the person: its cost grows with their memories (40 ms at 5,000, 1536 dims). An HNSW index finds
near rows in roughly constant time, but the person's rows and the privacy filters are WHERE
clauses: before pgvector 0.8 the index returned its `hnsw.ef_search` nearest rows of everyone and
the filters ran afterwards, so a person could get fewer than k rows back, or none. pgvector 0.8's
iterative index scans (`hnsw.iterative_scan`) keep walking the graph until k rows pass the filters.
So the index is made and used only where the server's pgvector is 0.8 or later, detected once when
the store starts (`IndexPlan`); elsewhere recall is the exact scan, as before.

The index is on the vector table, which holds numbers and ids only (the words are in
mnemo.memory_texts): the scheduled purge never needs VACUUM FULL on it, which would rebuild the
index under an exclusive lock (55 s at 100,000 rows, every recall waiting). A plain VACUUM removes
deleted rows from it without blocking recalls.

pgvector indexes only columns of a fixed size, and `vector` has none (rows of an earlier
EMBEDDING_DIMS stay): the index is on `vector::vector(N)` for the configured N, partial to rows of
that size, named memory_vectors_hnsw_N. Cosine distance (vector_cosine_ops), the distance recall
ranks by. pgvector's HNSW takes at most 2,000 dimensions: above that, the exact scan.

Made with CREATE INDEX CONCURRENTLY (the pool's connections are autocommit), so a bot starting on a
big existing table does not block writes while it builds; one process at a time (advisory lock),
and an invalid index left by an interrupted build is dropped and made again. A role that may not
create it (not the owner) gets a warning and the exact scan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from core.memory.vectors.postgres_pool import SETTING

log = logging.getLogger(__name__)

ITERATIVE_SCAN_SINCE = (0, 8)
MAX_INDEXED_DIMS = 2_000
_INDEX_LOCK_KEY = 0x6D6E656D6F6878  # "mnemohx"


@dataclass(frozen=True)
class IndexPlan:
    """How recall ranks on this database: through `index` (its name) or, when None, exactly."""

    pgvector: tuple[int, ...]
    index: str | None


def index_name(dims: int) -> str:
    return f"memory_vectors_hnsw_{int(dims)}"


def index_sql(vector_schema: str, dims: int, *, concurrently: bool) -> sql.Composed:
    """CREATE INDEX for vectors of `dims` (the Supabase migration has the same for 1536)."""
    return sql.SQL(
        "create index {concurrently} if not exists {name} on mnemo.memory_vectors "
        "using hnsw ((vector::{s}.vector({dims})) {s}.vector_cosine_ops) "
        "where {s}.vector_dims(vector) = {dims}"
    ).format(
        concurrently=sql.SQL("concurrently" if concurrently else ""),
        name=sql.Identifier(index_name(dims)),
        s=sql.Identifier(vector_schema),
        dims=sql.Literal(int(dims)),
    )


def pgvector_version(conn: psycopg.Connection[Any]) -> tuple[int, ...]:
    """The installed `vector` extension's version, e.g. (0, 8, 2); () when it is not installed."""
    row = conn.execute("select extversion from pg_catalog.pg_extension where extname = 'vector'").fetchone()
    if not row:
        return ()
    parts = []
    for part in str(row[0]).split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _valid(conn: psycopg.Connection[Any], name: str) -> bool | None:
    """True when the index exists and is usable, False when a build left it invalid, None when missing."""
    row = conn.execute(
        "select i.indisvalid from pg_catalog.pg_index i where i.indexrelid = to_regclass(%s)",
        (f"mnemo.{name}",),
    ).fetchone()
    return None if row is None else bool(row[0])


def index_usable(version: tuple[int, ...], dims: int) -> bool:
    """Whether recall may go through an HNSW index: pgvector filters during the scan (0.8+) and
    indexes vectors of this size."""
    return version >= ITERATIVE_SCAN_SINCE and 0 < dims <= MAX_INDEXED_DIMS


def prepare_index(conn: psycopg.Connection[Any], vector_schema: str, dims: int) -> IndexPlan:
    """Detect pgvector's version and make the HNSW index for `dims` if it can be used. `conn` must be
    in autocommit mode (CREATE INDEX CONCURRENTLY)."""
    version = pgvector_version(conn)
    if not index_usable(version, dims):
        return IndexPlan(version, None)
    name = index_name(dims)
    if _valid(conn, name):
        return IndexPlan(version, name)
    try:
        conn.execute("select pg_advisory_lock(%s)", (_INDEX_LOCK_KEY,))
        try:
            state = _valid(conn, name)  # another process may have built it while we waited
            if state is False:
                drop = sql.SQL("drop index concurrently if exists mnemo.{}")
                conn.execute(drop.format(sql.Identifier(name)))
            if not state:
                log.info("building the HNSW index %s for recall (minutes on a big table)", name)
                conn.execute(index_sql(vector_schema, dims, concurrently=True))
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_INDEX_LOCK_KEY,))
    except psycopg.errors.InsufficientPrivilege:
        log.warning(
            "%s: this role may not create the HNSW index %s on mnemo.memory_vectors; recall scans a "
            "person's rows exactly (slower for people with many memories): connect once as the table "
            "owner, or apply supabase/migrations",
            SETTING,
            name,
        )
        return IndexPlan(version, None)
    return IndexPlan(version, name if _valid(conn, name) else None)
