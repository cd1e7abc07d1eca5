"""Which older memories a new one replaces, asked of the model when the new one is written.

Similarity cannot tell an update ("I moved to Berlin" after "I live in Paris") from a different fact
about the same person (README "Memory quality": labelled update pairs have a median cosine of 0.42,
while unrelated facts of one person reach 0.7), so a write asks the memory model:

- the question: each new memory of the write with its candidates, the few older memories of the same
  person most alike to it (core.memory.updates finds them, with recall's filters); one completion
  per write, every new memory in it, and no completion at all when no memory has a candidate;
- the model refers to memories by short local labels, "N1", "N2"... for the new ones and 1, 2...
  for the older ones, never by database ids, and may only name an older memory offered as a
  candidate of that new memory: an answer can only ever reach memories this write showed it;
- the answer is strict JSON, `{"replaced": {"N1": [2], "N2": []}}`; anything else (not JSON, a
  label or index it was not given, a model that fails or times out) replaces nothing, is logged
  and counted (`mnemo_memory_update_judgements_total`), and the write stands.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core import metrics
from core.errors import ModelError
from core.llm import ChatMessage, OnUsage
from core.memory.port import Replacements
from core.memory.selection import utc
from core.models import MemoryItem

log = logging.getLogger(__name__)

# What the judge may answer: a few labels and numbers. A model that wanders off gets cut here and
# its truncated answer is not JSON, so it replaces nothing.
JUDGE_MAX_TOKENS = 400
# A memory's text as the judge sees it, at most (memories are short facts; this bounds the prompt).
SHOWN_CHARS = 500

SYSTEM_PROMPT = """\
You keep one person's long-term memories up to date. The new memories were just learned from the \
person; each comes with candidates, older memories of the same person that might say something it \
changes.

An older memory is replaced only when it and the new memory are about the same thing in the \
person's life and the new memory gives it a new value, so the older one is no longer true \
("I live in Paris" is replaced by "We moved to Berlin last month"; "My sister is Ana" is not \
replaced by "My brother is Luis"). A different fact, an added detail, the same fact said again, \
or a fact about someone else replaces nothing. When unsure, replace nothing.

Answer with one JSON object and nothing else, in this form:
{"replaced": {"N1": [2, 5], "N2": []}}
Each key is a new memory's label; its list holds the numbers of the older memories it replaces, \
chosen only from that new memory's candidates."""


class VerdictError(ValueError):
    """The judge's answer is not the JSON asked for, or names what it was not shown."""


class JsonModel(Protocol):
    """What the judge needs of a chat model (core.llm.OpenAIChatModel)."""

    async def complete(
        self, messages: list[ChatMessage], *, on_usage: OnUsage | None = None, json_object: bool = False
    ) -> str: ...

    async def close(self) -> None: ...


def _day(created_at: str | None) -> str:
    if created_at:
        try:
            moment = utc(datetime.fromisoformat(created_at))
        except ValueError:
            pass
        else:
            return f"{moment.day} {moment:%B %Y}"
    return "date unknown"


def _shown(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= SHOWN_CHARS else one_line[: SHOWN_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class JudgeQuestion:
    """One write's question: its new memories, each with its candidates (same person, same scope)."""

    offered: tuple[tuple[MemoryItem, tuple[MemoryItem, ...]], ...]

    @classmethod
    def of(cls, offered: Sequence[tuple[MemoryItem, Sequence[MemoryItem]]]) -> JudgeQuestion:
        return cls(tuple((new, tuple(olds)) for new, olds in offered if olds))

    @property
    def older(self) -> list[MemoryItem]:
        """Every candidate once, in the order first offered; its number is its place here + 1."""
        seen: dict[str, MemoryItem] = {}
        for _, olds in self.offered:
            for old in olds:
                seen.setdefault(old.id, old)
        return list(seen.values())

    def messages(self) -> list[ChatMessage]:
        older = self.older
        number = {old.id: n for n, old in enumerate(older, start=1)}
        lines = ["## Older memories"]
        lines += [f"[{number[old.id]}] ({_day(old.created_at)}) {_shown(old.text)}" for old in older]
        lines += ["", "## New memories"]
        for n, (new, olds) in enumerate(self.offered, start=1):
            lines.append(f"[N{n}] ({_day(new.created_at)}) {_shown(new.text)}")
            lines.append("candidates: " + ", ".join(str(number[old.id]) for old in olds))
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "\n".join(lines)},
        ]

    def verdict(self, answer: str) -> Replacements:
        """The replacements an answer names. VerdictError unless it is exactly the JSON asked for,
        naming only labels and candidates it was given."""
        text = answer.strip()
        if text.startswith("```"):  # a server that ignores JSON mode may fence its JSON
            text = text.strip("`").removeprefix("json").strip()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise VerdictError(f"not JSON: {exc.msg}") from None
        replaced = data.get("replaced") if isinstance(data, dict) else None
        if not isinstance(replaced, dict):
            raise VerdictError('no "replaced" object')
        older = self.older
        news = {f"N{n}": (new, {old.id for old in olds}) for n, (new, olds) in enumerate(self.offered, 1)}
        out: Replacements = {}
        for label, numbers in replaced.items():
            if label not in news:
                raise VerdictError(f"unknown new memory {_echoed(label)}")
            if not isinstance(numbers, list):
                raise VerdictError(f"{label}: not a list")
            new, candidates = news[label]
            ids: list[str] = []
            for number in numbers:
                index = _index(number)
                if index is None or not 1 <= index <= len(older) or older[index - 1].id not in candidates:
                    raise VerdictError(f"{label}: {_echoed(number)} is not one of its candidates")
                if older[index - 1].id not in ids:
                    ids.append(older[index - 1].id)
            if ids:
                out[new.id] = ids
        return out


def _index(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdecimal():  # "2" for 2: the same number, quoted
        return int(value)
    return None


def _echoed(value: object) -> str:
    """A piece of the model's answer as an error (a log line) may show it: a number or a short
    label, never free text, which could be a person's words echoed back."""
    if isinstance(value, bool | int | float) or (
        isinstance(value, str) and len(value) <= 12 and value.replace("-", "").isalnum()
    ):
        return repr(value)
    return f"a {type(value).__name__} of {len(str(value))} characters"


class UpdateJudge:
    """Asks the model which older memories each new memory replaces (one completion per write)."""

    def __init__(self, model: JsonModel) -> None:
        self._model = model

    async def replaced(self, question: JudgeQuestion, *, on_usage: OnUsage | None = None) -> Replacements:
        """Never raises: a model that fails and an answer that is not usable replace nothing."""
        if not question.offered:
            return {}
        try:
            answer = await self._model.complete(question.messages(), on_usage=on_usage, json_object=True)
        except ModelError as exc:
            log.warning("update judge failed (%s); the write stands, nothing replaced", exc)
            metrics.MEMORY_UPDATE_JUDGEMENTS.labels("failed").inc()
            return {}
        try:
            replaced = question.verdict(answer)
        except VerdictError as exc:
            log.warning("update judge answered something unusable (%s); nothing replaced", exc)
            metrics.MEMORY_UPDATE_JUDGEMENTS.labels("unusable").inc()
            return {}
        metrics.MEMORY_UPDATE_JUDGEMENTS.labels("replaced" if replaced else "none").inc()
        return replaced

    async def close(self) -> None:
        await self._model.close()
