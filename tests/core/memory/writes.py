"""Helpers for the tests of memory writes and updates: writes go through `land_memory_write`, the one
way a memory write lands (and where the update judge's verdict is applied)."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bot.wiring import Core
from core.memory.writer import LandedWrite, land_memory_write
from core.models import IdentityKey, MemoryOrigin, Platform

PRIVATE = MemoryOrigin(Platform.CONSOLE, "dm", True)
PUBLIC = MemoryOrigin(Platform.CONSOLE, "general", False)
START = datetime(2026, 10, 3, 21, 15, tzinfo=UTC)  # a Saturday


async def account(core: Core, user: str = "alice") -> uuid.UUID:
    return (await core.store.resolve_account(IdentityKey(Platform.CONSOLE, "w1", user))).id


async def write(
    core: Core, account_id: uuid.UUID, text: str, origin: MemoryOrigin = PRIVATE, *, at: datetime = START
) -> LandedWrite:
    """One exchange ("user: text") written to memory as the writer and the retry job do."""
    epoch = (await core.store.get_settings(account_id)).epoch
    return await land_memory_write(
        store=core.store,
        memory=core.memory,
        account_id=account_id,
        epoch=epoch,
        messages=[{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}],
        origin=origin,
        said_at=at,
    )


async def say(
    core: Core, account_id: uuid.UUID, text: str, origin: MemoryOrigin = PRIVATE, *, at: datetime = START
) -> list[str]:
    """The texts of the memories a write added (and that still stand)."""
    landed = await write(core, account_id, text, origin, at=at)
    kept = await core.memory.items(account_id, landed.memory_ids, epoch=0)
    return [m.text for m in kept]


async def texts(core: Core, account_id: uuid.UUID) -> list[str]:
    return sorted(m.text for m in await core.memory.export(account_id, epoch=0))


def files_containing(core: Core, text: str) -> list[Path]:
    return [p for p in core.settings.data_dir.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def keyword_terms(core: Core) -> set[str]:
    conn = sqlite3.connect(core.settings.data_dir / "memory_vectors.db")
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, memory_terms, row)")
        return {row[0] for row in conn.execute("SELECT term FROM temp.terms")}
    finally:
        conn.close()
