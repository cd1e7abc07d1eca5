"""An answer as Discord messages, as pure functions: split into 2,000-unit chunks by the shared
splitter (Discord counts UTF-16 code units and shows a code block's language), a stable nonce per
chunk, and a thread title from the question."""

from __future__ import annotations

import re

from adapters.common.split import MarkupRules, utf16_length
from adapters.common.split import split_message as split_long_message

MESSAGE_LIMIT = 2000
THREAD_NAME_LIMIT = 100
NONCE_LIMIT = 25

DISCORD_MARKUP = MarkupRules(measure=utf16_length, language_tags=True)


def split_message(text: str, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Chunks of at most `limit` units, split at paragraph, line (else word) boundaries. A code
    block cut by a chunk boundary is closed at the end of the chunk and reopened (with its
    language) at the start of the next, so every chunk renders on its own."""
    return split_long_message(text, limit=limit, rules=DISCORD_MARKUP)


def reply_messages(text: str, final: bool) -> list[str]:
    """The messages that show model text (a ReplyWriter layout): the same while streaming and at
    the end, since a Discord message is plain Markdown either way."""
    return split_message(text)


def nonce_for(message_id: str | int, index: int) -> str:
    """Stable per (source message, chunk): with enforce_nonce Discord drops a second identical send."""
    nonce = f"{message_id}.{index}"
    return nonce[-NONCE_LIMIT:]


def thread_name(text: str, *, fallback: str) -> str:
    """A thread title from the question: first line, at most 100 characters."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = re.sub(r"\s+", " ", first)
    if not first:
        return fallback[:THREAD_NAME_LIMIT]
    if len(first) <= THREAD_NAME_LIMIT:
        return first
    return first[: THREAD_NAME_LIMIT - 1].rstrip() + "…"
