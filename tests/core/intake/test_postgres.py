"""What only the Postgres inbox has: its own schema, installed once however many processes start at
the same moment, and a clear error (never the password) when the database cannot be reached."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bot.wiring import open_intake
from config import ConfigError, Settings
from core.clock import utc_now
from core.intake import postgres_schema
from core.intake.postgres import PostgresIntake, session_conninfo
from core.intake.sqlite import SQLiteIntake
from tests.core.intake import pgqueue

PASSWORD = "pw-Secr3t-do-not-print"


@pytest.fixture
def database() -> Iterator[str]:
    name = pgqueue.create_database()
    try:
        yield name
    finally:
        pgqueue.drop_database(name)


async def test_processes_starting_together_install_the_schema_once_in_its_own_schema(database: str) -> None:
    opened = await asyncio.gather(
        *(PostgresIntake.open(pgqueue.url(database), clock=utc_now) for _ in range(4))
    )
    for inbox in opened:
        await inbox.ping()
        await inbox.close()
    tables = pgqueue.query(
        database,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    )
    assert {schema for schema, _ in tables} == {"mnemo_intake"}
    names = {table for _, table in tables}
    assert {"deliveries", "installed", "procrastinate_jobs", "procrastinate_workers"} <= names
    assert pgqueue.query(database, "SELECT level FROM mnemo_intake.installed") == [
        (postgres_schema.migration_names()[-1],)
    ]


async def test_reopening_keeps_what_is_queued(database: str) -> None:
    first = await PostgresIntake.open(pgqueue.url(database), clock=utc_now)
    from tests.core.intake.test_contract import new

    assert await first.accept(new(key="msg:kept"))
    await first.close()
    again = await PostgresIntake.open(pgqueue.url(database), clock=utc_now)
    assert await again.pending() == 1
    assert not await again.accept(new(key="msg:kept"))
    await again.close()


async def test_an_unreachable_database_is_one_clear_error_without_the_password() -> None:
    url = make_conninfo(pgqueue.url("mnemo_q_does_not_exist"), password=PASSWORD)
    with pytest.raises(ConfigError, match="SUPABASE_DB_URL: cannot use the database at") as caught:
        await PostgresIntake.open(url, clock=utc_now)
    assert "mnemo_q_does_not_exist" in str(caught.value)
    assert PASSWORD not in str(caught.value)


async def test_a_malformed_url_is_refused_without_echoing_it() -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/x?no_such_option=1"
    with pytest.raises(ConfigError, match="not a valid Postgres connection string") as caught:
        await PostgresIntake.open(url, clock=utc_now)
    assert PASSWORD not in str(caught.value)


async def test_the_wiring_picks_postgres_with_supabase_db_url_and_sqlite_without(
    database: str, tmp_path: Path
) -> None:
    base = {"openai_base_url": "http://127.0.0.1:9/v1", "openai_api_key": "k", "data_dir": tmp_path}
    with_db = Settings(_env_file=None, supabase_db_url=pgqueue.url(database), **base)  # type: ignore[call-arg]
    intake = await open_intake(with_db, utc_now)
    assert isinstance(intake, PostgresIntake)
    await intake.close()
    embedded = await open_intake(Settings(_env_file=None, **base), utc_now)  # type: ignore[call-arg]
    assert isinstance(embedded, SQLiteIntake)
    await embedded.close()
    assert (tmp_path / "intake.db").exists()


def test_supabases_transaction_pooler_is_swapped_for_its_session_pooler() -> None:
    pooler = "postgresql://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres"
    swapped = conninfo_to_dict(session_conninfo(pooler, conninfo_to_dict(pooler)))
    assert swapped["port"] == "5432"
    assert swapped["host"] == "aws-0-eu-west-1.pooler.supabase.com"
    direct = "postgresql://postgres:pw@db.ref.supabase.co:6543/postgres"  # not the pooler: as it is
    assert session_conninfo(direct, conninfo_to_dict(direct)) == direct
