"""Inboxes for the intake contract, each test on both: the embedded SQLite inbox (several
"processes" on one file) and the Postgres one (several on one throwaway database)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import pytest

from core.clock import utc_now
from core.intake.model import Intake
from core.intake.postgres import PostgresIntake
from core.intake.sqlite import SQLiteIntake
from tests.core.intake import pgqueue

# Short leases, so a dead worker's delivery is taken over within a test's patience.
LEASE = timedelta(seconds=0.6)
# Postgres: a worker's lease is its heartbeat (every lease/4); a longer one, so a busy test machine
# never takes a live worker's delivery away.
PG_LEASE = timedelta(seconds=2)
RETRY = timedelta(seconds=0.1)


class Inboxes(Protocol):
    async def open(self, *, retry_base: timedelta = RETRY) -> Intake: ...

    async def settled(self, inbox: Intake) -> None:
        """Every delivery this inbox's process took is finished (and recorded as such)."""

    async def kill(self, inbox: Intake) -> None:
        """The process stops at once: what it was handling stops unfinished."""

    async def payloads_holding(self, inbox: Intake, needle: str) -> int: ...

    async def close_all(self) -> None: ...


@dataclass
class SQLiteInboxes:
    path: Path
    opened: list[SQLiteIntake] = field(default_factory=list)

    async def open(self, *, retry_base: timedelta = RETRY) -> Intake:
        inbox = await SQLiteIntake.open(
            self.path, clock=utc_now, lease=LEASE, poll_interval=0.05, retry_base=retry_base
        )
        self.opened.append(inbox)
        return inbox

    async def settled(self, inbox: Intake) -> None:
        assert isinstance(inbox, SQLiteIntake)
        await inbox.idle()

    async def kill(self, inbox: Intake) -> None:
        # Cancelled without retrying: its lease is no longer renewed and expires.
        await inbox.stop(grace=0)
        await inbox.close()
        self.opened.remove(inbox)  # type: ignore[arg-type]

    async def payloads_holding(self, inbox: Intake, needle: str) -> int:
        with sqlite3.connect(self.path) as conn:
            return int(
                conn.execute(
                    "SELECT count(*) FROM deliveries WHERE payload LIKE ?", (f"%{needle}%",)
                ).fetchone()[0]
            )

    async def close_all(self) -> None:
        for inbox in self.opened:
            await inbox.stop(grace=0)
            await inbox.close()


@dataclass
class PostgresInboxes:
    database: str
    opened: list[PostgresIntake] = field(default_factory=list)

    async def open(self, *, retry_base: timedelta = RETRY) -> Intake:
        inbox = await PostgresIntake.open(
            pgqueue.url(self.database),
            clock=utc_now,
            lease=PG_LEASE,
            poll_interval=0.05,
            retry_base=retry_base,
        )
        self.opened.append(inbox)
        return inbox

    async def settled(self, inbox: Intake) -> None:
        assert isinstance(inbox, PostgresIntake)
        await inbox.idle()

    async def kill(self, inbox: Intake) -> None:
        # In-process, stopping with no grace: procrastinate cancels the delivery and queues it
        # again at once. A real death (SIGKILL) is tested with processes (test_postgres_processes).
        await inbox.stop(grace=0)
        await inbox.close()
        self.opened.remove(inbox)  # type: ignore[arg-type]

    async def payloads_holding(self, inbox: Intake, needle: str) -> int:
        rows = pgqueue.query(
            self.database,
            "SELECT count(*) FROM mnemo_intake.deliveries WHERE payload::text LIKE %s",
            (f"%{needle}%",),
        )
        return int(rows[0][0])

    async def close_all(self) -> None:
        for inbox in self.opened:
            await inbox.stop(grace=0)
            await inbox.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def inboxes(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Inboxes]:
    if request.param == "sqlite":
        made: Inboxes = SQLiteInboxes(tmp_path / "intake.db")
        yield made
        await made.close_all()
        return
    database = pgqueue.create_database()
    try:
        made = PostgresInboxes(database)
        yield made
        await made.close_all()
    finally:
        pgqueue.drop_database(database)
