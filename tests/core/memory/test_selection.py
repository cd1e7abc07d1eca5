"""Near-duplicate memories leave room for other facts; the newer wording of a fact wins."""

from __future__ import annotations

from datetime import UTC, datetime

from core.memory.selection import distinct_memories, extraction_instructions, newest_favoured
from core.models import MemoryItem


def item(text: str, created_at: str | None = None) -> MemoryItem:
    return MemoryItem(id=text, text=text, created_at=created_at, platform=None, channel=None, is_private=True)


def test_near_duplicates_are_dropped_and_the_next_facts_fill_the_limit() -> None:
    ranked = [
        item("my favourite tea is green tea", "2026-01-01"),
        item("Favourite tea: green tea!", "2026-02-01"),
        item("I drink tea every morning", "2026-01-05"),
        item("I live in Berlin", "2026-01-06"),
        item("I have a cat", "2026-01-07"),
    ]
    kept = distinct_memories(ranked, 3)
    # The newer wording takes the better-ranked place.
    assert [m.text for m in kept] == [
        "Favourite tea: green tea!",
        "I drink tea every morning",
        "I live in Berlin",
    ]


def test_memories_of_stop_words_only_are_never_near_duplicates_of_each_other() -> None:
    ranked = [item("it is what it is"), item("what is it"), item("I live in Berlin")]
    assert [m.text for m in distinct_memories(ranked, 5)] == [
        "it is what it is",
        "what is it",
        "I live in Berlin",
    ]
    assert distinct_memories(ranked, 0) == []


def test_extraction_is_told_the_day_in_utc() -> None:
    late = datetime.fromisoformat("2026-10-03T23:30:00-05:00")  # already Sunday in UTC
    assert "Sunday, 4 October 2026 (UTC)" in extraction_instructions(late)
    assert "Saturday, 3 October 2026" in extraction_instructions(datetime(2026, 10, 3, 12))  # naive: UTC
    assert extraction_instructions(datetime(2026, 10, 3, tzinfo=UTC)).count("yesterday") == 1


def scored(text: str, score: float | None, created_at: str | None) -> MemoryItem:
    return MemoryItem(
        id=text, text=text, created_at=created_at, platform=None, channel=None, is_private=True, score=score
    )


def test_of_two_about_equally_relevant_memories_the_newer_comes_first() -> None:
    ranked = [
        scored("I live in Paris", 0.62, "2026-01-01T00:00:00+00:00"),
        scored("We moved, I live in Berlin now", 0.60, "2026-06-01T00:00:00+00:00"),
        scored("I have a cat", 0.30, "2026-03-01T00:00:00+00:00"),
    ]
    assert [m.text for m in newest_favoured(ranked, 0.05)] == [
        "We moved, I live in Berlin now",
        "I live in Paris",
        "I have a cat",
    ]
    # A clearly more relevant old memory keeps its place.
    assert [m.text for m in newest_favoured(ranked, 0.01)] == [m.text for m in ranked]


def test_recency_leaves_undated_and_single_memories_alone() -> None:
    ranked = [scored("a", 0.5, None), scored("b", 0.4, "not a date"), scored("c", 0.3, "2026-01-01")]
    assert newest_favoured(ranked, 0.5) == ranked  # fewer than two dated memories
    assert newest_favoured([], 0.5) == []
    two = [scored("old", 0.5, "2026-01-01"), scored("new", 0.5, "2026-01-01")]
    assert newest_favoured(two, 0.5) == two  # no span of time between them
