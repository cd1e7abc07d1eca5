"""Long-term memory per account: the port, and its mem0 implementation.

mem0's quirks stay in this module:
- telemetry and its `~/.mem0` directory are switched off / moved into DATA_DIR before `import mem0`;
- its OpenAI clients are replaced with ours (our timeout and retry limits, and no silent
  OPENROUTER_API_KEY rerouting);
- the vector store is our per-account partitioned store, plugged in through mem0's factory: SQLite
  in DATA_DIR (core.vector_store), or PostgreSQL when a database URL is given
  (core.vector_store_postgres), so several machines share one memory;
- `user_id` is always our account UUID, never platform input (mem0 treats "*" as a wildcard);
- deletion is completed by hand: mem0 writes deleted text into its `history` table and keeps the
  last raw messages per scope in a `messages` table, so we purge both and rewrite the files;
- its errors become `MemoryBackendError`.

Memories are stored with where they were learned. mem0 `run_id` is "private" or "public", so a
private conversation never feeds the extraction context of a public one, and recall in a public
place filters on `is_private == False`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from config import ConfigError
from core.errors import MemoryBackendError, NotFoundError
from core.models import MemoryItem, MemoryOrigin, MemoryPage
from core.vector_store import PROVIDER, SQLiteVectorConfig, SQLiteVectorStore
from core.vector_store_postgres import PROVIDER as POSTGRES_PROVIDER
from core.vector_store_postgres import PostgresVectorConfig, PostgresVectorStore

T = TypeVar("T")
VectorStore = SQLiteVectorStore | PostgresVectorStore


class MemoryService(Protocol):
    """Every method raises MemoryBackendError when the memory backend fails."""

    async def recall(
        self, account_id: uuid.UUID, query: str, *, include_private: bool, limit: int
    ) -> list[MemoryItem]:
        """The account's memories most relevant to `query`. Private-origin memories only when
        `include_private` (the conversation itself is private)."""
        ...

    async def remember(
        self,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        *,
        origin: MemoryOrigin,
    ) -> list[MemoryItem]:
        """Extract and store what is worth remembering from an exchange; returns what was added."""
        ...

    async def page(
        self,
        account_id: uuid.UUID,
        *,
        offset: int,
        limit: int,
        query: str | None = None,
    ) -> MemoryPage:
        """Newest first, or by relevance when `query` is given."""
        ...

    async def forget(self, account_id: uuid.UUID, memory_id: str) -> MemoryItem:
        """Delete one memory of this account. NotFoundError if the account has no such memory."""
        ...

    async def clear(self, account_id: uuid.UUID) -> int:
        """Erase every memory of the account, including mem0's history and raw messages."""
        ...

    async def discard(self, account_id: uuid.UUID, memory_ids: list[str]) -> None:
        """Undo a write that must not stand (its account was erased meanwhile): delete those
        memories of this account and the raw messages mem0 kept from the exchange."""
        ...

    async def export(self, account_id: uuid.UUID) -> list[MemoryItem]: ...

    async def move(self, source: uuid.UUID, target: uuid.UUID) -> int:
        """Re-home every memory of `source` to `target` (account linking); exact duplicates collapse."""
        ...

    async def account_ids(self) -> list[uuid.UUID]:
        """Every account that has at least one memory (for housekeeping jobs)."""
        ...

    async def consolidate(self, account_id: uuid.UUID, *, similarity: float) -> int:
        """Merge the account's duplicate memories: exact repeats collapse to one (a public copy is
        kept over a private one), and of memories at least `similarity` alike (cosine) only the
        newest survives, which also resolves an updated fact ("lives in Paris" -> "lives in Berlin").
        Deleted memories leave no history behind. Returns how many were deleted."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Mem0Options:
    data_dir: Path
    base_url: str
    api_key: str
    llm_model: str
    embedding_model: str
    embedding_dims: int
    timeout_seconds: float
    max_retries: int
    # Postgres connection string for the vectors (None: SQLite in data_dir). Never in a repr.
    vector_db_url: str | None = field(default=None, repr=False)


def _import_mem0(data_dir: Path) -> Any:
    # Must happen before the first `import mem0`: telemetry is read at import time and mem0 creates
    # its directory on import. OPENROUTER_API_KEY is handled by replacing mem0's clients below.
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("MEM0_DIR", str(data_dir / "mem0"))
    import mem0
    from mem0.utils.factory import VectorStoreFactory

    VectorStoreFactory.provider_to_class[PROVIDER] = "core.vector_store.SQLiteVectorStore"
    VectorStoreFactory.provider_to_class[POSTGRES_PROVIDER] = "core.vector_store_postgres.PostgresVectorStore"
    return mem0


def _item(raw: dict[str, Any]) -> MemoryItem:
    meta = raw.get("metadata") or {}
    return MemoryItem(
        id=str(raw["id"]),
        text=str(raw.get("memory", "")),
        created_at=raw.get("created_at"),
        platform=meta.get("platform"),
        channel=meta.get("channel"),
        is_private=bool(meta.get("is_private", True)),
        score=raw.get("score"),
    )


def _payload_item(vid: str, payload: dict[str, Any]) -> MemoryItem:
    return MemoryItem(
        id=vid,
        text=str(payload.get("data", "")),
        created_at=payload.get("created_at"),
        platform=payload.get("platform"),
        channel=payload.get("channel"),
        is_private=bool(payload.get("is_private", True)),
    )


def _normalized_text(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(".!")


def _recency(payload: dict[str, Any]) -> datetime:
    for key in ("updated_at", "created_at"):
        value = payload.get(key)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)


def _consolidation_victims(records: list[tuple[Any, np.ndarray]], similarity: float) -> list[str]:
    """Ids to delete so that no exact repeat and no pair at least `similarity` alike remains."""
    newest_first = sorted(records, key=lambda r: (_recency(r[0].payload), r[0].id), reverse=True)
    doomed: list[str] = []
    # Exact repeats: the same words carry no newer information, so prefer the copy usable in
    # public channels (is_private False), then the newest.
    by_text: dict[str, list[tuple[Any, np.ndarray]]] = {}
    for record in newest_first:
        by_text.setdefault(_normalized_text(str(record[0].payload.get("data", ""))), []).append(record)
    survivors: list[tuple[Any, np.ndarray]] = []
    for group in by_text.values():
        keep = next((r for r in group if r[0].payload.get("is_private") is False), group[0])
        survivors.append(keep)
        doomed.extend(r[0].id for r in group if r is not keep)
    # Near repeats and superseded facts: the newest wins. Greedy over newest-first order, so every
    # deleted memory is older than a kept one it resembles.
    survivors.sort(key=lambda r: (_recency(r[0].payload), r[0].id), reverse=True)
    if not survivors:
        return doomed
    kept = np.empty((len(survivors), survivors[0][1].shape[0]), dtype=np.float32)
    count = 0
    for record, vector in survivors:
        if count and float(np.max(kept[:count] @ vector)) >= similarity:
            doomed.append(record.id)
        else:
            kept[count] = vector
            count += 1
    return doomed


class Mem0Memory:
    """mem0 open-source `Memory` with our vector store, clients and complete erasure."""

    def __init__(self, memory: Any, store: VectorStore, *, workers: int = 4) -> None:
        self._memory = memory
        self._store = store
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mem0")

    @classmethod
    def build(cls, options: Mem0Options) -> Mem0Memory:
        """Construct synchronously (touches files only; no network)."""
        options.data_dir.mkdir(parents=True, exist_ok=True)
        _import_mem0(options.data_dir)
        from mem0 import Memory
        from mem0.configs.base import MemoryConfig
        from mem0.vector_stores.configs import VectorStoreConfig
        from openai import OpenAI

        vector_config: SQLiteVectorConfig | PostgresVectorConfig
        if options.vector_db_url:
            provider = POSTGRES_PROVIDER
            vector_config = PostgresVectorConfig(
                collection_name="mnemo",
                url=options.vector_db_url,
                embedding_model_dims=options.embedding_dims,
            )
            # mem0's history database keeps every deleted text and the last raw messages per
            # person. With the vectors in Postgres, a file of it in DATA_DIR would be the one copy of
            # a person's words left on one machine's disk (and machines would disagree about it):
            # keep it in memory, where erasure purges it just the same and a restart drops it.
            history_db_path = ":memory:"
        else:
            provider = PROVIDER
            vector_config = SQLiteVectorConfig(
                collection_name="mnemo",
                path=str(options.data_dir / "memory_vectors.db"),
                embedding_model_dims=options.embedding_dims,
            )
            history_db_path = str(options.data_dir / "memory_history.db")
        config = MemoryConfig(
            llm={
                "provider": "openai",
                "config": {
                    "model": options.llm_model,
                    "openai_base_url": options.base_url,
                    "api_key": options.api_key,
                    "temperature": 0.0,
                },
            },
            embedder={
                "provider": "openai",
                "config": {
                    "model": options.embedding_model,
                    "openai_base_url": options.base_url,
                    "api_key": options.api_key,
                    "embedding_dims": options.embedding_dims,
                },
            },
            history_db_path=history_db_path,
        )
        # mem0 validates vector store providers against a fixed list; ours is registered with its
        # factory in _import_mem0, so this one field is set after validation.
        config.vector_store = VectorStoreConfig.model_construct(provider=provider, config=vector_config)
        try:
            memory = Memory(config)
        except ConfigError:
            raise  # the database URL is wrong or the database unusable: one line at start-up
        except Exception as exc:
            raise MemoryBackendError(f"mem0 could not start: {exc}") from exc
        client = OpenAI(
            api_key=options.api_key,
            base_url=options.base_url,
            timeout=options.timeout_seconds,
            max_retries=options.max_retries,
        )
        memory.llm.client = client
        memory.embedding_model.client = client
        with memory.db._lock:
            memory.db.connection.execute("PRAGMA secure_delete=ON")
        store = memory.vector_store
        if not isinstance(store, SQLiteVectorStore | PostgresVectorStore):  # pragma: no cover - wiring error
            raise MemoryBackendError("mem0 did not use Mnemo's vector store")
        return cls(memory, store)

    async def _run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except (NotFoundError, MemoryBackendError):
            raise
        except Exception as exc:
            raise MemoryBackendError(f"memory backend failed: {type(exc).__name__}: {exc}") from exc

    async def recall(
        self, account_id: uuid.UUID, query: str, *, include_private: bool, limit: int
    ) -> list[MemoryItem]:
        if limit <= 0 or not query.strip():
            return []
        filters: dict[str, Any] = {"user_id": str(account_id)}
        if not include_private:
            filters["is_private"] = False

        def work() -> list[MemoryItem]:
            result = self._memory.search(query, filters=filters, top_k=limit)
            return [_item(r) for r in result.get("results", [])]

        return await self._run(work)

    async def remember(
        self,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        *,
        origin: MemoryOrigin,
    ) -> list[MemoryItem]:
        metadata = {
            "platform": origin.platform.value,
            "channel": origin.channel,
            "is_private": origin.is_private,
        }

        def work() -> list[MemoryItem]:
            result = self._memory.add(
                messages,
                user_id=str(account_id),
                run_id="private" if origin.is_private else "public",
                metadata=metadata,
            )
            added = []
            for raw in result.get("results", []):
                stored = self._store.get(str(raw["id"]))
                if stored is not None:
                    added.append(_payload_item(stored.id, stored.payload))
            return added

        return await self._run(work)

    def _all(self, account_id: uuid.UUID) -> list[MemoryItem]:
        records = self._store.list(filters={"user_id": str(account_id)})[0]
        return [_payload_item(r.id, r.payload) for r in records]

    async def page(
        self,
        account_id: uuid.UUID,
        *,
        offset: int,
        limit: int,
        query: str | None = None,
    ) -> MemoryPage:
        def work() -> MemoryPage:
            if query and query.strip():
                result = self._memory.search(
                    query,
                    filters={"user_id": str(account_id)},
                    top_k=min(offset + limit, 100),
                    threshold=0.0,
                )
                ranked = [_item(r) for r in result.get("results", [])]
                return MemoryPage(ranked[offset : offset + limit], offset, len(ranked))
            items = self._all(account_id)
            return MemoryPage(items[offset : offset + limit], offset, len(items))

        return await self._run(work)

    async def forget(self, account_id: uuid.UUID, memory_id: str) -> MemoryItem:
        def work() -> MemoryItem:
            stored = self._store.get(memory_id)
            if stored is None or stored.payload.get("user_id") != str(account_id):
                raise NotFoundError(f"No memory with id {memory_id}.")
            item = _payload_item(stored.id, stored.payload)
            self._memory.delete(memory_id)
            self._purge_history([memory_id])
            self._store.compact()
            return item

        return await self._run(work)

    async def discard(self, account_id: uuid.UUID, memory_ids: list[str]) -> None:
        def work() -> None:
            owned = [
                memory_id
                for memory_id in memory_ids
                if (stored := self._store.get(memory_id)) is not None
                and stored.payload.get("user_id") == str(account_id)
            ]
            for memory_id in owned:
                self._memory.delete(memory_id)
            self._purge_history(owned, self._scopes(account_id))
            self._store.compact()

        await self._run(work)

    def _purge_history(self, memory_ids: list[str], scopes: list[str] | None = None) -> None:
        db = self._memory.db
        with db._lock:
            conn: sqlite3.Connection = db.connection
            conn.executemany("DELETE FROM history WHERE memory_id = ?", [(m,) for m in memory_ids])
            if scopes:
                conn.executemany(
                    "DELETE FROM messages WHERE session_scope = ?",
                    [(s,) for s in scopes],
                )
            conn.commit()
            conn.execute("VACUUM")

    @staticmethod
    def _scopes(account_id: uuid.UUID) -> list[str]:
        from mem0.memory.main import _build_session_scope

        return [
            _build_session_scope({"user_id": str(account_id), "run_id": run}) for run in ("private", "public")
        ] + [_build_session_scope({"user_id": str(account_id)})]

    async def clear(self, account_id: uuid.UUID) -> int:
        def work() -> int:
            ids = [item.id for item in self._all(account_id)]
            if ids:
                self._memory.delete_all(user_id=str(account_id))
            # delete_all recorded every deleted text in `history`; purge those rows and mem0's
            # copy of the raw messages, then drop anything left in any collection (entities).
            self._purge_history(ids, self._scopes(account_id))
            self._store.erase_user(str(account_id))
            return len(ids)

        return await self._run(work)

    async def export(self, account_id: uuid.UUID) -> list[MemoryItem]:
        return await self._run(lambda: self._all(account_id))

    async def move(self, source: uuid.UUID, target: uuid.UUID) -> int:
        def work() -> int:
            target_hashes = {
                r.payload.get("hash") for r in self._store.list(filters={"user_id": str(target)})[0]
            }
            moved = 0
            duplicates: list[str] = []
            for record in self._store.list(filters={"user_id": str(source)})[0]:
                payload = dict(record.payload)
                if payload.get("hash") in target_hashes:
                    self._memory.delete(record.id)
                    duplicates.append(record.id)
                    continue
                payload["user_id"] = str(target)
                self._store.update(record.id, payload=payload)
                target_hashes.add(payload.get("hash"))
                moved += 1
            # One purge (it ends with a VACUUM that rewrites the file) for all of them, not one per
            # duplicate: 200 memories with 50 duplicates took 2.2 s that way (bench/linking.py).
            self._purge_history(duplicates, self._scopes(source))
            return moved

        return await self._run(work)

    async def account_ids(self) -> list[uuid.UUID]:
        def work() -> list[uuid.UUID]:
            ids = []
            for raw in self._store.user_ids():
                try:
                    ids.append(uuid.UUID(raw))
                except ValueError:
                    continue  # not one of our accounts (written by something else); never touch it
            return ids

        return await self._run(work)

    async def consolidate(self, account_id: uuid.UUID, *, similarity: float) -> int:
        def work() -> int:
            doomed = _consolidation_victims(self._store.user_vectors(str(account_id)), similarity)
            for memory_id in doomed:
                self._memory.delete(memory_id)
            if doomed:
                # mem0 copied each deleted text into `history`; "forget all" later purges history by
                # the ids that still exist, so these rows must go now or they would outlive it.
                self._purge_history(doomed)
            return len(doomed)

        return await self._run(work)

    async def ping(self) -> None:
        store = self._store
        # A count over the shared Postgres table would grow with everyone's memories.
        await self._run(store.ping if isinstance(store, PostgresVectorStore) else store.col_info)

    async def close(self) -> None:
        def work() -> None:
            self._store.close()
            entity = getattr(self._memory, "_entity_store", None)
            if isinstance(entity, SQLiteVectorStore | PostgresVectorStore):
                entity.close()
            self._memory.close()

        await self._run(work)
        self._executor.shutdown(wait=True)
