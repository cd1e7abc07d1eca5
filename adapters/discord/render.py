"""An answer as Discord messages, as pure functions: split into 2,000-unit chunks (code blocks kept
intact), a stable nonce per chunk, and a thread title from the question."""

from __future__ import annotations

import re

MESSAGE_LIMIT = 2000
THREAD_NAME_LIMIT = 100
NONCE_LIMIT = 25
FENCE = "```"
# A fence line longer than this is prose that happens to contain backticks, not an opening fence.
_MAX_FENCE_LINE = 40


def _units(text: str) -> int:
    """Length as Discord counts it (UTF-16 code units): never less than len(text)."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, room: int) -> int:
    """The longest prefix length of `text` that fits in `room` units (at least 1)."""
    end = min(len(text), room)
    while end > 1 and _units(text[:end]) > room:
        end -= 1
    return max(end, 1)


def _cut(line: str, room: int) -> tuple[str, str]:
    """Split an over-long line at the last space that fits (a hard cut if there is none)."""
    end = _fit(line, room)
    space = line.rfind(" ", 0, end + 1)
    if space > end // 2:
        return line[:space], line[space + 1 :]
    return line[:end], line[end:]


def _fence_after(line: str, fence: str | None) -> str | None:
    """The code block open after `line`: its opening line, or None outside code."""
    if line.count(FENCE) % 2 == 0:
        return fence
    if fence is not None:
        return None
    opening = line.strip()
    # Reopen with the language tag ("```python"), never with code that shares the fence line.
    if opening.startswith(FENCE) and len(opening) <= _MAX_FENCE_LINE and " " not in opening:
        return opening
    return FENCE


def split_message(text: str, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Chunks of at most `limit` characters, split at line (else word) boundaries.

    A code block cut by a chunk boundary is closed at the end of the chunk and reopened (with its
    language) at the start of the next, so every chunk renders on its own.
    """
    if limit < 2 * _MAX_FENCE_LINE:
        raise ValueError("limit too small to keep code blocks intact")
    text = text.strip()
    if not text:
        return []
    if _units(text) <= limit:
        return [text]
    closing = "\n" + FENCE
    chunks: list[str] = []
    lines: list[str] = []
    length = 0
    fence: str | None = None
    only_reopened = False  # `lines` holds nothing but the reopened fence line

    def flush() -> None:
        nonlocal lines, length, only_reopened
        body = "\n".join(lines).strip("\n")
        if fence is not None:
            body += closing
        if body.strip() and body.strip() != (fence or "") + closing:
            chunks.append(body)
        lines = [fence] if fence is not None else []
        length = _units(fence) if fence is not None else 0
        only_reopened = True

    pending = text.split("\n")
    pending.reverse()
    while pending:
        line = pending.pop()
        after = _fence_after(line, fence)
        reserve = _units(closing) if after is not None else 0
        separator = 1 if lines else 0
        if length + separator + _units(line) + reserve <= limit:
            lines.append(line)
            length += separator + _units(line)
            fence = after
            only_reopened = False
            continue
        if lines and not only_reopened:
            flush()
            pending.append(line)
            continue
        # The line alone does not fit in an empty chunk: cut it (it stays code or prose as it was).
        room = limit - length - separator - (_units(closing) if fence is not None else 0)
        head, tail = _cut(line, room)
        lines.append(head)
        length += separator + _units(head)
        only_reopened = False
        flush()
        if tail:
            pending.append(tail)
    if lines and not only_reopened:
        flush()
    return chunks


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
