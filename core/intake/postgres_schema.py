"""The Postgres inbox's tables: procrastinate's (at the pinned version) and Mnemo's deliveries table,
in their own schema, installed or migrated when a process opens the inbox.

procrastinate ships its whole schema (schema.sql) for new databases and one SQL file per change
(sql/migrations/<version>_<nn>_<pre|post>_<what>.sql) for existing ones, but records nothing about
which is installed. So `installed` records the newest migration file the schema is at; opening
applies the newer ones in order (a pin bump), all in one transaction under an advisory lock, so
processes starting together neither race on CREATE nor apply a file twice.

Migrations are applied "pre" and "post" together: stop the workers of the old version before a
process of the new one starts (a rolling deploy across a procrastinate schema change is not
supported).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg

SCHEMA = "mnemo_intake"
# pg_advisory_xact_lock key for installing/migrating (any constant; "mnemo-intake" in ASCII).
_INSTALL_LOCK = 0x6D6E656D6F5F69

_DELIVERIES = """
CREATE TABLE IF NOT EXISTS deliveries (
    id text PRIMARY KEY,
    key text NOT NULL UNIQUE,
    kind text NOT NULL,
    lane text NOT NULL,
    payload jsonb,
    received_at timestamptz NOT NULL,
    accepted_at timestamptz NOT NULL,
    reply_ref jsonb,
    done_at timestamptz
);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries (accepted_at) WHERE done_at IS NULL;
CREATE INDEX IF NOT EXISTS deliveries_done ON deliveries (done_at) WHERE done_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS installed (
    component text PRIMARY KEY,
    level text NOT NULL
);
"""


def _sql_dir() -> Any:
    return resources.files("procrastinate.sql")


def migration_names() -> list[str]:
    """procrastinate's migration files, oldest first (their names sort by version)."""
    return sorted(
        entry.name for entry in (_sql_dir() / "migrations").iterdir() if entry.name.endswith(".sql")
    )


async def set_search_path(conn: psycopg.AsyncConnection[Any]) -> None:
    """Every connection of the inbox works in its schema (procrastinate's SQL names its tables
    without one). Session-level: needs a direct or session-pooler connection, not a transaction pooler."""
    await conn.execute("SELECT set_config('search_path', %s, false)", (SCHEMA,))
    if not conn.autocommit:
        await conn.commit()


async def install(conn: psycopg.AsyncConnection[Any]) -> str:
    """Create or migrate the schema; returns the level it is at (the newest migration's name)."""
    newest = migration_names()[-1]
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INSTALL_LOCK,))
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        await conn.execute("SELECT set_config('search_path', %s, true)", (SCHEMA,))
        await conn.execute(_DELIVERIES)
        row = await (
            await conn.execute("SELECT level FROM installed WHERE component = 'procrastinate'")
        ).fetchone()
        if row is None:
            exists = await (await conn.execute("SELECT to_regclass('procrastinate_jobs')")).fetchone()
            if exists is not None and exists[0] is not None:
                raise RuntimeError(
                    f"{SCHEMA}.procrastinate_jobs exists but its version is not recorded; "
                    "drop the schema (when no delivery is pending) to reinstall it"
                )
            await conn.execute((_sql_dir() / "schema.sql").read_text(encoding="utf-8"))
        else:
            for name in migration_names():
                if name > row[0]:
                    await conn.execute((_sql_dir() / "migrations" / name).read_text(encoding="utf-8"))
        await conn.execute(
            "INSERT INTO installed (component, level) VALUES ('procrastinate', %s) "
            "ON CONFLICT (component) DO UPDATE SET level = excluded.level",
            (newest,),
        )
    return newest


__all__ = ["SCHEMA", "install", "migration_names", "set_search_path"]
