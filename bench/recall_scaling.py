"""Recall latency as *other* people's memories grow: 1 user x 1 memory vs 100 users x 100 memories.

Side by side: Mnemo's partitioned SQLite vector store (what mem0 uses here) and embedded Qdrant
(mem0's default), with the same vectors and the same per-user filter. Target: ratio <= 2 for Mnemo.
Also the full `MemoryService.recall` path (embedding call to the loopback fake + mem0 search).
Run: python bench/recall_scaling.py
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from _common import bench_core, summary
from qdrant_client import QdrantClient, models

from core.memory.vectors.sqlite import SQLiteVectorStore
from tests.fakes.openai_server import FakeOpenAI, embed_text

DIMS = 64
QUERIES = 200
WORDS = [
    "tea",
    "coffee",
    "hiking",
    "chess",
    "piano",
    "garden",
    "boat",
    "cat",
    "dog",
    "bread",
    "jazz",
    "rust",
    "python",
    "paris",
    "lisbon",
]


def corpus(
    users: int, per_user: int, *, first_user: int | None = None
) -> list[tuple[str, str, list[float], dict[str, object]]]:
    """`first_user` memories for the queried user (default per_user), per_user for everyone else."""
    rng = random.Random(7)
    rows = []
    for u in range(users):
        user_id = str(uuid.UUID(int=u + 1))
        count = first_user if (u == 0 and first_user is not None) else per_user
        for m in range(count):
            text = f"user {u} memory {m} likes " + " ".join(rng.sample(WORDS, 4))
            payload = {"user_id": user_id, "data": text, "created_at": f"2026-01-01T00:{m % 60:02d}:00"}
            rows.append((str(uuid.uuid4()), user_id, embed_text(text, DIMS), payload))
    return rows


def time_sqlite(rows: list[tuple[str, str, list[float], dict[str, object]]], user_id: str) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteVectorStore(
            collection_name="bench", path=str(Path(tmp) / "v.db"), embedding_model_dims=DIMS
        )
        store.insert([r[2] for r in rows], payloads=[r[3] for r in rows], ids=[r[0] for r in rows])
        query = embed_text("who likes jazz and tea", DIMS)
        times = []
        for _ in range(QUERIES):
            start = time.perf_counter()
            store.search("q", query, top_k=8, filters={"user_id": user_id})
            times.append((time.perf_counter() - start) * 1000)
        store.close()
        return times


def time_qdrant(rows: list[tuple[str, str, list[float], dict[str, object]]], user_id: str) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        client = QdrantClient(path=str(Path(tmp) / "q"))
        client.create_collection(
            "bench", vectors_config=models.VectorParams(size=DIMS, distance=models.Distance.COSINE)
        )
        client.upsert(
            "bench",
            points=[models.PointStruct(id=r[0], vector=r[2], payload=r[3]) for r in rows],
        )
        query = embed_text("who likes jazz and tea", DIMS)
        flt = models.Filter(
            must=[models.FieldCondition(key="user_id", match=models.MatchValue(value=user_id))]
        )
        times = []
        for _ in range(QUERIES):
            start = time.perf_counter()
            client.query_points("bench", query=query, query_filter=flt, limit=8)
            times.append((time.perf_counter() - start) * 1000)
        client.close()
        return times


async def time_recall(
    fake: FakeOpenAI, rows: list[tuple[str, str, list[float], dict[str, object]]]
) -> list[float]:
    async with bench_core(fake) as core:
        store = core.memory._store  # type: ignore[attr-defined]
        store.collection_name = "mnemo"
        store.insert([r[2] for r in rows], payloads=[r[3] for r in rows], ids=[r[0] for r in rows])
        account = uuid.UUID(int=1)
        times = []
        for _ in range(QUERIES // 2):
            start = time.perf_counter()
            await core.memory.recall(
                account, "who likes jazz and tea", include_private=True, limit=8, epoch=0
            )
            times.append((time.perf_counter() - start) * 1000)
        return times


async def main() -> None:
    small = corpus(1, 1)
    large = corpus(100, 100)
    crowd = corpus(100, 100, first_user=1)  # the queried user has 1 memory; 99 others have 100 each
    target_user = str(uuid.UUID(int=1))
    print(f"vector search, top 8 for one user ({QUERIES} queries each)")
    results = {}
    for name, fn in (("mnemo sqlite", time_sqlite), ("qdrant embedded", time_qdrant)):
        one = fn(small, target_user)
        others = fn(crowd, target_user)
        many = fn(large, target_user)
        results[name] = statistics.median(many)
        print(f"  {name:16s} 1 user x 1:                {summary(one)}")
        print(
            f"  {name:16s} 1 memory among 9,900 others: {summary(others)}   "
            f"ratio {statistics.median(others) / statistics.median(one):7.2f}"
        )
        print(
            f"  {name:16s} 100 users x 100:           {summary(many)}   "
            f"ratio {statistics.median(many) / statistics.median(one):7.2f}"
        )
    print(f"  at 100x100, qdrant / mnemo: {results['qdrant embedded'] / results['mnemo sqlite']:6.1f}x")
    with FakeOpenAI() as fake:
        one = await time_recall(fake, small)
        many = await time_recall(fake, large)
        ratio = statistics.median(many) / statistics.median(one)
        print("MemoryService.recall (embedding on loopback + mem0 search + our store)")
        print(f"  1x1:     {summary(one)}")
        print(f"  100x100: {summary(many)}   ratio {ratio:6.2f}   target <= 2")


if __name__ == "__main__":
    asyncio.run(main())
