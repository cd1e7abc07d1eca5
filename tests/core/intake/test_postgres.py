"""What only the Postgres inbox has: its own schema, installed once however many processes start at
the same moment, and a clear error (never the password) when the database cannot be reached."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from psycopg.conninfo import make_conninfo

from core.clock import utc_now
from core.errors import StorageError
from core.intake import postgres_schema
from core.intake.postgres import PostgresIntake
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
    with pytest.raises(StorageError, match="intake database: opening failed") as caught:
        await PostgresIntake.open(url, clock=utc_now)
    assert "mnemo_q_does_not_exist" in str(caught.value)
    assert PASSWORD not in str(caught.value)


async def test_a_malformed_url_is_refused_without_echoing_it() -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/x?no_such_option=1"
    with pytest.raises(StorageError, match="not a valid connection string") as caught:
        await PostgresIntake.open(url, clock=utc_now)
    assert PASSWORD not in str(caught.value)
