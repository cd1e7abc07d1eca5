"""Which embedding model and size the stored memory vectors were made with, kept next to them.

Vectors of one model (or size) cannot be compared with another's: after a change of EMBEDDING_MODEL
or EMBEDDING_DIMS every recall would fail (a reshape error) or return nonsense. So the model and size
are recorded with the data, in the vector store's own database (a one-row-per-collection table:
`embedding` in DATA_DIR/memory_vectors.db, `mnemo.memory_embedding` in Postgres), and start-up
refuses settings that do not match the stored memories, in one line naming EMBEDDING_DIMS and
`python -m bot admin reembed` (core.memory.reembed), which re-embeds them and records the new pair.

Data written before this record existed is adopted: when every stored vector already has the
configured size, the configured model is recorded; otherwise the sizes found are reported.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from config import ConfigError

REEMBED_COMMAND = "python -m bot admin reembed"
SQLITE_FILE = "memory_vectors.db"

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS embedding (
    collection TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    dims INTEGER NOT NULL CHECK (dims > 0),
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
"""

# The same objects as supabase/migrations/*_mnemo_memory_embedding.sql (a test compares them); the
# role statements are conditional because a plain Postgres has no Supabase roles.
POSTGRES_SCHEMA = """
create schema if not exists mnemo;
create table if not exists mnemo.memory_embedding (
    collection text collate "C" primary key,
    model text not null,
    dims integer not null check (dims > 0),
    recorded_at timestamptz not null default now()
);
alter table mnemo.memory_embedding enable row level security;
revoke all on table mnemo.memory_embedding from public;
do $$
begin
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
        revoke all on table mnemo.memory_embedding from anon;
    end if;
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
        revoke all on table mnemo.memory_embedding from authenticated;
    end if;
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
        grant usage on schema mnemo to service_role;
        grant select, insert, update, delete on table mnemo.memory_embedding to service_role;
    end if;
end;
$$;
"""
# Two processes starting at once must not race on CREATE TABLE.
_SCHEMA_LOCK_KEY = 0x6D6E656D6F6565  # "mnemoee"


@dataclass(frozen=True, slots=True)
class EmbeddingSpec:
    model: str
    dims: int

    def __str__(self) -> str:
        return f"{self.model} at {self.dims} dims"


@dataclass(frozen=True, slots=True)
class EmbeddingState:
    """What the vector store holds: the recorded pair (None: nothing recorded yet), whether any vector
    is stored, and (only when nothing is recorded, as that reads every row once) their sizes."""

    recorded: EmbeddingSpec | None
    has_vectors: bool
    sizes: tuple[int, ...] = ()

    def mismatch(self, configured: EmbeddingSpec) -> str | None:
        """The one line that refuses `configured`, or None when it fits the stored vectors."""
        if not self.has_vectors:
            return None  # nothing to misread: the configured pair is (re)recorded
        if self.recorded is None:
            if set(self.sizes) == {configured.dims}:
                return None  # written before the record existed, with this size: adopted
            stored = "stored memory vectors of " + " and ".join(f"{dims} dims" for dims in self.sizes)
        elif self.recorded == configured:
            return None
        else:
            stored = f"stored memory vectors, made with {self.recorded}"
        return (
            f"EMBEDDING_DIMS={configured.dims} and EMBEDDING_MODEL={configured.model} do not match the "
            f"{stored}; set EMBEDDING_MODEL and EMBEDDING_DIMS back, or run `{REEMBED_COMMAND}` to "
            "re-embed every memory with the new model"
        )


class EmbeddingMismatchError(ConfigError):
    """The configured embedding model or size does not match the stored vectors."""


# -- SQLite (DATA_DIR/memory_vectors.db) ----------------------------------------------------------
def _sqlite(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    conn.executescript(_SQLITE_SCHEMA)
    return conn


def _sqlite_state(path: Path, collection: str) -> EmbeddingState:
    with closing(_sqlite(path)) as conn:
        row = conn.execute("SELECT model, dims FROM embedding WHERE collection = ?", (collection,)).fetchone()
        table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vectors'"
        ).fetchone()
        has_vectors = bool(table) and conn.execute("SELECT 1 FROM vectors LIMIT 1").fetchone() is not None
        sizes: list[Any] = []
        if has_vectors and row is None:
            sizes = conn.execute("SELECT DISTINCT length(vector) / 4 FROM vectors ORDER BY 1").fetchall()
    recorded = EmbeddingSpec(row[0], int(row[1])) if row else None
    return EmbeddingState(recorded, has_vectors, tuple(int(r[0]) for r in sizes))


def _sqlite_record(path: Path, collection: str, spec: EmbeddingSpec) -> None:
    with closing(_sqlite(path)) as conn:
        conn.execute(
            "INSERT INTO embedding (collection, model, dims) VALUES (?, ?, ?) "
            "ON CONFLICT (collection) DO UPDATE SET model = excluded.model, dims = excluded.dims, "
            "recorded_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
            (collection, spec.model, spec.dims),
        )


# -- PostgreSQL (SUPABASE_DB_URL) -----------------------------------------------------------------
def _postgres(url: str) -> psycopg.Connection[Any]:
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10, prepare_threshold=None)
    except psycopg.Error as exc:
        raise ConfigError(
            f"SUPABASE_DB_URL: could not connect to read the embedding record ({type(exc).__name__})"
        ) from None
    try:
        exists = conn.execute("select to_regclass('mnemo.memory_embedding') is not null").fetchone()
        if not (exists and exists[0]):
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                conn.execute(POSTGRES_SCHEMA)
    except psycopg.errors.InsufficientPrivilege:
        conn.close()
        raise ConfigError(
            "SUPABASE_DB_URL: mnemo.memory_embedding does not exist and this role may not create it; "
            "apply supabase/migrations (supabase db push) or use the database owner's URL"
        ) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _postgres_state(url: str, collection: str) -> EmbeddingState:
    with _postgres(url) as conn:
        row = conn.execute(
            "select model, dims from mnemo.memory_embedding where collection = %s", (collection,)
        ).fetchone()
        table = conn.execute("select to_regclass('mnemo.memory_vectors') is not null").fetchone()
        has_vectors = bool(table and table[0]) and (
            conn.execute("select 1 from mnemo.memory_vectors limit 1").fetchone() is not None
        )
        sizes: list[Any] = []
        if has_vectors and row is None:
            # Both layouts: float32 bytea (before the pgvector upgrade) and pgvector's type, which
            # casts to text as '[x,y,...]' (octet_length does not take it).
            sizes = conn.execute(
                "select distinct case when pg_typeof(vector) = 'bytea'::regtype "
                "then (octet_length(vector::text) - 2) / 8 "
                "else array_length(string_to_array(btrim(vector::text, '[]'), ','), 1) end "
                "from mnemo.memory_vectors order by 1"
            ).fetchall()
    recorded = EmbeddingSpec(row[0], int(row[1])) if row else None
    return EmbeddingState(recorded, has_vectors, tuple(int(r[0]) for r in sizes))


def _postgres_record(url: str, collection: str, spec: EmbeddingSpec) -> None:
    with _postgres(url) as conn:
        conn.execute(
            "insert into mnemo.memory_embedding (collection, model, dims) values (%s, %s, %s) "
            "on conflict (collection) do update set model = excluded.model, dims = excluded.dims, "
            "recorded_at = now()",
            (collection, spec.model, spec.dims),
        )


# -- the one interface ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EmbeddingRecord:
    """Where the record lives: the Postgres URL when vectors are there, else the SQLite file."""

    data_dir: Path
    vector_db_url: str | None = None
    collection: str = "mnemo"

    def state(self) -> EmbeddingState:
        """Synchronous (a file or one database round trip). ConfigError when Postgres is unusable."""
        if self.vector_db_url:
            return _postgres_state(self.vector_db_url, self.collection)
        return _sqlite_state(self.data_dir / SQLITE_FILE, self.collection)

    def record(self, spec: EmbeddingSpec) -> None:
        if self.vector_db_url:
            _postgres_record(self.vector_db_url, self.collection, spec)
        else:
            _sqlite_record(self.data_dir / SQLITE_FILE, self.collection, spec)

    def check(self, configured: EmbeddingSpec) -> None:
        """Refuse settings that do not fit the stored vectors (EmbeddingMismatchError, one line);
        otherwise make sure the configured pair is the one recorded."""
        state = self.state()
        problem = state.mismatch(configured)
        if problem is not None:
            raise EmbeddingMismatchError(problem)
        if state.recorded != configured:
            self.record(configured)


__all__ = [
    "REEMBED_COMMAND",
    "EmbeddingMismatchError",
    "EmbeddingRecord",
    "EmbeddingSpec",
    "EmbeddingState",
]
