"""Throwaway PostgreSQL databases for the Supabase tests: create, bootstrap like a Supabase project,
apply Mnemo's migrations, snapshot the catalog, drop.

Every database this creates is named `mnemo_sb_<random>` and dropped by the same code; nothing
else on the server is touched. `MNEMO_TEST_PG_DSN` points at another server (default: the pgvector
test server of tests.supabase.pgvector_server, which needs no set-up).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from tests.supabase import pgvector_server

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"
BOOTSTRAP_SQL = Path(__file__).with_name("supabase_bootstrap.sql")
DB_PREFIX = "mnemo_sb_"
MNEMO_TABLES = (
    "accounts",
    "identities",
    "account_settings",
    "sessions",
    "messages",
    "processed_events",
    "pending_memory_writes",
    "link_codes",
    "link_failures",
    "account_merges",
    "memory_vectors",
    "memory_texts",
    "memory_vectors_purge",
    "memory_embedding",
    "answer_feedback",
    "token_usage",
)


def admin_dsn() -> str:
    """MNEMO_TEST_PG_DSN, or else the pgvector test server (tests.supabase.pgvector_server), started
    on first use: the memory vector table needs the `vector` extension."""
    dsn = os.environ.get("MNEMO_TEST_PG_DSN")
    if dsn:
        return dsn
    if not _started:
        _started.append(pgvector_server.ensure_running())
    return _started[0]


_started: list[str] = []  # the pgvector server's DSN, once started


def database_dsn(name: str) -> str:
    return make_conninfo(admin_dsn(), dbname=name)


def create_database() -> str:
    """A new empty database; returns its name."""
    name = DB_PREFIX + secrets.token_hex(6)
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name


def drop_database(name: str) -> None:
    if not name.startswith(DB_PREFIX):  # never drop anything this module did not create
        raise ValueError(f"refusing to drop {name!r}")
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("*.sql"))


def run_sql_file(dsn: str, path: Path) -> None:
    """One file, one transaction (as `supabase db push` applies a migration)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(path.read_text())  # no parameters: psycopg sends it as one multi-statement query
        conn.commit()


def bootstrap(dsn: str) -> None:
    run_sql_file(dsn, BOOTSTRAP_SQL)


def apply_migrations(dsn: str) -> None:
    for path in migration_files():
        run_sql_file(dsn, path)


_SNAPSHOT_QUERIES = {
    "schemas": """
        select n.oid::bigint, n.nspname, n.nspacl::text[] from pg_namespace n
         where n.nspname in ('mnemo', 'public') order by 2""",
    "relations": """
        select c.oid::bigint, c.relname, c.relkind::text, c.relacl::text[], c.relrowsecurity,
               c.relforcerowsecurity
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'mnemo' order by 2""",
    "columns": """
        select c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.attidentity::text, pg_get_expr(d.adbin, d.adrelid), a.attacl::text[]
          from pg_attribute a
          join pg_class c on c.oid = a.attrelid
          join pg_namespace n on n.oid = c.relnamespace
          left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
         where n.nspname = 'mnemo' and a.attnum > 0 and not a.attisdropped order by 1, 2""",
    "constraints": """
        select co.oid::bigint, co.conrelid::regclass::text, co.conname, pg_get_constraintdef(co.oid)
          from pg_constraint co join pg_namespace n on n.oid = co.connamespace
         where n.nspname = 'mnemo' order by 2, 3""",
    "indexes": """
        select indexrelid::bigint, indexrelid::regclass::text, pg_get_indexdef(indexrelid)
          from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'mnemo' order by 2""",
    "policies": """
        select schemaname, tablename, policyname, roles::text[], cmd, qual, with_check
          from pg_policies where schemaname = 'mnemo' order by 1, 2, 3""",
    "functions": """
        select p.oid::bigint, p.proname, pg_get_function_identity_arguments(p.oid),
               pg_get_functiondef(p.oid), p.proacl::text[], p.proconfig, p.prosecdef, p.provolatile::text
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname in ('public', 'mnemo') order by 2, 3""",
    "rows": """
        select 'accounts', count(*) from mnemo.accounts union all
        select 'identities', count(*) from mnemo.identities union all
        select 'sessions', count(*) from mnemo.sessions union all
        select 'messages', count(*) from mnemo.messages union all
        select 'processed_events', count(*) from mnemo.processed_events union all
        select 'pending_memory_writes', count(*) from mnemo.pending_memory_writes union all
        select 'account_settings', count(*) from mnemo.account_settings union all
        select 'link_codes', count(*) from mnemo.link_codes union all
        select 'link_failures', count(*) from mnemo.link_failures union all
        select 'account_merges', count(*) from mnemo.account_merges union all
        select 'memory_vectors', count(*) from mnemo.memory_vectors union all
        select 'memory_texts', count(*) from mnemo.memory_texts union all
        select 'token_usage', count(*) from mnemo.token_usage""",
}


def catalog_snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the migrations create, with object ids (so drop-and-recreate counts as a change)."""
    with psycopg.connect(dsn) as conn:
        return {name: conn.execute(query).fetchall() for name, query in _SNAPSHOT_QUERIES.items()}


def as_service_role(dsn: str) -> psycopg.Connection[Any]:
    """An autocommit connection acting as the bot does through PostgREST (the service_role key)."""
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("set role service_role")
    return conn


def truncate_all(dsn: str) -> None:
    # The purge bookkeeping is one row the store updates: reset, not emptied.
    tables = ", ".join(f"mnemo.{name}" for name in MNEMO_TABLES if name != "memory_vectors_purge")
    with psycopg.connect(dsn) as conn:
        conn.execute(f"truncate {tables} cascade")
        conn.execute("update mnemo.memory_vectors_purge set deleted_at = null, purged_at = null")
        conn.commit()
