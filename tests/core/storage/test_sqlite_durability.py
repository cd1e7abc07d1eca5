"""The embedded store's durability per transaction (core/storage/sqlite/connection.py): durable
commits by default, the reply path's bookkeeping without an fsync per commit, and what that keeps
when the process is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import StorageError
from core.models import ConversationKey, IdentityKey, Platform, Role
from core.storage.sqlite import SQLiteStore
from core.storage.sqlite.connection import SQLiteConnection

FULL, NORMAL = 2, 1
ROOT = Path(__file__).resolve().parents[3]


class Probe(SQLiteConnection):
    """A role of the store, as the mixins are: it reads the level its own transactions run at."""

    async def level_in_transaction(self, *, durable: bool) -> int:
        def read_level(conn: sqlite3.Connection) -> int:
            return int(conn.execute("PRAGMA synchronous").fetchone()[0])

        return await self._tx(read_level, durable=durable)

    async def fail_in_transaction(self, *, durable: bool) -> None:
        def write_then_fail(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO accounts (id, created_at) VALUES ('x', '2026-01-01T00:00:00+00:00')")
            raise sqlite3.OperationalError("the operation failed half-way")

        await self._tx(write_then_fail, durable=durable)


async def test_transactions_are_durable_unless_marked_otherwise(tmp_path: Path) -> None:
    probe = await Probe.open(tmp_path / "mnemo.db")
    try:
        assert await probe.level_in_transaction(durable=True) == FULL
        assert await probe.level_in_transaction(durable=False) == NORMAL
        assert await probe.level_in_transaction(durable=True) == FULL  # not left at NORMAL
        with pytest.raises(StorageError, match="half-way"):
            await probe.fail_in_transaction(durable=False)
        assert await probe.level_in_transaction(durable=True) == FULL
    finally:
        await probe.close()


# Writes what one reply writes with `durable=False` commits, then dies without closing anything.
_KILLED_MID_REPLY = """
import asyncio, os, signal, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from core.models import ConversationKey, IdentityKey, Platform, Role
from core.storage.sqlite import SQLiteStore

async def main() -> None:
    store = await SQLiteStore.open(Path(sys.argv[1]))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    account = await store.resolve_account(IdentityKey(Platform.CONSOLE, "w", "kim"))
    assert await store.claim_event("console:w:m1", now=now)
    conversation = ConversationKey(Platform.CONSOLE, "w", "general")
    session = await store.touch_session(conversation, now=now, idle_timeout=timedelta(hours=1))
    await store.append_message(
        session_id=session.id, account_id=account.id, role=Role.USER, text="the kiwi question",
        now=now, epoch=account.epoch,
    )
    print("written", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_the_reply_paths_commits_survive_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "mnemo.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", textwrap.dedent(_KILLED_MID_REPLY), str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert killed.stdout.strip() == "written"

    store = await SQLiteStore.open(path)
    try:
        now = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
        assert not await store.claim_event("console:w:m1", now=now)  # the claim held
        account = await store.resolve_account(IdentityKey(Platform.CONSOLE, "w", "kim"))
        conversation = ConversationKey(Platform.CONSOLE, "w", "general")
        session = await store.touch_session(conversation, now=now, idle_timeout=timedelta(hours=1))
        history = await store.recent_messages(session.id, limit=5)
        said = [(m.role, m.text, m.account_id) for m in history]
        assert said == [(Role.USER, "the kiwi question", account.id)]
    finally:
        await store.close()
