"""The embedding model and size are recorded with the vectors; start-up refuses settings that do not
match them (one line naming EMBEDDING_DIMS and the re-embed command), and re-embedding fixes it."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.wiring import build_core, mem0_options
from core.errors import MemoryBackendError
from core.memory.embedding_record import REEMBED_COMMAND, EmbeddingMismatchError, EmbeddingSpec
from core.memory.reembed import reembed_all
from core.models import MemoryOrigin, Platform
from tests.conftest import make_settings
from tests.core.memory import pgdb
from tests.fakes.openai_server import FakeOpenAI
from tests.supabase import pg

PRIVATE = MemoryOrigin(Platform.CONSOLE, "dm", True)
MIGRATION = next(p for p in pg.migration_files() if p.name.endswith("_mnemo_memory_embedding.sql"))


async def remember(settings: Any, text: str) -> uuid.UUID:
    account = uuid.uuid4()
    async with build_core(settings) as core:
        await core.memory.remember(
            account,
            [{"role": "user", "content": text}, {"role": "assistant", "content": "noted"}],
            origin=PRIVATE,
            epoch=0,
        )
    return account


async def recall(settings: Any, account: uuid.UUID, query: str) -> list[str]:
    async with build_core(settings) as core:
        found = await core.memory.recall(account, query, epoch=0, include_private=True, limit=5)
    return [item.text for item in found]


async def refused(settings: Any) -> str:
    with pytest.raises(EmbeddingMismatchError) as caught:
        async with build_core(settings):
            pass
    return str(caught.value)


def recorded(data_dir: Path) -> list[tuple[str, str, int]]:
    conn = sqlite3.connect(data_dir / "memory_vectors.db")
    try:
        return [tuple(r) for r in conn.execute("select collection, model, dims from embedding")]
    finally:
        conn.close()


async def test_a_new_size_is_refused_in_one_line_then_reembedding_makes_memories_recallable(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    data = tmp_path / "data"
    account = await remember(make_settings(data, fake_openai), "I keep bees on the roof")
    assert recorded(data) == [("mnemo", "fake-embed", 64)]

    bigger = make_settings(data, fake_openai, embedding_dims=128)
    line = await refused(bigger)
    assert "\n" not in line
    assert "EMBEDDING_DIMS=128" in line
    assert "fake-embed at 64 dims" in line
    assert f"`{REEMBED_COMMAND}`" in line

    report = await asyncio.to_thread(reembed_all, mem0_options(bigger))
    assert report.vectors == 1
    assert report.before.recorded == EmbeddingSpec("fake-embed", 64)
    assert recorded(data) == [("mnemo", "fake-embed", 128)]
    assert await recall(bigger, account, "bees") == ["I keep bees on the roof"]
    # The old size is now the mismatch.
    assert "EMBEDDING_DIMS=64" in await refused(make_settings(data, fake_openai))


async def test_another_model_of_the_same_size_is_refused_too(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data = tmp_path / "data"
    await remember(make_settings(data, fake_openai), "my cat is called Miso")
    line = await refused(make_settings(data, fake_openai, embedding_model="other-embed"))
    assert "EMBEDDING_MODEL=other-embed" in line
    assert "made with fake-embed at 64 dims" in line


async def test_with_no_memories_stored_new_settings_are_simply_recorded(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    data = tmp_path / "data"
    async with build_core(make_settings(data, fake_openai)):
        pass
    async with build_core(make_settings(data, fake_openai, embedding_dims=32, embedding_model="e2")):
        pass
    assert recorded(data) == [("mnemo", "e2", 32)]


async def test_memories_from_before_the_record_are_adopted_only_when_their_size_fits(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    data = tmp_path / "data"
    account = await remember(make_settings(data, fake_openai), "I cycle to work")
    conn = sqlite3.connect(data / "memory_vectors.db")
    conn.execute("drop table embedding")  # as a DATA_DIR written by an older Mnemo
    conn.close()

    line = await refused(make_settings(data, fake_openai, embedding_dims=32))
    assert "stored memory vectors of 64 dims" in line
    assert await recall(make_settings(data, fake_openai), account, "cycle") == ["I cycle to work"]
    assert recorded(data) == [("mnemo", "fake-embed", 64)]


async def test_a_model_that_returns_another_size_than_configured_fails_reembedding_and_records_nothing(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    data = tmp_path / "data"
    await remember(make_settings(data, fake_openai), "I play the cello")
    fake_openai.state.embed = lambda texts: [[1.0] * 48 for _ in texts]  # a 48-dims model
    options = mem0_options(make_settings(data, fake_openai, embedding_dims=128))
    with pytest.raises(MemoryBackendError, match="48"):
        reembed_all(options)
    assert recorded(data) == [("mnemo", "fake-embed", 64)]


# -- Postgres (SUPABASE_DB_URL) --------------------------------------------------------------------
_CATALOG = {
    "columns": """
        select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, coll.collname
          from pg_attribute a left join pg_collation coll on coll.oid = a.attcollation
         where a.attrelid = 'mnemo.memory_embedding'::regclass and a.attnum > 0 and not a.attisdropped
         order by a.attnum""",
    "constraints": """
        select conname, pg_get_constraintdef(oid) from pg_constraint
         where conrelid = 'mnemo.memory_embedding'::regclass order by 1""",
    "security": """
        select c.relrowsecurity, c.relacl::text[] from pg_class c
         where c.oid = 'mnemo.memory_embedding'::regclass""",
}


def test_the_bot_creates_the_same_private_table_as_the_migration(
    fresh_database: str, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    other = pgdb.create_database()
    try:
        pg.bootstrap(pgdb.dsn(fresh_database))
        pg.bootstrap(pgdb.dsn(other))
        pg.run_sql_file(pgdb.dsn(fresh_database), MIGRATION)
        options = mem0_options(make_settings(tmp_path, fake_openai, supabase_db_url=pgdb.url(other)))
        options.embedding_record.state()
        migrated = {k: pgdb.query(fresh_database, sql) for k, sql in _CATALOG.items()}
        created = {k: pgdb.query(other, sql) for k, sql in _CATALOG.items()}
    finally:
        pgdb.drop_database(other)
    assert created == migrated
    rls, acl = created["security"][0]
    assert rls is True
    assert {entry.split("=", 1)[0] for entry in acl} == {"postgres", "service_role"}


async def test_postgres_vectors_refuse_a_new_size_until_reembedded(
    fresh_database: str, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    url = pgdb.url(fresh_database, password=pgdb.PASSWORD)
    first = make_settings(tmp_path / "data", fake_openai, supabase_db_url=url)
    account = await remember(first, "I grow chillies")
    assert pgdb.query(fresh_database, "select collection, model, dims from mnemo.memory_embedding") == [
        ("mnemo", "fake-embed", 64)
    ]
    bigger = dataclasses.replace(mem0_options(first), embedding_dims=96)
    settings = make_settings(tmp_path / "data", fake_openai, supabase_db_url=url, embedding_dims=96)
    line = await refused(settings)
    assert "EMBEDDING_DIMS=96" in line
    assert pgdb.PASSWORD not in line

    assert reembed_all(bigger).vectors == 1
    assert await recall(settings, account, "chillies") == ["I grow chillies"]
    assert pgdb.query(fresh_database, "select dims from mnemo.memory_embedding") == [(96,)]
