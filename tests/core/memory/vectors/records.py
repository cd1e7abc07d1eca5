"""What the vector-store tests write and read back."""

from __future__ import annotations

import random
import uuid
from typing import Any

from core.memory.vectors.postgres import PostgresVectorStore
from core.memory.vectors.sqlite import SQLiteVectorStore
from tests.fakes.openai_server import embed_text

DIMS = 16
Store = SQLiteVectorStore | PostgresVectorStore


def vec(text: str) -> list[float]:
    return embed_text(text, DIMS)


def add(store: Store, user: str, text: str, *, created: str, private: bool = True, **extra: Any) -> str:
    vid = str(uuid.uuid4())
    payload = {"user_id": user, "data": text, "created_at": created, "is_private": private, **extra}
    store.insert([vec(text)], payloads=[payload], ids=[vid])
    return vid


def texts(records: list[Any]) -> list[str]:
    return [r.payload["data"] for r in records]


Tied = tuple[str, str | None]


def tied_rows(count: int, seed: int) -> list[Tied]:
    """(id, created_at) of `count` memories with the same words, in a shuffled write order: a few
    share an instant, a few have no created_at."""
    rng = random.Random(seed)
    instants: list[str | None] = [f"2026-11-01T1{h}:00:00+00:00" for h in range(4)] + [None]
    rows: list[Tied] = [(f"m{rng.randrange(10**6):06d}-{n}", rng.choice(instants)) for n in range(count)]
    rng.shuffle(rows)
    return rows


def insert_tied(store: Store, rows: list[Tied], text: str = "alice likes green tea") -> None:
    for vid, created in rows:
        payload = {"user_id": "alice", "data": text} | ({} if created is None else {"created_at": created})
        store.insert([vec(text)], payloads=[payload], ids=[vid])
