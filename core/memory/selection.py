"""What Mnemo decides around mem0 when it writes and recalls memories (core.memory.service):

- extraction is told when the messages were said, so "yesterday" becomes a date;
- a new memory replaces the older ones it updates at write time (the nightly consolidation's rule,
  core.memory.consolidation, applied at once to the memories a write touches);
- recall drops near-duplicates so that the memories in a prompt are different facts.
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.memory.consolidation import Record, normalized_text, recency
from core.memory.vectors.base import OutputData
from core.memory.vectors.keywords import keyword_terms
from core.models import MemoryItem

# Two recalled memories sharing at least this share of their words (Jaccard, stop words left out)
# say the same thing; the prompt keeps one of them.
NEAR_DUPLICATE_WORDS = 0.8
# Recall over-fetches this many times the limit so that dropped near-duplicates leave room for
# other facts.
OVERFETCH = 2


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def extraction_instructions(said_at: datetime) -> str:
    """mem0's custom instructions for one exchange: the day it was said (mem0 would otherwise give
    the model today's date, wrong for a write retried later)."""
    day = utc(said_at)
    return (
        f"The new messages were sent on {day:%A}, {day.day} {day:%B %Y} (UTC). Resolve every relative "
        "date or time in them ('yesterday', 'last week', 'next Friday', 'in two days') against that "
        "date, and write the absolute date into the memory (for example 'on 2 October 2026')."
    )


def replaced_by_new(records: list[Record], new_ids: set[str], similarity: float) -> list[str]:
    """Ids of the memories that the newly written `new_ids` replace, among one account's `records`
    (same erasure epoch): older memories at least `similarity` alike (cosine) to a new one, with
    other words. (Exact repeats are not updates: the nightly consolidation collapses them, keeping
    a copy usable in public.)"""
    fresh = [r for r in records if r[0].id in new_ids]
    doomed: dict[str, None] = {}
    for new, vector in fresh:
        for old, other in records:
            if (
                old.id not in new_ids
                and old.id not in doomed
                and float(other @ vector) >= similarity
                and _normalized(old) != _normalized(new)
                and recency(old.payload) <= recency(new.payload)
            ):
                doomed[old.id] = None
    return list(doomed)


def _normalized(record: OutputData) -> str:
    return normalized_text(str(record.payload.get("data", "")))


def _words(text: str) -> set[str]:
    return set(keyword_terms(text))


def _newer(a: MemoryItem, b: MemoryItem) -> bool:
    return (a.created_at or "") > (b.created_at or "")


def distinct_memories(ranked: list[MemoryItem], limit: int) -> list[MemoryItem]:
    """The first `limit` of `ranked` (most relevant first) once near-duplicates are dropped. Of two
    near-duplicates the newer one takes the better-ranked place (a restated or corrected fact
    replaces the earlier wording). Hand-written: a word-set comparison needs no vectors, so it works
    the same on both vector stores (MMR over embeddings would need each store to return them)."""
    kept: list[tuple[MemoryItem, set[str]]] = []
    for item in ranked:
        words = _words(item.text)
        twin = next(
            (
                i
                for i, (_, other) in enumerate(kept)
                if words and other and len(words & other) / len(words | other) >= NEAR_DUPLICATE_WORDS
            ),
            None,
        )
        if twin is None:
            kept.append((item, words))
        elif _newer(item, kept[twin][0]):
            kept[twin] = (item, words)
        if len(kept) >= limit and twin is None:
            break
    return [item for item, _ in kept[:limit]]
