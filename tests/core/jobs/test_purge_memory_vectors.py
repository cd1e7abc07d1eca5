"""purge-memory-vectors: the batched physical erasure of the Postgres memory table. Forgetting
deletes at once; this job rewrites the table's files when something was deleted since the last
rewrite, once per VECTOR_PURGE_INTERVAL_MINUTES; embedded memory has nothing to batch."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from bot.scheduler import build_jobs
from bot.wiring import Core
from core.jobs import PURGE_MEMORY_VECTORS, job_specs
from core.memory.vectors.postgres import PostgresVectorStore
from core.memory.vectors.postgres_purge import VectorPurge
from tests.conftest import make_settings
from tests.core.jobs.helpers import postgres_jobs
from tests.core.memory import pgdb
from tests.fakes.openai_server import FakeOpenAI, embed_text


async def test_embedded_memory_has_nothing_to_rewrite(jcore: Core) -> None:
    result = await build_jobs(jcore).run(PURGE_MEMORY_VECTORS)
    assert dict(result.counts) == {"rewritten": 0}


def test_the_interval_comes_from_the_setting(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_openai, vector_purge_interval_minutes=15)
    assert settings.vector_purge_interval_minutes == 15
    specs = {s.name: s.every for s in job_specs(vector_purge_every=timedelta(minutes=15))}
    assert specs[PURGE_MEMORY_VECTORS] == timedelta(minutes=15)
    assert make_settings(tmp_path, fake_openai).vector_purge_interval_minutes == 60


async def test_the_job_rewrites_only_after_a_delete_and_the_text_leaves_the_files(
    jcore: Core, fresh_database: str
) -> None:
    vector_db = fresh_database
    jobs = postgres_jobs(jcore, purger=VectorPurge(pgdb.url(vector_db)))
    canary = "gnucanary" + secrets.token_hex(4)
    store = PostgresVectorStore(collection_name="mnemo", url=pgdb.url(vector_db), embedding_model_dims=8)
    try:
        store.insert([embed_text(canary, 8)], payloads=[{"user_id": "alice", "data": canary}], ids=["m1"])
        assert dict((await jobs.run(PURGE_MEMORY_VECTORS)).counts) == {"rewritten": 0}  # nothing deleted
        store.delete("m1")
        assert store.get("m1") is None  # gone from queries at once
        assert pgdb.files_holding(vector_db, canary.encode())  # still in the files
        assert dict((await jobs.run(PURGE_MEMORY_VECTORS)).counts) == {"rewritten": 1}
        assert pgdb.files_holding(vector_db, canary.encode()) == []
        assert dict((await jobs.run(PURGE_MEMORY_VECTORS)).counts) == {"rewritten": 0}  # at most once
    finally:
        store.close()
