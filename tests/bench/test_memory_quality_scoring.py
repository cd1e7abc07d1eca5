"""Scoring of recalled memories against the labels, on a small hand-written dataset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.memory_quality.dataset import (
    DM,
    MULTI,
    NEVER,
    PRIVACY,
    PUBLIC,
    SINGLE,
    SLACK,
    UPDATE,
    Dataset,
    Person,
    Question,
    Session,
    Turn,
)
from bench.memory_quality.embedder import hashed_embedder
from bench.memory_quality.harness import plain_top_k
from bench.memory_quality.scoring import Recall, TurnMatcher, memory_tokens, score

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
LINES = {
    "t1": ("I live in Lyon", DM),
    "t2": ("My cat is called Miso", PUBLIC),
    "t3": ("I play the cello", PUBLIC),
    "t4": ("I take lithium every morning", DM),
    "t5": ("We moved, I live in Porto now", PUBLIC),
    "t6": ("I also play the banjo", DM),
}


def _person() -> Person:
    sessions = []
    for n, (turn_id, (text, place)) in enumerate(LINES.items()):
        turn = Turn(turn_id, T0 + timedelta(days=n), text, "fact")
        sessions.append(Session(f"s{n}", SLACK, place, "C1" if place == PUBLIC else "D1", (turn,)))
    return Person("p01", "Ada", "U1", "1", tuple(sessions))


def _question(
    qid: str, *, kind: str, place: str, evidence: tuple[str, ...], old: tuple[str, ...] = ()
) -> Question:
    return Question(
        qid, "p01", kind, f"question {qid}", SLACK, place, "C1", T0 + timedelta(days=30), evidence, old, ""
    )


QUESTIONS = {
    "cat": _question("cat", kind=SINGLE, place=PUBLIC, evidence=("t2",)),
    "music": _question("music", kind=MULTI, place=DM, evidence=("t3", "t6")),
    "city": _question("city", kind=UPDATE, place=DM, evidence=("t5",), old=("t1",)),
    "meds": _question("meds", kind=PRIVACY, place=PUBLIC, evidence=("t4",)),
    "blood": _question("blood", kind=NEVER, place=PUBLIC, evidence=()),
}
DATASET = Dataset(16, "T1", (_person(),), tuple(QUESTIONS.values()))


def _recall(qid: str, *turn_ids: str) -> Recall:
    texts = tuple(LINES[t][0] for t in turn_ids)
    return Recall(QUESTIONS[qid], texts, turn_ids)


def test_evidence_recall_counts_the_share_of_evidence_per_question() -> None:
    result = score(
        "x",
        [_recall("cat", "t2", "t3"), _recall("music", "t3"), _recall("city", "t1")],
        dataset=DATASET,
        similarity=lambda q, m: 0.0,
        threshold=0.4,
    )
    assert result.evidence_recall == pytest.approx((1 + 0.5 + 0) / 3)
    assert result.all_evidence == pytest.approx(1 / 3)
    assert result.by_kind == {SINGLE: 1.0, MULTI: 0.5, "date": 0.0, UPDATE: 0.0}
    assert result.memories_per_prompt == pytest.approx(4 / 3)


def test_a_dm_line_recalled_in_public_is_a_violation_wherever_it_was_asked() -> None:
    result = score(
        "x",
        [_recall("cat", "t2", "t1"), _recall("meds", "t4", "t6", "t2"), _recall("music", "t1", "t4")],
        dataset=DATASET,
        similarity=lambda q, m: 0.0,
        threshold=0.4,
    )
    assert result.privacy_violations == 3  # t1 for "cat", t4 and t6 for "meds"; "music" is asked in a DM
    assert result.questions_leaking == 2
    assert result.traps_leaked == 1


@pytest.mark.parametrize(
    ("recalled", "newer", "wins", "older"),
    [
        (("t5", "t1"), 1.0, 1.0, 1.0),
        (("t1", "t5"), 1.0, 0.0, 1.0),
        (("t5",), 1.0, 1.0, 0.0),
        (("t1",), 0.0, 0.0, 1.0),
    ],
)
def test_updated_facts_need_the_newer_value_above_the_older(
    recalled: tuple[str, ...], newer: float, wins: float, older: float
) -> None:
    result = score(
        "x", [_recall("city", *recalled)], dataset=DATASET, similarity=lambda q, m: 0.0, threshold=0.4
    )
    assert (result.update_newer_recalled, result.update_newer_wins, result.update_older_recalled) == (
        newer,
        wins,
        older,
    )


def test_never_said_counts_memories_at_least_threshold_alike() -> None:
    alike = {"I play the cello": 0.5, "My cat is called Miso": 0.39, "I live in Lyon": 0.4}
    result = score(
        "x",
        [_recall("blood", "t3", "t2", "t1")],
        dataset=DATASET,
        similarity=lambda q, m: alike[m],
        threshold=0.4,
    )
    assert result.never_said_relevant == 2.0


def test_memories_match_their_turn_by_text_even_with_words_around_it() -> None:
    matcher = TurnMatcher(_person())
    assert matcher.turn_of("my cat is called  Miso") == "t2"
    assert matcher.turn_of("learned 3 Mar 2026: My cat is called Miso") == "t2"
    assert matcher.turn_of("I live in") is None  # inside two lines: no single turn it came from
    assert matcher.turn_of("something nobody said") is None


def test_memory_tokens_are_estimated_like_the_prompt_builder() -> None:
    assert memory_tokens([]) == 0
    assert memory_tokens(["abcd", "efgh"]) == len("- abcd\n- efgh") // 4 + 1
    # Mnemo's lines as its prompt shows them, with the date each was learned.
    lines = ["- abcd (learned 3 Oct 2026)", "- efgh (learned 4 Oct 2026)"]
    assert memory_tokens(["abcd", "efgh"], lines) == len("\n".join(lines)) // 4 + 1


def test_plain_top_k_ranks_by_similarity_and_can_hide_dm_lines() -> None:
    embedder = hashed_embedder(256)
    question = Question(
        "q", "p01", SINGLE, "I live in which city now", SLACK, PUBLIC, "C1", T0, ("t5",), (), ""
    )
    everything = plain_top_k(embedder, _person(), question=question, k=2, public_only=False)
    assert everything[0] in {"I live in Lyon", "We moved, I live in Porto now"}
    assert len(everything) == 2
    public = plain_top_k(embedder, _person(), question=question, k=10, public_only=True)
    assert "I live in Lyon" not in public
    assert "I take lithium every morning" not in public
    assert sorted(public) == sorted(text for text, place in LINES.values() if place == PUBLIC)
    assert plain_top_k(embedder, _person(), question=question, k=0, public_only=False) == []
