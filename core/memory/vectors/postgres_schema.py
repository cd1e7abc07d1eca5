"""The memory vector table in PostgreSQL: created if missing, and checked before first use.

The table is `mnemo.memory_vectors` (private schema, Row Level Security on, no policy), created here
if missing and also shipped as a Supabase migration, so `supabase db push` creates it.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from config import ConfigError
from core.memory.vectors.postgres_pool import SETTING

TABLE = "mnemo.memory_vectors"

log = logging.getLogger(__name__)

# Applied at start-up when the table is missing. supabase/migrations/*_mnemo_memory_vectors.sql
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
SCHEMA_LOCK_KEY = 0x6D6E656D6F7663  # "mnemovc"


def prepare_database(conn: psycopg.Connection[Any], where: str) -> None:
    """Create the table if missing (one process at a time), then check this role may use it.
    ConfigError (one line, naming `where`, the database's host:port/name) when it may not."""
    exists = conn.execute("select to_regclass(%s) is not null", (TABLE,)).fetchone()
    if not (exists and exists[0]):
        try:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
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
