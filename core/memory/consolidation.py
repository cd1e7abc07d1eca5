"""Which of one account's memories housekeeping deletes as duplicates (MemoryService.consolidate).

Exact repeats collapse to one (a copy usable in public is kept over a private one), and of memories
at least `similarity` alike (cosine over the stored, normalized vectors) only the newest survives,
which also resolves an updated fact ("lives in Paris" -> "lives in Berlin").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from core.memory.vectors.base import OutputData

Record = tuple[OutputData, np.ndarray]


def normalized_text(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(".!")


def recency(payload: dict[str, Any]) -> datetime:
    for key in ("updated_at", "created_at"):
        value = payload.get(key)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)


def consolidation_victims(records: list[Record], similarity: float) -> list[str]:
    """Ids to delete so that no exact repeat and no pair at least `similarity` alike remains."""
    newest_first = sorted(records, key=lambda r: (recency(r[0].payload), r[0].id), reverse=True)
    doomed: list[str] = []
    # Exact repeats: the same words carry no newer information, so prefer the copy usable in
    # public channels (is_private False), then the newest.
    by_text: dict[str, list[Record]] = {}
    for record in newest_first:
        by_text.setdefault(normalized_text(str(record[0].payload.get("data", ""))), []).append(record)
    survivors: list[Record] = []
    for group in by_text.values():
        keep = next((r for r in group if r[0].payload.get("is_private") is False), group[0])
        survivors.append(keep)
        doomed.extend(r[0].id for r in group if r is not keep)
    # Near repeats and superseded facts: the newest wins. Greedy over newest-first order, so every
    # deleted memory is older than a kept one it resembles.
    survivors.sort(key=lambda r: (recency(r[0].payload), r[0].id), reverse=True)
    if not survivors:
        return doomed
    kept = np.empty((len(survivors), survivors[0][1].shape[0]), dtype=np.float32)
    count = 0
    for memory, vector in survivors:
        if count and float(np.max(kept[:count] @ vector)) >= similarity:
            doomed.append(memory.id)
        else:
            kept[count] = vector
            count += 1
    return doomed
