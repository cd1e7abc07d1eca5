"""The memory vector table in PostgreSQL: created if missing, upgraded from the old layout, checked
before first use.

The table is `mnemo.memory_vectors` (private schema, Row Level Security on, no policy), created here
if missing and also shipped as Supabase migrations, so `supabase db push` creates it:
- `vector` is pgvector's type (the `vector` extension: Supabase has it; tests run PyPI's pgserver),
  so recall ranks a person's rows in the database and returns only the top k;
- `tsv` is the memory's text as a tsvector (English stemming), written by the store, with a GIN
  index: keyword search (mem0's BM25 signal). Not a generated column because `payload` is json and
  `payload->>'data'` refuses the \\u0000 escape a memory's text may carry: the store strips NULs
  and computes it from the same text;
- `mnemo.memory_vectors_purge` is one row saying when rows were last deleted or replaced and when the
  table's files were last rewritten (core.memory.vectors.postgres_purge: the scheduled purge).

Tables of the first layout (vectors as little-endian float32 `bytea`) are upgraded in place, once,
under the same lock (UPGRADE_SQL; supabase/migrations/*_mnemo_memory_vectors_pgvector.sql is the
same for `supabase db push`).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from config import ConfigError
from core.memory.vectors.postgres_pool import SETTING

TABLE = "mnemo.memory_vectors"
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
alter table mnemo.memory_vectors_purge enable row level security;
revoke all on table mnemo.memory_vectors, mnemo.memory_vectors_purge from public;
do $$
begin
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
        revoke all on table mnemo.memory_vectors, mnemo.memory_vectors_purge from anon;
    end if;
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
        revoke all on table mnemo.memory_vectors, mnemo.memory_vectors_purge from authenticated;
    end if;
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
        grant usage on schema mnemo to service_role;
        grant select, insert, update, delete on table mnemo.memory_vectors to service_role;
        grant select, insert, update, delete on table mnemo.memory_vectors_purge to service_role;
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

# Applied at start-up when the table is missing ({vector} is the extension's type, schema-qualified).
# COLLATE "C": byte order, like SQLite, so "newest first" ties and ISO timestamps sort identically
# whatever the database's locale. `payload` is `json`, not `jsonb`: jsonb rejects the \u0000 escape
# that json.dumps writes for a NUL in a memory's text, which the embedded store accepts. `vector`
# has no fixed size: rows of an earlier EMBEDDING_DIMS stay (listed, erasable) and are left out of
# scoring. Column order is the upgraded table's, so both layouts end up identical.
SCHEMA_SQL = (
    """
create schema if not exists mnemo;
create table if not exists mnemo.memory_vectors (
    collection text collate "C" not null,
    id text collate "C" not null,
    user_id text collate "C",
    created_at text collate "C",
    payload json not null,
    vector {vector} not null,
    tsv tsvector not null default ''::tsvector,
    primary key (collection, id)
);
-- Vectors in the row, not TOAST: recall reads every vector of the person (3x faster, bench).
-- Text never compressed, so the erasure tests can find every copy of it in the table's files.
alter table mnemo.memory_vectors alter column vector set storage main,
    alter column payload set storage external, alter column tsv set storage external;
create index if not exists memory_vectors_user_idx
    on mnemo.memory_vectors (collection, user_id, created_at);
create index if not exists memory_vectors_tsv_idx on mnemo.memory_vectors using gin (tsv);
"""
    + _PURGE_TABLE_SQL
    + _GRANTS
)

# The first layout (vector bytea) to this one, in one transaction. The float32 decoding is plain
# SQL arithmetic (PostgreSQL has no cast from bytea to real); infinities and NaNs, which the old
# store stored but pgvector refuses, become 0 (a zero vector ranks last, as a NaN did).
UPGRADE_SQL = "".join(
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
alter table mnemo.memory_vectors add column vector_new {vector}, add column tsv tsvector;
alter table mnemo.memory_vectors alter column vector_new set storage main;
update mnemo.memory_vectors
   set vector_new = pg_temp.mnemo_vector_from_f4le(vector), tsv = pg_temp.mnemo_tsv(payload);
alter table mnemo.memory_vectors drop column vector;
alter table mnemo.memory_vectors rename column vector_new to vector;
alter table mnemo.memory_vectors alter column vector set not null,
    alter column tsv set default ''::tsvector, alter column tsv set not null;
""",
        SCHEMA_SQL,
    )
)

# Two processes starting at once must not race on CREATE TABLE (a unique violation in pg_type).
SCHEMA_LOCK_KEY = 0x6D6E656D6F7663  # "mnemovc"

COLUMNS = ("collection", "id", "user_id", "created_at", "payload", "vector", "tsv")


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


def _layout(conn: psycopg.Connection[Any]) -> str:
    """'missing', 'bytea' (the first layout), 'current', or 'other' (someone else's table)."""
    rows = conn.execute(
        "select a.attname, t.typname from pg_catalog.pg_attribute a "
        "join pg_catalog.pg_type t on t.oid = a.atttypid "
        "where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped",
        (TABLE,),
    ).fetchall()
    if not rows:
        exists = conn.execute("select to_regclass(%s) is not null", (TABLE,)).fetchone()
        return "other" if exists and exists[0] else "missing"
    types = dict(rows)
    first = {"collection", "id", "user_id", "created_at", "vector", "payload"}
    if set(types) == first and types["vector"] == "bytea":
        return "bytea"
    if set(types) == set(COLUMNS) and types["vector"] == "vector" and types["tsv"] == "tsvector":
        purge = conn.execute("select to_regclass(%s) is not null", (PURGE_TABLE,)).fetchone()
        return "current" if purge and purge[0] else "missing"
    return "other"


def prepare_database(conn: psycopg.Connection[Any], where: str) -> None:
    """Create (or upgrade) the table if needed (one process at a time), then check this role may use
    it. ConfigError (one line, naming `where`, the database's host:port/name) when it may not."""
    if _layout(conn) in ("missing", "bytea"):
        try:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                layout = _layout(conn)  # another process may have done it while we waited
                if layout in ("missing", "bytea"):
                    conn.execute(EXTENSION_SQL)
                    template = UPGRADE_SQL if layout == "bytea" else SCHEMA_SQL
                    conn.execute(template.replace("{vector}", _vector_type(conn)))
                    if layout == "bytea":
                        log.info("upgraded %s to pgvector at %s", TABLE, where)
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
            f"{SETTING}: mnemo.memory_vectors at {where} has other columns than Mnemo's; "
            "rename or drop that table"
        )
    row = conn.execute(
        "select has_table_privilege(%s, 'select, insert, update, delete') "
        "   and has_table_privilege(%s, 'select, update'), "
        "       pg_has_role(c.relowner, 'usage') "
        "from pg_class c where c.oid = %s::regclass",
        (TABLE, PURGE_TABLE, TABLE),
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
