"""Updates win at write time: around the judge (core.memory.update_judge), what Mem0Memory does in
its worker threads.

- `offered_candidates`: for each new memory of a write, the older memories the judge may replace
  with it: the same account's (`user_id`) at its erasure epoch, whatever place they were said in.
  A public write may replace a memory said in private ("I moved to Berlin" in a channel outdates
  "I live in Paris" said in a DM): the judge's answer is a list of numbers that reaches no one, so
  nothing private is shown in the public place, and the person's private recall then holds the
  newer fact only. Of those, the CANDIDATES most alike (cosine at least CANDIDATE_FLOOR, low on
  purpose: updates are often not much alike) that are older than the new memory and not the same
  words (an exact repeat is no update; the nightly consolidation collapses it, keeping a public
  copy).
- `forget_replaced`: once the write stands (core.memory.writer checked the erasure epoch after it
  landed), the replaced memories are forgotten as `forget` does (mem0's delete: the vector row,
  its keyword index entry, its entity links; then the purge that rewrites the files). Only
  memories that are still the account's at that epoch, and only for a new memory that is still
  there itself (forgotten meanwhile, or collapsed into a duplicate by a merge, it replaces nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from core.memory.consolidation import normalized_text, recency
from core.memory.mem0_setup import VectorStore
from core.memory.port import Replacements
from core.memory.vectors.base import OutputData
from core.models import MemoryItem

# Older memories offered to the judge per new memory, and the least cosine to be offered: labelled
# update pairs of the benchmark have a median cosine of 0.42 (all-MiniLM-L6-v2), 4 of 48 under 0.2.
CANDIDATES = 5
CANDIDATE_FLOOR = 0.2


def payload_item(vid: str, payload: dict[str, Any]) -> MemoryItem:
    return MemoryItem(
        id=vid,
        text=str(payload.get("data", "")),
        created_at=payload.get("created_at"),
        platform=payload.get("platform"),
        channel=payload.get("channel"),
        is_private=bool(payload.get("is_private", True)),
    )


def recall_filters(account_id: uuid.UUID, epoch: int, *, include_private: bool) -> dict[str, Any]:
    """What recall searches: one account, one erasure epoch, and private memories only when the
    place is private."""
    filters: dict[str, Any] = {"user_id": str(account_id), "epoch": epoch}
    if not include_private:
        filters["is_private"] = False
    return filters


def _order(created_at: str | None, vid: str) -> tuple[datetime, str]:
    # Oldest first; equal dates ordered by id, so two memories can never each replace the other.
    return (recency({"created_at": created_at}) if created_at else datetime.min.replace(tzinfo=UTC), vid)


def _older_and_other(found: OutputData, new: MemoryItem) -> bool:
    return _order(found.payload.get("created_at"), found.id) < _order(new.created_at, new.id) and (
        normalized_text(str(found.payload.get("data", ""))) != normalized_text(new.text)
    )


def offered_candidates(
    memory: Any,
    store: VectorStore,
    account_id: uuid.UUID,
    new: Sequence[MemoryItem],
    *,
    epoch: int,
) -> list[tuple[MemoryItem, list[MemoryItem]]]:
    """Each new memory with its candidates (only those that have some). Synchronous: one embedding
    request for all the new memories, then one vector search each. Raises what mem0 and the store
    raise."""
    if not new:
        return []
    vectors = memory.embedding_model.embed_batch([item.text for item in new], "search")
    filters = recall_filters(account_id, epoch, include_private=True)
    new_ids = {item.id for item in new}
    offered = []
    for item, vector in zip(new, vectors, strict=True):
        top_k = 2 * CANDIDATES + len(new_ids)  # room for the new ones, newer ones and repeats
        found = store.search(query=item.text, vectors=vector, top_k=top_k, filters=filters)
        olds = [
            payload_item(hit.id, hit.payload)
            for hit in found
            if hit.id not in new_ids
            and (hit.score or 0.0) >= CANDIDATE_FLOOR
            # The store's filters already hold; checked again so no other account's memory can
            # ever reach the judge, whatever a store does.
            and hit.payload.get("user_id") == str(account_id)
            and _older_and_other(hit, item)
        ][:CANDIDATES]
        if olds:
            offered.append((item, olds))
    return offered


def forget_replaced(
    memory: Any, store: VectorStore, account_id: uuid.UUID, replaced: Replacements, *, epoch: int
) -> list[str]:
    """Forget the older memories the judge said the new ones replace (see the module). Returns the
    ids forgotten. Synchronous; raises what mem0 and the store raise."""

    def current(memory_id: str) -> bool:
        stored = store.get(memory_id)
        return (
            stored is not None
            and stored.payload.get("user_id") == str(account_id)
            and stored.payload.get("epoch", 0) == epoch
        )

    doomed: list[str] = []
    for new_id, old_ids in replaced.items():
        if current(new_id):
            doomed += [old for old in old_ids if old not in doomed and old != new_id and current(old)]
    for memory_id in doomed:
        memory.delete(memory_id)
    if doomed:
        store.purge()
    return doomed
