"""Throwaway PostgreSQL databases for the memory-vector tests, and ways to look at them from outside.

Every database created here is named `mnemo_vec_<random>` and dropped by this module; nothing else
on the server is touched. `MNEMO_TEST_PG_DSN` points at another server (default: the local one);
the user must be a superuser (the tests read the table's files through pg_read_binary_file and
CHECKPOINT so the files are current).
"""

from __future__ import annotations

import secrets
import socket
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.supabase import pg

DB_PREFIX = "mnemo_vec_"
TABLE = "mnemo.memory_vectors"
TEXT_TABLE = "mnemo.memory_texts"
# Put in the tests' database URLs (trust auth ignores it) so they can check it is never shown.
PASSWORD = "pw-Secr3t-do-not-print"


def free_port() -> int:
    """A loopback port nothing listens on (an unreachable database)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_database() -> str:
    name = DB_PREFIX + secrets.token_hex(6)
    with psycopg.connect(pg.admin_dsn(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name


def drop_database(name: str) -> None:
    if not name.startswith(DB_PREFIX):  # never drop anything this module did not create
        raise ValueError(f"refusing to drop {name!r}")
    with psycopg.connect(pg.admin_dsn(), autocommit=True) as conn:
        conn.execute(f'alter database "{name}" allow_connections true')
        conn.execute(f'drop database if exists "{name}" with (force)')


def dsn(name: str) -> str:
    return make_conninfo(pg.admin_dsn(), dbname=name)


def url(name: str, *, password: str | None = None, **query: str) -> str:
    """A postgresql:// URL to the database, as SUPABASE_DB_URL would be written (trust auth on the
    test server ignores the password, which lets tests check that it never shows)."""
    params = conninfo_to_dict(pg.admin_dsn())
    user = params.get("user", "postgres")
    auth = f"{user}:{password}" if password else user
    host = params.get("host", "127.0.0.1")
    port = params.get("port", "5432")
    extra = "&".join(f"{key}={quote(value, safe='')}" for key, value in query.items())
    return f"postgresql://{auth}@{host}:{port}/{name}" + (f"?{extra}" if extra else "")


def query(name: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn(name), autocommit=True) as conn:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def truncate(name: str) -> None:
    with psycopg.connect(dsn(name), autocommit=True) as conn:
        if conn.execute("select to_regclass(%s)", (TABLE,)).fetchone() != (None,):
            conn.execute(f"truncate {TABLE} cascade")  # and mnemo.memory_texts, which references it
            conn.execute("update mnemo.memory_vectors_purge set deleted_at = null, purged_at = null")


def table_files(name: str, tables: tuple[str, ...] = (TABLE, TEXT_TABLE)) -> list[str]:
    """Data files (relative to the data directory) of the memory tables (vectors and texts), their
    TOAST tables and every index (the keyword index holds the text's words too)."""
    files: list[str] = []
    for table in tables:
        rows = query(
            name,
            """
            select pg_relation_filepath(oid) from pg_class
             where oid = %(t)s::regclass
                or oid = (select reltoastrelid from pg_class where oid = %(t)s::regclass)
                or oid in (select indexrelid from pg_index where indrelid = %(t)s::regclass)
                or oid in (select indexrelid from pg_index
                            where indrelid = (select reltoastrelid from pg_class where oid = %(t)s::regclass))
            """.replace("%(t)s", "'" + table + "'"),
        )
        files += [str(r[0]) for r in rows if r[0]]
    return files


def files_holding(name: str, needle: bytes, paths: list[str] | None = None) -> list[str]:
    """Which of the table's files (or `paths`) hold `needle` on disk, after a CHECKPOINT flushed
    every dirty page. Files that no longer exist hold nothing."""
    with psycopg.connect(dsn(name), autocommit=True) as conn:
        conn.execute("checkpoint")
        found = []
        for path in paths if paths is not None else table_files(name):
            row = conn.execute(
                "select case when pg_stat_file(%s, true) is null then false "
                "else position(%s in pg_read_binary_file(%s)) > 0 end",
                (path, needle, path),
            ).fetchone()
            if row and row[0]:
                found.append(path)
        return found
