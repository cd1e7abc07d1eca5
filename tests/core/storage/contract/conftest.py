"""The Store contract runs on every implementation: the embedded SQLite store and the Supabase store
(supabase-py -> the loopback PostgREST shim -> a real PostgreSQL database with the migrations)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.storage import Store
from core.storage.sqlite import SQLiteStore
from core.storage.supabase import SupabaseStore
from tests.fakes.postgrest import PostgrestShim
from tests.supabase.fixtures import jwt_secret, postgrest_shim, shared_shim, supabase_dsn

__all__ = ["jwt_secret", "postgrest_shim", "shared_shim", "supabase_dsn"]


@dataclass
class Backend:
    name: str
    open: Callable[[], Awaitable[Store]]
    # argv for tests/core/storage/contract/claim_worker.py: opens this same backend from another OS process
    worker_argv: list[str]


@pytest.fixture(params=["sqlite", "supabase"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    worker = [sys.executable, "-m", "tests.core.storage.contract.claim_worker"]
    if request.param == "sqlite":
        path = tmp_path / "mnemo.db"

        async def open_sqlite() -> Store:
            return await SQLiteStore.open(path)

        return Backend("sqlite", open_sqlite, [*worker, "sqlite", str(path)])

    shim: PostgrestShim = request.getfixturevalue("postgrest_shim")
    key = shim.key()

    async def open_supabase() -> Store:
        return await SupabaseStore.connect(url=shim.url, key=key)

    return Backend("supabase", open_supabase, [*worker, "supabase", shim.url, key])


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    opened = await backend.open()
    try:
        yield opened
    finally:
        await opened.close()
