"""Long answers -> messages that fit a platform's limit, each readable on its own.

One splitter for every chat platform, told by `MarkupRules` how that platform counts length (Discord
counts UTF-16 code units) and which spans must never be cut (Slack's `&amp;` escapes and `<url|label>`
links). Every platform gets the same guarantees:

- each chunk measures at most `limit`; nothing but the whitespace at a cut is lost;
- cuts fall at a paragraph break, else a line break, else a space (each only in the second half of
  the room, so chunks stay full), else anywhere outside an unbreakable span;
- a code block cut in two is closed at the end of one chunk and reopened at the start of the next
  (with its language, `` ```python ``, where the platform shows one), so every chunk renders alone;
  a block left open (a text still being streamed) is closed too.

Hand-written because no library knows chat markup; it replaces the two splitters Slack and Discord
each had.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

FENCE = "```"
CLOSING = "\n" + FENCE
MAX_FENCE_LINE = 40  # a longer "```word" line is code sharing the fence line, not a language tag
_FENCE = re.compile(FENCE)
_LANGUAGE_FENCE = re.compile(rf"```[^\s`]{{0,{MAX_FENCE_LINE - len(FENCE)}}}[ \t]*(?:\n|$)")
# A fence with its language tag is one token: a cut inside it would leave stray backticks.
_FENCE_TOKEN = re.compile(r"```[^\s`]*")
_BREAKS = ("\n\n", "\n", " ")


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units (how Discord counts): never less than len(text)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class MarkupRules:
    """What a platform's messages count and mark up.

    `measure`: the platform's length of a text. `unbreakable`: spans a cut must not go through
    (code fences always are). `language_tags`: reopen a cut code block with its language line
    (`` ```python ``), where the platform renders one; else with a bare fence."""

    measure: Callable[[str], int] = len
    unbreakable: re.Pattern[str] | None = None
    language_tags: bool = False

    @property
    def minimum_limit(self) -> int:
        # Room for a reopened fence, a closing one, and some text between them.
        return 2 * MAX_FENCE_LINE if self.language_tags else 64


PLAIN = MarkupRules()


def split_message(text: str, *, limit: int, rules: MarkupRules = PLAIN) -> list[str]:
    """`text` (stripped) in chunks that each measure at most `limit`. Raises ValueError for a
    limit below `rules.minimum_limit`."""
    if limit < rules.minimum_limit:
        raise ValueError(f"limit must be at least {rules.minimum_limit} characters")
    text = text.strip()
    if not text:
        return []
    if rules.measure(text) <= limit and _open_after(text, None, rules) is None:
        return [text]
    return _Splitter(limit, rules).split(text)


class _Splitter:
    def __init__(self, limit: int, rules: MarkupRules) -> None:
        self.limit = limit
        self.rules = rules
        self.measure = rules.measure

    def split(self, text: str) -> list[str]:
        chunks: list[str] = []
        rest = text
        opener: str | None = None  # the fence line of a code block open where `rest` starts
        while rest:
            closing = _FENCE_TOKEN.match(rest) if opener is not None else None
            if closing is not None:
                # The block closes right where the last chunk ended: no empty block to reopen.
                rest, opener = rest[closing.end() :].lstrip("\n"), None
                continue
            prefix = opener + "\n" if opener is not None else ""
            end, start = self._cut(rest, self.limit - self.measure(prefix), opener)
            piece = rest[:end].rstrip("\n")
            rest = rest[start:].lstrip("\n")
            after = _open_after(piece, opener, self.rules)
            chunk = prefix + piece + (CLOSING if after is not None else "")
            if not _only_fences(piece):
                chunks.append(chunk)
            opener = after
        return chunks

    def _cut(self, rest: str, room: int, opener: str | None) -> tuple[int, int]:
        """Where this chunk's text ends and the next one's starts."""
        closing = self.measure(CLOSING)
        whole_room = room - (closing if _open_after(rest, opener, self.rules) is not None else 0)
        if self.measure(rest) <= whole_room:
            return len(rest), len(rest)
        end, start = self._best_cut(rest, room)
        if _open_after(rest[:end], opener, self.rules) is not None:
            # This chunk ends inside a code block: leave room for the fence that closes it.
            end, start = self._best_cut(rest, room - closing)
        return end, start

    def _best_cut(self, rest: str, room: int) -> tuple[int, int]:
        window = self._fit(rest, room)
        spans = self._unbreakable(rest, window)
        for separator in _BREAKS:
            index = _last(rest, separator, window, spans, lowest=max(1, window // 2))
            if index is not None:
                return index, index + len(separator)
        index = _last(rest, "\n", window, spans, lowest=1)
        if index is not None:
            return index, index + 1  # a short chunk, but no line cut in the middle
        cut = window
        inside = [begin for begin, finish in spans if 0 < begin < cut < finish]
        while inside:  # spans can nest (an escape inside a link): step back until outside all
            cut = min(inside)
            inside = [begin for begin, finish in spans if 0 < begin < cut < finish]
        return cut, cut

    def _fit(self, text: str, room: int) -> int:
        """The longest prefix length of `text` that measures at most `room` (at least 1)."""
        if self.measure is len:
            return max(1, min(len(text), room))
        low, high = 1, min(len(text), room)  # measure(s) >= len(s): no prefix longer than room fits
        while low < high:
            middle = (low + high + 1) // 2
            if self.measure(text[:middle]) <= room:
                low = middle
            else:
                high = middle - 1
        return low

    def _unbreakable(self, text: str, window: int) -> list[tuple[int, int]]:
        """Spans that reach into the window and must stay whole."""
        patterns = [_FENCE_TOKEN] + ([self.rules.unbreakable] if self.rules.unbreakable is not None else [])
        spans: list[tuple[int, int]] = []
        for pattern in patterns:
            for match in pattern.finditer(text):
                if match.start() > window:
                    break
                if match.end() > match.start() + 1:
                    spans.append((match.start(), match.end()))
        return spans


def _last(text: str, separator: str, window: int, spans: list[tuple[int, int]], *, lowest: int) -> int | None:
    """The last `separator` that starts within the window at `lowest` or later, outside any span."""
    index = text.rfind(separator, 0, window)
    while index >= lowest:
        if not any(begin < index < finish for begin, finish in spans):
            return index
        index = text.rfind(separator, 0, index)
    return None


def _open_after(text: str, opener: str | None, rules: MarkupRules) -> str | None:
    """The fence line of the code block still open after `text`, if one was open before it
    (`opener`) or opens in it; None outside code."""
    for match in _FENCE.finditer(text):
        if opener is not None:
            opener = None
            continue
        opener = FENCE
        if rules.language_tags:
            tagged = _LANGUAGE_FENCE.match(text, match.start())
            if tagged is not None:
                opener = tagged.group(0).strip()
    return opener


def _only_fences(piece: str) -> bool:
    return not _FENCE_TOKEN.sub("", piece).strip()
