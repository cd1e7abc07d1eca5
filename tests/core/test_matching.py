"""`/memory show <words>`: which memories match the words (core.matching), on every platform."""

from __future__ import annotations

import pytest

from core.matching import matches
from core.models import MemoryItem


def item(text: str, n: int = 0) -> MemoryItem:
    return MemoryItem(
        id=f"m{n}", text=text, created_at=None, platform="console", channel="dm-alice", is_private=True
    )


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        ("Has a dog called Rex", "dog", True),
        ("Has a dog called Rex", "dogs", True),  # give or take an ending
        ("Has two dogs", "dog", True),
        ("Has a dog called Rex", "what do you know about my dog", True),  # the telling word
        ("Likes hot dogs", "cat", False),
        ("Lives in Lisbon", "dog", False),
        ("Lives in Lisbon", "LISBON", True),
        ("Drinks tea", "te", False),  # too short to be a word of its own
        ("Is 42", "42", True),  # only short words: matched as written
        ("Works at the NHS", "about my", False),  # only common words, not written in the memory
    ],
)
def test_a_memory_matches_the_telling_words(text: str, query: str, expected: bool) -> None:
    assert matches(item(text), query) is expected
