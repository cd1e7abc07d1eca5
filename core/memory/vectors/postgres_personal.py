"""An HNSW index of their own for people with many memories (core.jobs' index-memory-vectors job).

Recall wants one person's k nearest rows. Through the shared HNSW index (core.memory.vectors.
postgres_index) the person is a WHERE clause: pgvector's iterative scan walks everyone's rows in
order of distance and keeps the person's, so the walk grows with the share of rows that are not
theirs. Measured (bench/recall_scaling_postgres.py, 1536 dims): a person with 5,000 of 25,000 rows
made the index yield about 300 rows to keep 61, and a person with a smaller share of a bigger
table makes it yield more, up to `hnsw.max_scan_tuples`, after which recall falls back to the
exact scan of all their rows. A partial HNSW index over one person's rows
(`WHERE collection = ... AND user_id = ... AND vector_dims(vector) = N`, which recall's own WHERE
clause implies, so the planner picks it for them) is walked without filtering anyone out: the cost
of their recall no longer depends on anyone else's memories.

pgvector's documentation recommends partial indexes where a filter has few distinct values; an
index per person would not scale to every person (each index costs the planner and every insert a
little), so only people with at least MIN_ROWS memories get one; people below that are scanned
exactly (at most k rows) or through the shared index as before. An index stays until its person
drops under KEEP_ROWS (so one forget does not drop and rebuild it), and is dropped when they have
none left (erased), at the next run: it holds their vectors (numbers, no words), like the shared
index does until VACUUM cleans it.

Built with CREATE INDEX CONCURRENTLY (writes go on; each build reads the table twice), at most
MAX_BUILDS_PER_RUN per run, and one process at a time (a try-lock: a second runner skips). The
names hold a hash of the collection and the person, never their id.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from pydantic import SecretStr

from core.memory.vectors.postgres_index import index_name, index_usable, pgvector_version
from core.memory.vectors.postgres_pool import SETTING, parse_url
from core.memory.vectors.postgres_schema import vector_schema

log = logging.getLogger(__name__)

MIN_ROWS = 1_000
KEEP_ROWS = 500
MAX_BUILDS_PER_RUN = 4
LOCK_KEY = 0x6D6E656D6F7069  # "mnemopi"

# Counted on the text table (one row per memory, as in the vector table): through its (collection,
# user_id) b-tree as an index-only scan, and where the planner reads the table instead, its rows
# are small, where the vector table's are 6 KB each at 1536 dims.
_COUNTS = """
select collection, user_id, count(*) from mnemo.memory_texts
 group by collection, user_id having count(*) >= %s
"""

_EXISTING = """
select c.relname, i.indisvalid from pg_catalog.pg_index i
  join pg_catalog.pg_class c on c.oid = i.indexrelid
 where i.indrelid = to_regclass('mnemo.memory_vectors') and starts_with(c.relname, %s)
"""


def personal_prefix(dims: int) -> str:
    return f"{index_name(dims)}_p_"


def personal_index_name(dims: int, collection: str, user: str) -> str:
    digest = hashlib.sha256(f"{collection}\x00{user}".encode()).hexdigest()[:20]
    return personal_prefix(dims) + digest


def personal_index_sql(vector_schema: str, dims: int, collection: str, user: str) -> sql.Composed:
    """The shared index's definition, partial to one person's rows of this size."""
    return sql.SQL(
        "create index concurrently if not exists {name} on mnemo.memory_vectors "
        "using hnsw ((vector::{s}.vector({dims})) {s}.vector_cosine_ops) "
        "where collection = {collection} and user_id = {user} and {s}.vector_dims(vector) = {dims}"
    ).format(
        name=sql.Identifier(personal_index_name(dims, collection, user)),
        s=sql.Identifier(vector_schema),
        dims=sql.Literal(int(dims)),
        collection=sql.Literal(collection),
        user=sql.Literal(user),
    )


@dataclass(frozen=True, slots=True)
class IndexChanges:
    built: int = 0
    dropped: int = 0


def _never() -> bool:
    return False


class PersonalIndexes:
    """Builds and drops the per-person HNSW indexes of mnemo.memory_vectors for one vector size."""

    def __init__(
        self,
        url: SecretStr | str,
        *,
        dims: int,
        min_rows: int = MIN_ROWS,
        keep_rows: int = KEEP_ROWS,
        max_builds: int = MAX_BUILDS_PER_RUN,
    ) -> None:
        if not 1 <= keep_rows <= min_rows:
            raise ValueError("keep_rows must be between 1 and min_rows")
        raw = url.get_secret_value() if isinstance(url, SecretStr) else url
        self._conninfo, _ = parse_url(raw)
        self._dims = dims
        self._min_rows = min_rows
        self._keep_rows = keep_rows
        self._max_builds = max_builds
        self._told_no_privilege = False  # said once per process, not at every run

    def run(self, should_stop: Callable[[], bool] = _never) -> IndexChanges:
        """One pass: build the missing indexes (at most max_builds), drop the ones no longer
        wanted and any a failed build left invalid. Nothing when pgvector cannot filter during
        the scan (before 0.8), when the store never ran here, or when another process is at it."""
        with psycopg.connect(self._conninfo, autocommit=True, prepare_threshold=None) as conn:
            row = conn.execute("select to_regclass('mnemo.memory_vectors') is not null").fetchone()
            if not (row and row[0]) or not index_usable(pgvector_version(conn), self._dims):
                return IndexChanges()
            locked = conn.execute("select pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            if not (locked and locked[0]):
                return IndexChanges()
            try:
                return self._pass(conn, vector_schema(conn) or "public", should_stop)
            except psycopg.errors.InsufficientPrivilege:
                log.log(
                    logging.DEBUG if self._told_no_privilege else logging.WARNING,
                    "%s: this role may not create indexes on mnemo.memory_vectors, so people with "
                    "many memories get no index of their own (recall still works, slower for them)",
                    SETTING,
                )
                self._told_no_privilege = True
                return IndexChanges()
            finally:
                conn.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))

    def _pass(
        self, conn: psycopg.Connection[Any], schema: str, should_stop: Callable[[], bool]
    ) -> IndexChanges:
        existing: dict[str, bool] = dict(conn.execute(_EXISTING, (personal_prefix(self._dims),)).fetchall())
        wanted: dict[str, tuple[str, str]] = {}
        for collection, user, count in conn.execute(_COUNTS, (self._keep_rows,)).fetchall():
            name = personal_index_name(self._dims, collection, user)
            if count >= self._min_rows or existing.get(name):
                wanted[name] = (collection, user)
        dropped = 0
        for name, valid in sorted(existing.items()):
            if name in wanted and valid:
                continue
            if should_stop():
                return IndexChanges(0, dropped)
            # An invalid one (an interrupted build) is dropped and built again below.
            conn.execute(sql.SQL("drop index concurrently if exists mnemo.{}").format(sql.Identifier(name)))
            dropped += name not in wanted
        built = 0
        for name, (collection, user) in sorted(wanted.items()):
            if existing.get(name):
                continue
            if built >= self._max_builds or should_stop():
                break
            log.info("building %s (a person with at least %d memories)", name, self._min_rows)
            conn.execute(personal_index_sql(schema, self._dims, collection, user))
            built += 1
        return IndexChanges(built, dropped)
