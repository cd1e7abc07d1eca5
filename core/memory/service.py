"""Long-term memory per account: the port, and its mem0 implementation.

mem0's quirks stay in this module:
- telemetry and its `~/.mem0` directory are switched off / moved into DATA_DIR before `import mem0`;
- its OpenAI clients are replaced with ours (our timeout and retry limits, and no silent
  OPENROUTER_API_KEY rerouting);
- the vector store is our per-account partitioned store, plugged in through mem0's factory: SQLite
  in DATA_DIR (core.memory.vectors.sqlite), or PostgreSQL when a database URL is given
  (core.memory.vectors.postgres), so several machines share one memory;
- `user_id` is always our account UUID, never platform input (mem0 treats "*" as a wildcard);
- mem0's history database keeps nothing: mem0 would copy every memory text (also deleted ones)
  into a `history` table and the last raw messages of each person into a `messages` table, copies
  that per-process (Postgres mode) could not be purged from another process. Mnemo never reads
  them, so mem0 gets a history store that stores nothing (see core.erasure for every copy of a
  person's words);
- its errors become `MemoryBackendError`.

Erasure epochs: every memory carries the epoch of its account when it was written, and reads only
return memories of the epoch the caller read from the store, so a write that lands after an erasure
is never recalled, even in the moment before it is discarded (core.memory.writer).

Memories are stored with where they were learned. mem0 `run_id` is "private" or "public", so a
private conversation never feeds the extraction context of a public one, and recall in a public
place filters on `is_private == False`.
"""

from __future__ import annotations

import asyncio
import os
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
from core.memory.vectors.postgres import PROVIDER as POSTGRES_PROVIDER
from core.memory.vectors.postgres import PostgresVectorConfig, PostgresVectorStore
from core.memory.vectors.sqlite import PROVIDER, SQLiteVectorConfig, SQLiteVectorStore
from core.models import MemoryItem, MemoryOrigin, MemoryPage

T = TypeVar("T")
VectorStore = SQLiteVectorStore | PostgresVectorStore


class MemoryService(Protocol):
    """Every method raises MemoryBackendError when the memory backend fails."""

    async def recall(
        self, account_id: uuid.UUID, query: str, *, epoch: int, include_private: bool, limit: int
    ) -> list[MemoryItem]:
        """The account's memories (of erasure epoch `epoch`) most relevant to `query`.
        Private-origin memories only when `include_private` (the conversation itself is private)."""
        ...

    async def remember(
        self,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        *,
        origin: MemoryOrigin,
        epoch: int,
    ) -> list[MemoryItem]:
        """Extract and store what is worth remembering from an exchange, tagged with the account's
        erasure epoch; returns what was added."""
        ...

    async def page(
        self,
        account_id: uuid.UUID,
        *,
        epoch: int,
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
        """Erase every memory of the account (whatever its epoch), and purge the files."""
        ...

    async def discard(self, account_id: uuid.UUID, memory_ids: list[str]) -> None:
        """Undo a write that must not stand (its account was erased or paused meanwhile): delete
        those memories of this account and purge them from the files."""
        ...

    async def export(self, account_id: uuid.UUID, *, epoch: int) -> list[MemoryItem]: ...

    async def move(
        self, source: uuid.UUID, target: uuid.UUID, *, epoch: int, memory_ids: list[str] | None = None
    ) -> list[str]:
        """Re-home memories of `source` to `target` at the target's erasure epoch `epoch` (account
        linking, and writes that landed on an account merged meanwhile): all of them, or only
        `memory_ids`. Exact duplicates of the target's memories collapse. Returns the ids now on
        `target` that came from `source`."""
        ...

    async def account_ids(self) -> list[uuid.UUID]:
        """Every account that has at least one memory (for housekeeping jobs)."""
        ...

    async def consolidate(self, account_id: uuid.UUID, *, epoch: int, similarity: float) -> int:
        """Merge the account's duplicate memories: exact repeats collapse to one (a public copy is
        kept over a private one), and of memories at least `similarity` alike (cosine) only the
        newest survives, which also resolves an updated fact ("lives in Paris" -> "lives in Berlin").
        Memories of an epoch older than `epoch` (a write that landed after an erasure and whose
        discard was cut short by a crash) are purged too. Returns how many were deleted."""
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

    classes = VectorStoreFactory.provider_to_class
    classes[PROVIDER] = "core.memory.vectors.sqlite.SQLiteVectorStore"
    classes[POSTGRES_PROVIDER] = "core.memory.vectors.postgres.PostgresVectorStore"
    return mem0


def _history_that_keeps_nothing() -> Any:
    """mem0's history store with every write switched off (in memory, always empty).

    mem0 only writes to it on our paths (`Memory.history()`, the one reader, is never called), and
    what it would keep are copies of people's words: each memory's text at every change, including
    deletion, and the last ten raw messages per person as extraction context. Purging those by
    hand proved fragile (every delete path must remember it; in Postgres mode each process has its
    own copy that another process's erasure cannot reach). The extraction still sees the exchange
    and the person's existing memories; it loses only mem0's own ten-message look-back."""
    from mem0.memory.storage import SQLiteManager

    class KeepNothing(SQLiteManager):  # type: ignore[misc]
        def add_history(self, *args: Any, **kwargs: Any) -> None:
            return None

        def batch_add_history(self, records: list[dict[str, Any]]) -> None:
            return None

        def save_messages(self, messages: list[dict[str, Any]], session_scope: str) -> None:
            return None

    return KeepNothing(":memory:")


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


def _epoch_filter(account_id: uuid.UUID, epoch: int) -> dict[str, Any]:
    return {"user_id": str(account_id), "epoch": epoch}


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

        else:
            provider = PROVIDER
            vector_config = SQLiteVectorConfig(
                collection_name="mnemo",
                path=str(options.data_dir / "memory_vectors.db"),
                embedding_model_dims=options.embedding_dims,
            )
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
            # Replaced below by a history store that keeps nothing; never a file.
            history_db_path=":memory:",
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
        memory.db.close()
        memory.db = _history_that_keeps_nothing()
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
        self, account_id: uuid.UUID, query: str, *, epoch: int, include_private: bool, limit: int
    ) -> list[MemoryItem]:
        if limit <= 0 or not query.strip():
            return []
        filters = _epoch_filter(account_id, epoch)
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
        epoch: int,
    ) -> list[MemoryItem]:
        metadata = {
            "platform": origin.platform.value,
            "channel": origin.channel,
            "is_private": origin.is_private,
            "epoch": epoch,
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

    def _all(self, account_id: uuid.UUID, epoch: int | None = None) -> list[MemoryItem]:
        filters = {"user_id": str(account_id)} if epoch is None else _epoch_filter(account_id, epoch)
        records = self._store.list(filters=filters)[0]
        return [_payload_item(r.id, r.payload) for r in records]

    async def page(
        self,
        account_id: uuid.UUID,
        *,
        epoch: int,
        offset: int,
        limit: int,
        query: str | None = None,
    ) -> MemoryPage:
        def work() -> MemoryPage:
            if query and query.strip():
                result = self._memory.search(
                    query,
                    filters=_epoch_filter(account_id, epoch),
                    top_k=min(offset + limit, 100),
                    threshold=0.0,
                )
                ranked = [_item(r) for r in result.get("results", [])]
                return MemoryPage(ranked[offset : offset + limit], offset, len(ranked))
            items = self._all(account_id, epoch)
            return MemoryPage(items[offset : offset + limit], offset, len(items))

        return await self._run(work)

    async def forget(self, account_id: uuid.UUID, memory_id: str) -> MemoryItem:
        def work() -> MemoryItem:
            stored = self._store.get(memory_id)
            if stored is None or stored.payload.get("user_id") != str(account_id):
                raise NotFoundError(f"No memory with id {memory_id}.")
            item = _payload_item(stored.id, stored.payload)
            self._memory.delete(memory_id)
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
            if owned:
                self._store.compact()

        await self._run(work)

    async def clear(self, account_id: uuid.UUID) -> int:
        def work() -> int:
            ids = [item.id for item in self._all(account_id)]
            if ids:
                self._memory.delete_all(user_id=str(account_id))
            # Then anything left in any collection (entities), and rewrite the files.
            self._store.erase_user(str(account_id))
            return len(ids)

        return await self._run(work)

    async def export(self, account_id: uuid.UUID, *, epoch: int) -> list[MemoryItem]:
        return await self._run(lambda: self._all(account_id, epoch))

    async def move(
        self, source: uuid.UUID, target: uuid.UUID, *, epoch: int, memory_ids: list[str] | None = None
    ) -> list[str]:
        def work() -> list[str]:
            target_hashes = {
                r.payload.get("hash") for r in self._store.list(filters={"user_id": str(target)})[0]
            }
            records = self._store.list(filters={"user_id": str(source)})[0]
            if memory_ids is not None:
                wanted = set(memory_ids)
                records = [r for r in records if r.id in wanted]
            moved: list[str] = []
            duplicates = 0
            for record in records:
                payload = dict(record.payload)
                if payload.get("hash") in target_hashes:
                    self._memory.delete(record.id)
                    duplicates += 1
                    continue
                payload["user_id"] = str(target)
                payload["epoch"] = epoch
                self._store.update(record.id, payload=payload)
                target_hashes.add(payload.get("hash"))
                moved.append(record.id)
            if duplicates:
                # One rewrite of the files for all collapsed duplicates, not one per duplicate
                # (bench/linking.py: 200 memories with 50 duplicates took 2.2 s that way).
                self._store.compact()
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

    async def consolidate(self, account_id: uuid.UUID, *, epoch: int, similarity: float) -> int:
        def work() -> int:
            current: list[tuple[Any, np.ndarray]] = []
            stale: list[tuple[Any, np.ndarray]] = []
            for record in self._store.user_vectors(str(account_id)):
                # Older epochs only: an account the store does not know reads as epoch 0.
                (stale if record[0].payload.get("epoch", 0) < epoch else current).append(record)
            doomed = [r[0].id for r in stale] + _consolidation_victims(current, similarity)
            for memory_id in doomed:
                self._memory.delete(memory_id)
            if doomed:
                self._store.compact()
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
