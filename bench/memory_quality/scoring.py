"""Scores recalled memories against the dataset's labels. Pure functions: no model, no core.

A recalled memory is matched to the turn it came from by its text (the fake model's extraction
stores each user line as one memory); a memory that matches no turn counts against nothing but
still fills the prompt.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.prompt import estimate_tokens

from .dataset import (
    ANSWERABLE,
    DIRECT,
    DM,
    INDIRECT,
    NEVER,
    PRIVACY,
    PUBLIC,
    UPDATE,
    Dataset,
    Person,
    Question,
)


@dataclass(frozen=True, slots=True)
class Recall:
    """What one system recalled for one question, most relevant first."""

    question: Question
    texts: tuple[str, ...]
    turn_ids: tuple[str | None, ...]  # the turn each memory came from (None: no turn matches)
    # The memory lines as the prompt shows them (Mnemo's carry "(learned 3 Oct 2026)"); None: "- text".
    lines: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SystemScore:
    name: str
    evidence_recall: float  # answerable questions: mean share of their evidence turns recalled
    all_evidence: float  # answerable questions with every evidence turn recalled
    by_kind: dict[str, float]  # evidence recall per answerable kind
    by_style: dict[str, float]  # ... per way of asking (direct, indirect)
    memories_per_prompt: float
    tokens_per_prompt: float  # estimated as the prompt builder does (core.prompt.estimate_tokens)
    privacy_violations: int  # memories said in a DM recalled in a public place (every question)
    questions_leaking: int  # public-place questions with at least one such memory
    traps_leaked: int  # privacy traps whose DM fact came back
    update_newer_recalled: float
    update_newer_wins: float  # the newer value recalled, and ranked above the older if both are
    update_older_recalled: float
    never_said_relevant: float  # never-said questions: memories per question at least `threshold` alike
    questions: int = 0
    per_question: tuple[Recall, ...] = field(default=(), repr=False)


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


class TurnMatcher:
    """Maps a memory's text back to the turn of this person it was learned from."""

    def __init__(self, person: Person) -> None:
        self._exact = {_normalized(t.text): t.id for _, t in person.turns()}

    def turn_of(self, memory_text: str) -> str | None:
        key = _normalized(memory_text)
        if key in self._exact:
            return self._exact[key]
        # A memory that keeps the line inside more words (a date added, say) still comes from it.
        found = [turn_id for text, turn_id in self._exact.items() if text in key or key in text]
        return found[0] if len(found) == 1 else None


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def memory_tokens(texts: Sequence[str], lines: Sequence[str] | None = None) -> int:
    """Tokens of the memory lines as the prompt shows them (`lines`, or "- text" per text)."""
    shown = list(lines) if lines is not None else [f"- {t}" for t in texts]
    return estimate_tokens("\n".join(shown)) if shown else 0


def score(
    name: str,
    recalls: Sequence[Recall],
    *,
    dataset: Dataset,
    similarity: Callable[[str, str], float],
    threshold: float,
) -> SystemScore:
    """`similarity(question, memory)` judges never-said recalls with the same measure for every
    system (not each system's own score scale)."""
    place_of = {t.id: s.place for p in dataset.people for s, t in p.turns()}
    answerable: list[float] = []
    complete: list[float] = []
    by_kind: dict[str, list[float]] = {kind: [] for kind in ANSWERABLE}
    by_style: dict[str, list[float]] = {style: [] for style in (DIRECT, INDIRECT)}
    violations = leaking = traps = 0
    newer: list[float] = []
    wins: list[float] = []
    older: list[float] = []
    never: list[float] = []
    for recall in recalls:
        q = recall.question
        got = [t for t in recall.turn_ids if t is not None]
        if q.place == PUBLIC:
            private = [t for t in got if place_of.get(t) == DM]
            violations += len(private)
            leaking += bool(private)
        if q.kind in ANSWERABLE:
            share = sum(e in got for e in q.evidence) / len(q.evidence)
            answerable.append(share)
            complete.append(float(share == 1.0))
            by_kind[q.kind].append(share)
            by_style[q.style].append(share)
        if q.kind == PRIVACY:
            traps += any(e in got for e in q.evidence)
        elif q.kind == UPDATE:
            (new,) = q.evidence
            old_rank = min((got.index(o) for o in q.superseded if o in got), default=None)
            newer.append(float(new in got))
            older.append(float(old_rank is not None))
            wins.append(float(new in got and (old_rank is None or got.index(new) < old_rank)))
        elif q.kind == NEVER:
            never.append(float(sum(similarity(q.text, text) >= threshold for text in recall.texts)))
    return SystemScore(
        name=name,
        evidence_recall=_mean(answerable),
        all_evidence=_mean(complete),
        by_kind={kind: _mean(values) for kind, values in by_kind.items()},
        by_style={style: _mean(values) for style, values in by_style.items()},
        memories_per_prompt=_mean([len(r.texts) for r in recalls]),
        tokens_per_prompt=_mean([memory_tokens(r.texts, r.lines) for r in recalls]),
        privacy_violations=violations,
        questions_leaking=leaking,
        traps_leaked=traps,
        update_newer_recalled=_mean(newer),
        update_newer_wins=_mean(wins),
        update_older_recalled=_mean(older),
        never_said_relevant=_mean(never),
        questions=len(recalls),
        per_question=tuple(recalls),
    )
