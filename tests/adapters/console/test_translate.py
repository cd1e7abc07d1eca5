"""The console's pure rules: which memories `/memory show <words>` lists, and how."""

from __future__ import annotations

import pytest

from adapters.console.translate import matches, show_matching, to_incoming
from core.models import MemoryItem, Platform


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


def test_show_matching_lists_only_matches_and_pages_them() -> None:
    items = [item(f"dog fact {i:02d}", i) for i in range(12)] + [item("Lives in Lisbon", 99)]
    first = show_matching(items, "dog", page=0)
    assert first.startswith("What I remember about you matching 'dog' (1-10 of 12):")
    assert "Lisbon" not in first
    assert "(more: /memory show dog --page 2)" in first
    second = show_matching(items, "dog", page=1)
    assert "(11-12 of 12)" in second
    assert "more:" not in second
    assert show_matching(items, "dog", page=2) == "No more memories."
    assert show_matching(items, "cat", page=0) == "I don't remember anything about you matching 'cat'."


def test_to_incoming_keeps_the_thread_that_names_the_conversation() -> None:
    from datetime import UTC, datetime

    message = to_incoming("hi", user="ann", channel="dm-ann", is_dm=True, now=datetime.now(UTC), thread="t1")
    assert message.platform is Platform.CONSOLE
    assert message.conversation.thread == "t1"
