"""The printed side-by-side table of a BenchmarkResult, with the targets of issue 16."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .dataset import ANSWERABLE, DIRECT, INDIRECT, NEVER, PRIVACY, UPDATE
from .run import BenchmarkResult
from .scoring import SystemScore

TARGET_RATIO = 1.15
TARGET_NEWER_WINS = 0.95

Cell = Callable[[SystemScore], str]


@dataclass
class _Table:
    systems: list[SystemScore]
    lines: list[str] = field(default_factory=list)

    def header(self) -> None:
        self.lines.append(f"{'':<38}{'Mnemo':>14}{'Mnemo':>14}{'plain top-k':>14}{'plain top-k':>14}")
        self.lines.append(f"{'':<38}{'':>14}{'(judge*)':>14}{'(no filter)':>14}{'(DMs hidden)':>14}")

    def row(self, label: str, cell: Cell, *, target: str = "") -> None:
        cells = "".join(f"{cell(s):>14}" for s in self.systems)
        self.lines.append(f"{label:<38}{cells}   {target}".rstrip())


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _by_kind(kind: str) -> Cell:
    return lambda s: _pct(s.by_kind[kind])


def _by_style(style: str) -> Cell:
    return lambda s: _pct(s.by_style[style])


def _mark(ok: bool) -> str:
    return "met" if ok else "NOT met"


def format_report(result: BenchmarkResult) -> str:
    asked = [r.question for r in result.mnemo.per_question]
    count = Counter(q.kind for q in asked)
    styles = Counter(q.style for q in asked if q.kind in ANSWERABLE)
    mnemo = result.mnemo
    newer_wins = mnemo.update_newer_wins
    ratio, ratio_filtered = result.ratio_to_plain, result.ratio_to_plain_public_only

    table = _Table([mnemo, result.mnemo_labelled, result.plain, result.plain_public_only])
    table.lines += [
        f"Memory quality: {result.people} people, {result.turns} turns, {result.questions} questions; "
        f"embeddings {result.embedder}; recall limit {result.recall_limit}",
        f"memories stored by Mnemo: {result.memories_stored}, from {result.turns} lines said "
        f"(update judge asked {result.judge_requests} times, median prompt ~{result.judge_prompt_tokens:.0f} "
        "tokens; the fake model replaces nothing)",
        f"* update-at-write with a judge that knows the labels (the mechanism's ceiling, not a model's "
        f"quality): {result.memories_stored_labelled} memories stored, judge asked "
        f"{result.judge_requests_labelled} times",
        "",
    ]
    table.header()
    table.row(
        f"evidence recall ({sum(count[k] for k in ANSWERABLE)} answerable)",
        lambda s: _pct(s.evidence_recall),
        target=f"target: Mnemo >= {TARGET_RATIO}x plain",
    )
    table.row("  every evidence turn recalled", lambda s: _pct(s.all_evidence))
    for kind in ANSWERABLE:
        table.row(f"  {kind} ({count[kind]})", _by_kind(kind))
    for style in (DIRECT, INDIRECT):
        table.row(f"  asked {style}ly ({styles[style]})", _by_style(style))
    table.row(
        "memories per prompt", lambda s: f"{s.memories_per_prompt:.2f}", target="(equal k, per question)"
    )
    table.row("est. memory tokens per prompt", lambda s: f"{s.tokens_per_prompt:.1f}")
    table.row(
        "privacy violations (DM lines in public)",
        lambda s: str(s.privacy_violations),
        target=f"target: 0 (Mnemo: {_mark(mnemo.privacy_violations == 0)})",
    )
    table.row("  public questions leaking", lambda s: str(s.questions_leaking))
    table.row(f"  privacy traps leaked (of {count[PRIVACY]})", lambda s: str(s.traps_leaked))
    table.row(f"updated facts ({count[UPDATE]}): newer recalled", lambda s: _pct(s.update_newer_recalled))
    table.row(
        "  newer recalled and above older",
        lambda s: _pct(s.update_newer_wins),
        target=f"target: >= {TARGET_NEWER_WINS:.0%} (Mnemo: {_mark(newer_wins >= TARGET_NEWER_WINS)})",
    )
    table.row("  older recalled at all", lambda s: _pct(s.update_older_recalled), target="(lower is better)")
    table.row(
        f"never said ({count[NEVER]}): memories >= {result.threshold}",
        lambda s: f"{s.never_said_relevant:.2f}",
        target="(per question, lower is better)",
    )
    table.lines += [
        "",
        f"Mnemo / plain top-k evidence recall: {ratio:.3f}x (no filter), {ratio_filtered:.3f}x (DMs hidden); "
        f"target >= {TARGET_RATIO}x: {_mark(min(ratio, ratio_filtered) >= TARGET_RATIO)}",
        f"time: model + {result.texts_embedded} embeddings {result.seconds_model:.1f}s, "
        f"feeding {result.seconds_feed:.1f}s, questions {result.seconds_ask:.1f}s, "
        f"total {result.seconds_total:.1f}s",
    ]
    return "\n".join(table.lines)
