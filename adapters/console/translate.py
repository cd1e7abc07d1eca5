"""Console lines -> IncomingMessage, command results -> text, and `/memory show <words>` matching.

All pure: no I/O, so each rule is tested on its own (tests/adapters/console/test_translate.py).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from core.commands import PAGE_SIZE, CommandResult, format_item
from core.models import IncomingMessage, MemoryItem, Platform

WORKSPACE = "local"

# Words too common to say what someone looks for ("show me what you know about my dog").
_STOPWORDS = frozenset(
    {
        "about",
        "and",
        "are",
        "for",
        "from",
        "has",
        "have",
        "her",
        "his",
        "how",
        "its",
        "know",
        "me",
        "mine",
        "my",
        "not",
        "of",
        "our",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "was",
        "what",
        "when",
        "where",
        "who",
        "why",
        "with",
        "you",
        "your",
    }
)
_MIN_WORD = 3
_WORD = re.compile(r"\w+")


def to_incoming(
    line: str,
    *,
    user: str,
    channel: str,
    is_dm: bool,
    now: datetime,
    thread: str = "",
) -> IncomingMessage:
    """`thread`: the conversation within the channel; `/new` starts another (a new session)."""
    return IncomingMessage(
        platform=Platform.CONSOLE,
        workspace=WORKSPACE,
        user=user,
        channel=channel,
        thread=thread,
        text=line,
        message_id=uuid.uuid4().hex,
        is_private=is_dm,
        is_direct=is_dm,
        mentions_bot=True,
        user_name=user,
        received_at=now,
    )


def render_result(result: CommandResult) -> str:
    text = result.text
    if result.needs_confirmation:
        text += "\nType '/memory forget all confirm' to go ahead."
    if result.export_json is not None:
        text += "\n" + result.export_json
    return text


def _words(text: str) -> list[str]:
    return [word.casefold() for word in _WORD.findall(text)]


def _same_word(asked: str, written: str) -> bool:
    """'dog' finds 'dogs' and 'dogs' finds 'dog': one is the start of the other, at least 3 letters."""
    shorter, longer = sorted((asked, written), key=len)
    return len(shorter) >= _MIN_WORD and longer.startswith(shorter)


def matches(item: MemoryItem, query: str) -> bool:
    """Whether a memory matches what was asked: any telling word of `query` (3+ letters, not a
    stopword) is a word of the memory, give or take an ending. A query of only short or common
    words matches memories that have each of those words as written ("42", "NY")."""
    asked = _words(query)
    written = _words(item.text)
    telling = [w for w in asked if len(w) >= _MIN_WORD and w not in _STOPWORDS]
    if not telling:
        return bool(asked) and all(word in written for word in asked)
    return any(_same_word(word, other) for word in telling for other in written)


def show_matching(items: list[MemoryItem], query: str, *, page: int) -> str:
    """The `/memory show <words> [--page N]` answer: only the memories that match, newest first."""
    found = [item for item in items if matches(item, query)]
    if not found:
        return f"I don't remember anything about you matching '{query}'."
    start = page * PAGE_SIZE
    shown = found[start : start + PAGE_SIZE]
    if not shown:
        return "No more memories."
    lines = [
        f"What I remember about you matching '{query}' ({start + 1}-{start + len(shown)} of {len(found)}):",
        *(f"- {format_item(item)}" for item in shown),
    ]
    if start + len(shown) < len(found):
        lines.append(f"(more: /memory show {query} --page {page + 2})")
    return "\n".join(lines)
