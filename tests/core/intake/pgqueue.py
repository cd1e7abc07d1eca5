"""Throwaway PostgreSQL databases for the tests of what processes share in Postgres: the inbox
(core.intake.postgres) and the limits (core.limits_postgres).

Every database created here is named `mnemo_q_<random>` and dropped by this module; nothing else on
the server is touched. `MNEMO_TEST_PG_DSN` points at another server (default: the local one).
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from tests.supabase import pg

DB_PREFIX = "mnemo_q_"


def create_database() -> str:
    name = DB_PREFIX + secrets.token_hex(6)
    with psycopg.connect(pg.admin_dsn(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name


def drop_database(name: str) -> None:
    if not name.startswith(DB_PREFIX):  # never drop anything this module did not create
        raise ValueError(f"refusing to drop {name!r}")
    with psycopg.connect(pg.admin_dsn(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def url(name: str) -> str:
    """The database as SUPABASE_DB_URL would name it (a libpq connection string works too)."""
    return make_conninfo(pg.admin_dsn(), dbname=name)


def query(name: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url(name), autocommit=True) as conn:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []
