"""Store.has_session, which the Slack adapter uses to follow threads it joined (SQLite store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.models import ConversationKey, Platform
from core.storage.sqlite import SQLiteStore


async def test_has_session_sees_open_and_closed_sessions_and_survives_reopening(tmp_path: Path) -> None:
    thread = ConversationKey(Platform.SLACK, "T1", "C1", "1750000000.000100")
    other_thread = ConversationKey(Platform.SLACK, "T1", "C1", "1750000000.000200")
    other_team = ConversationKey(Platform.SLACK, "T2", "C1", "1750000000.000100")
    now = datetime(2026, 1, 1, tzinfo=UTC)

    store = await SQLiteStore.open(tmp_path / "mnemo.db")
    try:
        assert not await store.has_session(thread)
        await store.touch_session(thread, now=now, idle_timeout=timedelta(minutes=60))
        assert await store.has_session(thread)
        closed = await store.close_idle_sessions(
            now=now + timedelta(days=1), idle_timeout=timedelta(minutes=60)
        )
        assert closed == 1
        assert await store.has_session(thread)  # Mnemo stays in a thread after it goes quiet
        assert not await store.has_session(other_thread)
        assert not await store.has_session(other_team)
    finally:
        await store.close()

    reopened = await SQLiteStore.open(tmp_path / "mnemo.db")
    try:
        assert await reopened.has_session(thread)
    finally:
        await reopened.close()
