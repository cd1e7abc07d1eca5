"""`/memory show <words>`: which memories match the words a person typed, the same on every platform.

Lexical on purpose: a person asking to *see* what is kept about "bees" expects the memories that say
bees (give or take an ending), not the nearest neighbours of an embedding, which always returns
something. Pure functions.
"""

from __future__ import annotations

import re

from core.models import MemoryItem

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
