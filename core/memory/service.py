"""Long-term memory per account on mem0: the implementation of core.memory.port.MemoryService.

How mem0 is set up (its environment, our vector stores, our clients, a history that keeps
nothing) is core.memory.mem0_setup. Here:
- `user_id` is always our account UUID, never platform input (mem0 treats "*" as a wildcard);
- mem0 runs on a few worker threads (it is synchronous), and its errors become
  `MemoryBackendError`;
- removal follows the vocabulary: `forget` one memory, `erase` everything of an account, `discard`
  a write that must not stand; each ends by purging the deleted text from the vector store's files.

Erasure epochs: every memory carries the epoch of its account when it was written, and reads only
return memories of the epoch the caller read from the store, so a write that lands after an erasure
is never recalled, even in the moment before it is discarded (core.memory.writer).

Memories are stored with where and when they were learned (`created_at` is when the exchange
happened). Recall over-fetches, favours the newer of about equally relevant memories and drops
near-duplicates (core.memory.selection). Updates win at write time: the model judges which older
memories a write's new ones replace (core.memory.update_judge, core.memory.updates), and the
writer forgets those once the write stands (core.memory.writer).
mem0 `run_id` is "private" or "public", so a private conversation never feeds the extraction
context of a public one, and recall in a public place filters on `is_private == False`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from core.errors import MemoryBackendError, NotFoundError, StorageError
from core.llm import OpenAIChatModel, TokenUsage
from core.memory.consolidation import Record, consolidation_victims
from core.memory.mem0_openai import metered
from core.memory.mem0_setup import Mem0Options, VectorStore, open_mem0
from core.memory.port import MemoryService, Replacements, StillCurrent
from core.memory.selection import OVERFETCH, distinct_memories, extraction_instructions, newest_favoured, utc
from core.memory.update_judge import JUDGE_MAX_TOKENS, JudgeQuestion, UpdateJudge
from core.memory.updates import forget_replaced, offered_candidates, payload_item
from core.memory.vectors.postgres import PostgresVectorStore
from core.memory.vectors.sqlite import SQLiteVectorStore
from core.models import MemoryItem, MemoryOrigin, MemoryPage

T = TypeVar("T")
log = logging.getLogger(__name__)

__all__ = ["Mem0Memory", "MemoryService", "OnExtractionUsage"]

# Recalls have threads of their own, started on demand: each mostly waits on its embedding, so a
# burst of replies must not take turns on the 4 threads that memory writes (whole completions) hold.
RECALL_WORKERS = 32  # replies at once are bounded by admission (bench/mention_burst.py)

# Told the model tokens one memory write spent (core.budget.Budget.record_extraction).
OnExtractionUsage = Callable[[uuid.UUID, MemoryOrigin, int], Awaitable[None]]


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


class Mem0Memory:
    """mem0 open-source `Memory` with our vector store, clients and complete erasure."""

    def __init__(
        self, memory: Any, store: VectorStore, *, workers: int = 4, judge: UpdateJudge | None = None
    ) -> None:
        self._memory = memory
        self._store = store
        self._judge = judge  # None: no update at write time (MEMORY_UPDATE_BY_MODEL=false)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mem0")
        self._recall_executor = ThreadPoolExecutor(RECALL_WORKERS, thread_name_prefix="mem0-recall")
        # Set by the wiring when usage is counted (core.budget); None: extraction tokens go uncounted.
        self.on_usage: OnExtractionUsage | None = None

    @classmethod
    def build(cls, options: Mem0Options) -> Mem0Memory:
        """Construct synchronously (touches files only; no network)."""
        memory, store = open_mem0(options)
        judge = None
        if options.update_by_model:
            # The memory model (what extracts memories), with a small answer limit of its own.
            judge = UpdateJudge(
                OpenAIChatModel(
                    base_url=options.base_url,
                    api_key=options.api_key,
                    model=options.llm_model,
                    max_tokens=JUDGE_MAX_TOKENS,
                    timeout_seconds=options.timeout_seconds,
                    max_retries=options.max_retries,
                )
            )
        return cls(memory, store, judge=judge)

    async def _run(self, fn: Callable[[], T], *, executor: ThreadPoolExecutor | None = None) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor or self._executor, fn)
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

        def search() -> list[MemoryItem]:
            result = self._memory.search(query, filters=filters, top_k=min(limit * OVERFETCH, 100))
            ranked = newest_favoured([_item(r) for r in result.get("results", [])])
            return distinct_memories(ranked, limit)

        return await self._run(search, executor=self._recall_executor)

    async def remember(
        self,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        *,
        origin: MemoryOrigin,
        epoch: int,
        said_at: datetime | None = None,
    ) -> list[MemoryItem]:
        metadata: dict[str, Any] = {
            "platform": origin.platform.value,
            "channel": origin.channel,
            "is_private": origin.is_private,
            "epoch": epoch,
        }
        if said_at is not None:
            metadata["created_at"] = utc(said_at).isoformat()  # mem0 keeps a given created_at

        def add_and_read_back() -> tuple[list[MemoryItem], int]:
            with metered() as meter:
                result = self._memory.add(
                    messages,
                    user_id=str(account_id),
                    run_id="private" if origin.is_private else "public",
                    metadata=metadata,
                    prompt=extraction_instructions(said_at or datetime.now(UTC)),
                )
            added = []
            for memory_id in (str(raw["id"]) for raw in result.get("results", [])):
                stored = self._store.get(memory_id)
                if stored is not None:
                    added.append(payload_item(stored.id, stored.payload))
            return added, meter.tokens

        added, tokens = await self._run(add_and_read_back)
        if tokens and self.on_usage is not None:
            await self.on_usage(account_id, origin, tokens)
        return added

    async def find_replaced(
        self,
        account_id: uuid.UUID,
        added: list[MemoryItem],
        *,
        origin: MemoryOrigin,
        epoch: int,
        still_current: StillCurrent | None = None,
    ) -> Replacements:
        if self._judge is None or not added:
            return {}
        try:
            offered = await self._run(
                lambda: offered_candidates(self._memory, self._store, account_id, added, epoch=epoch)
            )
            if not offered or (still_current is not None and not await still_current()):
                return {}
        except (MemoryBackendError, StorageError) as exc:
            log.warning("could not look for the memories a write updates (%s); nothing replaced", exc)
            return {}
        usage: list[TokenUsage] = []
        replaced = await self._judge.replaced(JudgeQuestion.of(offered), on_usage=usage.append)
        tokens = sum(u.total for u in usage)
        if tokens and self.on_usage is not None:
            await self.on_usage(account_id, origin, tokens)  # counted like extraction's tokens
        return replaced

    async def forget_replaced(
        self, account_id: uuid.UUID, replaced: Replacements, *, epoch: int
    ) -> list[str]:
        if not replaced:
            return []
        return await self._run(
            lambda: forget_replaced(self._memory, self._store, account_id, replaced, epoch=epoch)
        )

    def _all(self, account_id: uuid.UUID, epoch: int | None = None) -> list[MemoryItem]:
        filters = {"user_id": str(account_id)} if epoch is None else _epoch_filter(account_id, epoch)
        records = self._store.list(filters=filters)[0]
        return [payload_item(r.id, r.payload) for r in records]

    async def page(
        self,
        account_id: uuid.UUID,
        *,
        epoch: int,
        offset: int,
        limit: int,
        query: str | None = None,
    ) -> MemoryPage:
        def read_page() -> MemoryPage:
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

        return await self._run(read_page)

    async def forget(self, account_id: uuid.UUID, memory_id: str) -> MemoryItem:
        def delete_one() -> MemoryItem:
            stored = self._store.get(memory_id)
            if stored is None or stored.payload.get("user_id") != str(account_id):
                raise NotFoundError(f"No memory with id {memory_id}.")
            item = payload_item(stored.id, stored.payload)
            self._memory.delete(memory_id)
            self._store.purge()
            return item

        return await self._run(delete_one)

    async def discard(self, account_id: uuid.UUID, memory_ids: list[str]) -> None:
        def delete_owned() -> None:
            owned = [
                memory_id
                for memory_id in memory_ids
                if (stored := self._store.get(memory_id)) is not None
                and stored.payload.get("user_id") == str(account_id)
            ]
            for memory_id in owned:
                self._memory.delete(memory_id)
            if owned:
                self._store.purge()

        await self._run(delete_owned)

    async def erase(self, account_id: uuid.UUID) -> int:
        def erase_everything() -> int:
            ids = [item.id for item in self._all(account_id)]
            if ids:
                self._memory.delete_all(user_id=str(account_id))
            # Then anything left in any collection (entities), and rewrite the files.
            self._store.erase_user(str(account_id))
            return len(ids)

        return await self._run(erase_everything)

    async def export(self, account_id: uuid.UUID, *, epoch: int) -> list[MemoryItem]:
        return await self._run(lambda: self._all(account_id, epoch))

    async def items(self, account_id: uuid.UUID, memory_ids: list[str], *, epoch: int) -> list[MemoryItem]:
        def read_owned() -> list[MemoryItem]:
            found = []
            for memory_id in dict.fromkeys(memory_ids):
                stored = self._store.get(memory_id)
                if (
                    stored is not None
                    and stored.payload.get("user_id") == str(account_id)
                    and stored.payload.get("epoch", 0) == epoch
                ):
                    found.append(payload_item(stored.id, stored.payload))
            return found

        return await self._run(read_owned)

    async def move(
        self, source: uuid.UUID, target: uuid.UUID, *, epoch: int, memory_ids: list[str] | None = None
    ) -> list[str]:
        def rehome() -> list[str]:
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
                self._store.purge()
            return moved

        return await self._run(rehome)

    async def account_ids(self) -> list[uuid.UUID]:
        def read_account_ids() -> list[uuid.UUID]:
            ids = []
            for raw in self._store.user_ids():
                try:
                    ids.append(uuid.UUID(raw))
                except ValueError:
                    continue  # not one of our accounts (written by something else); never touch it
            return ids

        return await self._run(read_account_ids)

    async def consolidate(self, account_id: uuid.UUID, *, epoch: int, similarity: float) -> int:
        def delete_duplicates_and_stale() -> int:
            current: list[Record] = []
            stale: list[Record] = []
            for record in self._store.user_vectors(str(account_id)):
                # Older epochs only: an account the store does not know reads as epoch 0.
                (stale if record[0].payload.get("epoch", 0) < epoch else current).append(record)
            doomed = [r[0].id for r in stale] + consolidation_victims(current, similarity)
            for memory_id in doomed:
                self._memory.delete(memory_id)
            if doomed:
                self._store.purge()
            return len(doomed)

        return await self._run(delete_duplicates_and_stale)

    async def ping(self) -> None:
        store = self._store
        # A count over the shared Postgres table would grow with everyone's memories.
        await self._run(store.ping if isinstance(store, PostgresVectorStore) else store.col_info)

    async def close(self) -> None:
        def close_mem0() -> None:
            self._recall_executor.shutdown(wait=True)  # no recall still reads what closes below
            self._store.close()
            entity = getattr(self._memory, "_entity_store", None)
            if isinstance(entity, SQLiteVectorStore | PostgresVectorStore):
                entity.close()
            self._memory.close()

        await self._run(close_mem0)
        self._executor.shutdown(wait=True)
        if self._judge is not None:
            await self._judge.close()
