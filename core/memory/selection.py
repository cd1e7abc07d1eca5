"""What Mnemo decides around mem0 when it writes and recalls memories (core.memory.service):

- extraction is told when the messages were said, so "yesterday" becomes a date;
- (which older memories a new one replaces is the model's judgement: core.memory.update_judge);
- recall favours the newer of about equally relevant memories (an updated fact over the one it
  updates), and drops near-duplicates so that the memories in a prompt are different facts.
Both weights were set by bench/memory_quality.py (README "Memory quality").
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.memory.vectors.keywords import keyword_terms
from core.models import MemoryItem

# Two recalled memories sharing at least this share of their words (Jaccard, stop words left out)
# say the same thing; the prompt keeps one of them.
NEAR_DUPLICATE_WORDS = 0.8
# Recall over-fetches this many times the limit so that dropped near-duplicates leave room for
# other facts.
OVERFETCH = 2


# How much being the newest of the recalled candidates adds to a memory's relevance score
# (mem0's hybrid score, 0..1): enough to order two about equally relevant memories newest first.
RECENCY_WEIGHT = 0.05


def newest_favoured(ranked: list[MemoryItem], weight: float = RECENCY_WEIGHT) -> list[MemoryItem]:
    """`ranked` re-ordered by score plus `weight` times how new each memory is among them (0 for
    the oldest, 1 for the newest, by `created_at`). A memory without a score or date keeps its
    score."""
    times = {id(m): t for m in ranked if (t := _timestamp(m)) is not None}
    if weight <= 0 or len(times) < 2 or max(times.values()) == min(times.values()):
        return list(ranked)
    oldest, span = min(times.values()), max(times.values()) - min(times.values())

    def boosted(item: MemoryItem) -> float:
        moment = times.get(id(item))
        newness = 0.0 if moment is None else (moment - oldest) / span
        return (item.score or 0.0) + weight * newness

    return sorted(ranked, key=boosted, reverse=True)


def _timestamp(item: MemoryItem) -> float | None:
    if not item.created_at:
        return None
    try:
        return utc(datetime.fromisoformat(item.created_at)).timestamp()
    except ValueError:
        return None


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
