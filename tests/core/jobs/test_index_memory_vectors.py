"""index-memory-vectors: on Postgres, people with many memories get an HNSW index of their own
(core.memory.vectors.postgres_personal, tested there); embedded memory has none to build."""

from __future__ import annotations

import numpy as np

from bot.scheduler import build_jobs
from bot.wiring import Core
from core.jobs import INDEX_MEMORY_VECTORS
from core.memory.vectors.postgres_personal import PersonalIndexes, personal_index_name
from tests.core.jobs.helpers import postgres_jobs
from tests.core.memory import pgdb
from tests.core.memory.vectors.test_postgres import open_store


async def test_embedded_memory_has_nothing_to_index(jcore: Core) -> None:
    result = await build_jobs(jcore).run(INDEX_MEMORY_VECTORS)
    assert dict(result.counts) == {"built": 0, "dropped": 0}


async def test_the_job_builds_the_heavy_persons_index_and_drops_it_after_erasure(
    jcore: Core, fresh_database: str
) -> None:
    indexer = PersonalIndexes(pgdb.url(fresh_database), dims=8, min_rows=30, keep_rows=10)
    jobs = postgres_jobs(jcore, indexer=indexer)
    store = open_store(fresh_database, dims=8)
    try:
        rng = np.random.default_rng(5)
        ids = [f"m{i}" for i in range(30)]
        store.insert(
            [rng.standard_normal(8).astype(np.float32) for _ in ids],
            payloads=[{"user_id": "alice", "data": vid} for vid in ids],
            ids=ids,
        )
        assert dict((await jobs.run(INDEX_MEMORY_VECTORS)).counts) == {"built": 1, "dropped": 0}
        name = personal_index_name(8, "mnemo", "alice")
        assert pgdb.query(fresh_database, "select to_regclass(%s) is not null", (f"mnemo.{name}",)) == [
            (True,)
        ]
        store.erase_user("alice")
        assert dict((await jobs.run(INDEX_MEMORY_VECTORS)).counts) == {"built": 0, "dropped": 1}
        assert pgdb.query(fresh_database, "select to_regclass(%s) is not null", (f"mnemo.{name}",)) == [
            (False,)
        ]
    finally:
        store.close()
