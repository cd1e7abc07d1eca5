"""mem0's vectors in PostgreSQL (SUPABASE_DB_URL), partitioned by account like core.memory.vectors.sqlite.

The same duck-typed mem0 interface and Mnemo extensions as `SQLiteVectorStore`, with the same
semantics, so several bot processes ("machines") share one memory and DATA_DIR holds none of it:
- filters, the stored vector format (`bytea`) and the order of search results are
  core.memory.vectors.base's, the same code as the embedded store's;
- recall is an exact cosine score with numpy over one account's rows, fetched through an index on
  (collection, user_id): its cost grows with the person's own memories, not the table's
  (bench/recall_scaling_postgres.py). No pgvector needed
  (Debian has no package for it; Supabase has it, but exact per-account scoring does not need an
  approximate index over everyone's vectors);
- erasure really erases: rows are deleted, then `VACUUM (FULL)` rewrites the table into new files,
  because DELETE (and plain VACUUM, which only marks the space reusable) leaves the deleted bytes in
  the table's pages until something overwrites them. What remains is outside the table: WAL until
  it is recycled, and base backups / point-in-time recovery for the server's retention period.

The table is `mnemo.memory_vectors` (private schema, Row Level Security on, no policy), created here
if missing and also shipped as a Supabase migration, so `supabase db push` creates it. mem0 calls us
from several threads and builds two stores (memories and entities): they share one small connection
pool per database URL in the process.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import BaseModel, ConfigDict, SecretStr

from config import ConfigError
from core.memory.vectors.base import (
    OutputData,
    first_matching,
    matches,
    ranked,
    scoped_user,
    vector_blob,
    vector_from_blob,
)

PROVIDER = "mnemo_postgres"
TABLE = "mnemo.memory_vectors"
SETTING = "SUPABASE_DB_URL"

log = logging.getLogger(__name__)
T = TypeVar("T")

# Applied by this store when the table is missing. supabase/migrations/*_mnemo_memory_vectors.sql
# creates the same objects (tests/core/memory/vectors/test_postgres.py compares the two catalogs);
# the role statements here are conditional because a plain Postgres has no Supabase roles.
# COLLATE "C": byte order, like SQLite, so "newest first" ties and ISO timestamps sort identically
# whatever the database's locale. `payload` is `json`, not `jsonb`: jsonb rejects the \u0000 escape
# that json.dumps writes for a NUL in a memory's text, which the embedded store accepts.
SCHEMA_SQL = """
create schema if not exists mnemo;
create table if not exists mnemo.memory_vectors (
    collection text collate "C" not null,
    id text collate "C" not null,
    user_id text collate "C",
    created_at text collate "C",
    vector bytea not null check (octet_length(vector) % 4 = 0),
    payload json not null,
    primary key (collection, id)
);
create index if not exists memory_vectors_user_idx
    on mnemo.memory_vectors (collection, user_id, created_at);
alter table mnemo.memory_vectors enable row level security;
revoke all on table mnemo.memory_vectors from public;
do $$
begin
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
        revoke all on table mnemo.memory_vectors from anon;
    end if;
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
        revoke all on table mnemo.memory_vectors from authenticated;
    end if;
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
        grant usage on schema mnemo to service_role;
        grant select, insert, update, delete on table mnemo.memory_vectors to service_role;
    end if;
end;
$$;
"""

# Two processes starting at once must not race on CREATE TABLE (a unique violation in pg_type).
_SCHEMA_LOCK_KEY = 0x6D6E656D6F7663  # "mnemovc"

# libpq settings used unless the URL sets them: fail a dead host in seconds, and notice a silently
# dropped connection (a NAT or proxy timing out) instead of blocking a memory worker forever.
_CONNECT_DEFAULTS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}
_POOL_SIZE = 4  # mem0 runs on Mem0Memory's 4 worker threads
_ACQUIRE_TIMEOUT_SECONDS = 30.0


class PostgresVectorConfig(BaseModel):
    """Shape mem0 expects of a vector store config (it reads `collection_name` and deep-copies it).
    The URL stays a SecretStr through mem0's copies and dumps, so no repr shows the password."""

    model_config = ConfigDict(extra="forbid")
    collection_name: str = "mnemo"
    url: SecretStr
    embedding_model_dims: int


# -- connection handling ---------------------------------------------------------------------------


def _redact(text: str, password: str | None) -> str:
    if password and len(password) >= 4:
        text = text.replace(password, "***")
    # scheme://user:password@host, in case libpq echoed a URL back
    return re.sub(r"(://[^\s:/@]*:)[^\s@/]+@", r"\1***@", text)


def _one_line(exc: BaseException, password: str | None) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return _redact(text.removeprefix("connection failed: "), password)


def _conninfo(url: str) -> tuple[str, dict[str, Any]]:
    """The connection string with our libpq defaults added, and its parsed parameters. ConfigError
    with one line (never the password) when libpq cannot parse it."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        # libpq quotes the offending fragment, which can be part of the password: drop the quotes.
        detail = re.sub(r'"[^"]*"', '"..."', " ".join(str(exc).split()))
        detail = detail.removeprefix("invalid connection string: ")
        raise ConfigError(
            f"{SETTING} is not a valid Postgres connection string ({detail}); expected "
            "postgresql://user:password@host:5432/dbname"
        ) from None
    if not params.get("dbname") and not params.get("host"):
        raise ConfigError(f"{SETTING} names no host or database; expected postgresql://user:password@host/db")
    extra = {key: value for key, value in _CONNECT_DEFAULTS.items() if key not in params}
    return make_conninfo(url, **extra), params


def _where(params: dict[str, Any]) -> str:
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or ''}"


class ConnectionPool:
    """A few autocommit connections, opened on demand and reused; a broken one is dropped.

    psycopg_pool is not a dependency and a pool this size needs no background threads: a connection
    is opened by the thread that needs it, and returned idle (autocommit, no open transaction)."""

    def __init__(self, conninfo: str, *, max_size: int = _POOL_SIZE, password: str | None = None) -> None:
        self._conninfo = conninfo
        self._password = password
        self._max_size = max_size
        self._idle: list[psycopg.Connection[Any]] = []
        self._open = 0
        self._closed = False
        self._cond = threading.Condition()

    def _connect(self) -> psycopg.Connection[Any]:
        # prepare_threshold=None: Supabase's transaction pooler (port 6543) has no prepared statements.
        return psycopg.connect(self._conninfo, autocommit=True, prepare_threshold=None)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self._acquire()
        try:
            yield conn
        finally:
            self._release(conn)

    def _acquire(self) -> psycopg.Connection[Any]:
        with self._cond:
            if not self._cond.wait_for(
                lambda: self._closed or self._idle or self._open < self._max_size,
                timeout=_ACQUIRE_TIMEOUT_SECONDS,
            ):
                raise TimeoutError(f"no free database connection after {_ACQUIRE_TIMEOUT_SECONDS:.0f}s")
            if self._closed:
                raise RuntimeError("the memory vector store is closed")
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self._connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def _release(self, conn: psycopg.Connection[Any]) -> None:
        reusable = (
            not conn.closed and not conn.broken and conn.info.transaction_status == pq.TransactionStatus.IDLE
        )
        with self._cond:
            if reusable and not self._closed:
                self._idle.append(conn)
                self._cond.notify()
                return
            self._open -= 1
            self._cond.notify()
        conn.close()

    def discard_idle(self) -> None:
        """After a broken connection (a server restart, a pooler timeout) the idle ones are likely
        broken too: close them so the next use opens a fresh one."""
        with self._cond:
            stale, self._idle = self._idle, []
            self._open -= len(stale)
            self._cond.notify_all()
        for conn in stale:
            conn.close()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            conn.close()


class _SharedPools:
    """One pool per connection string in the process, shared by mem0's memory and entity stores;
    the first user checks the database (reachable, table present or created, privileges)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, tuple[ConnectionPool, int]] = {}

    def acquire(self, url: str) -> tuple[str, ConnectionPool]:
        conninfo, params = _conninfo(url)
        with self._lock:
            entry = self._pools.get(conninfo)
            if entry is not None:
                self._pools[conninfo] = (entry[0], entry[1] + 1)
                return conninfo, entry[0]
            password = params.get("password")
            pool = ConnectionPool(conninfo, password=password)
            try:
                with pool.connection() as conn:
                    _prepare_database(conn, where=_where(params))
            except psycopg.Error as exc:
                pool.close()
                raise ConfigError(
                    f"{SETTING}: cannot use the database at {_where(params)} ({_one_line(exc, password)})"
                ) from None
            except BaseException:
                pool.close()
                raise
            self._pools[conninfo] = (pool, 1)
            return conninfo, pool

    def release(self, conninfo: str) -> None:
        with self._lock:
            entry = self._pools.get(conninfo)
            if entry is None:
                return
            if entry[1] > 1:
                self._pools[conninfo] = (entry[0], entry[1] - 1)
                return
            del self._pools[conninfo]
        entry[0].close()


_POOLS = _SharedPools()


def _prepare_database(conn: psycopg.Connection[Any], *, where: str) -> None:
    """Create the table if missing (one process at a time), then check this role may use it."""
    exists = conn.execute("select to_regclass(%s) is not null", (TABLE,)).fetchone()
    if not (exists and exists[0]):
        try:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                conn.execute(SCHEMA_SQL)
        except psycopg.errors.InsufficientPrivilege:
            raise ConfigError(
                f"{SETTING}: mnemo.memory_vectors does not exist at {where} and this role may not create it; "
                "apply supabase/migrations (supabase db push) or use the database owner's URL"
            ) from None
    try:
        conn.execute(
            "select collection, id, user_id, created_at, vector, payload from mnemo.memory_vectors limit 0"
        )
    except psycopg.errors.UndefinedColumn:
        raise ConfigError(
            f"{SETTING}: mnemo.memory_vectors at {where} has other columns than Mnemo's; "
            "rename or drop that table"
        ) from None
    row = conn.execute(
        "select has_table_privilege(%s, 'select, insert, update, delete'), "
        "       pg_has_role(c.relowner, 'usage') "
        "from pg_class c where c.oid = %s::regclass",
        (TABLE, TABLE),
    ).fetchone()
    if not row or not row[0]:
        raise ConfigError(f"{SETTING}: this role may not read and write mnemo.memory_vectors at {where}")
    if not row[1]:
        # VACUUM (FULL) by a non-owner is skipped with a warning: rows are still deleted, but their
        # bytes stay in the table's free space until autovacuum lets new rows overwrite them.
        log.warning(
            "the %s role does not own %s: forgetting deletes rows but cannot rewrite the table, so "
            "erased text can linger in its files; connect as the table owner to erase completely",
            SETTING,
            TABLE,
        )


# -- the store ----------------------------------------------------------------------------------


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
        self._conninfo, self._pool = _POOLS.acquire(raw)
        self._closed = False

    def _db(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run `work` on a pooled connection. Every statement here is idempotent, so a connection
        the server dropped (restart, failover, idle timeout) is retried once on a fresh one."""
        if self._closed:
            raise RuntimeError("the memory vector store is closed")
        for attempt in (1, 2):
            with self._pool.connection() as conn:
                try:
                    return work(conn)
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

        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "insert into mnemo.memory_vectors (collection, id, user_id, created_at, vector, payload) "
                    "values (%s, %s, %s, %s, %s, %s::json) "
                    "on conflict (collection, id) do update set user_id = excluded.user_id, "
                    "created_at = excluded.created_at, vector = excluded.vector, payload = excluded.payload",
                    rows,
                )

        self._db(work)

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
        self.compact()
        return int(deleted)

    def compact(self) -> None:
        """VACUUM (FULL): writes the live rows into new files and drops the old ones. It holds an
        exclusive lock on the table while it runs (other machines' recalls wait) and its cost grows
        with the whole table; bench/recall_scaling_postgres.py prints it."""
        self._db(lambda conn: conn.execute("vacuum (full) mnemo.memory_vectors"))

    def ping(self) -> None:
        """Cheap readiness check: the database answers and the table is there (no count)."""
        self._db(lambda conn: conn.execute("select 1 from mnemo.memory_vectors limit 0"))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _POOLS.release(self._conninfo)
