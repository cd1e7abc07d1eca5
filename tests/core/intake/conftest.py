"""Inboxes for the intake contract: the embedded SQLite inbox (several "processes" on one file)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import utc_now
from core.intake.model import Intake
from core.intake.sqlite import SQLiteIntake

# Short leases, so a dead worker's delivery is taken over within a test's patience.
LEASE = timedelta(seconds=0.6)
RETRY = timedelta(seconds=0.1)


@dataclass
class Inboxes:
    path: Path
    opened: list[SQLiteIntake] = field(default_factory=list)

    async def open(self) -> Intake:
        inbox = await SQLiteIntake.open(
            self.path, clock=utc_now, lease=LEASE, poll_interval=0.05, retry_base=RETRY
        )
        self.opened.append(inbox)
        return inbox

    async def settled(self, inbox: Intake) -> None:
        """Every delivery this inbox's process took is finished (and recorded as such)."""
        assert isinstance(inbox, SQLiteIntake)
        await inbox.idle()

    async def kill(self, inbox: Intake) -> None:
        """The process dies: what it was handling stops at once, unfinished, its lease unrenewed."""
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


@pytest.fixture
async def inboxes(tmp_path: Path) -> AsyncIterator[Inboxes]:
    made = Inboxes(tmp_path / "intake.db")
    yield made
    for inbox in made.opened:
        await inbox.stop(grace=0)
        await inbox.close()
