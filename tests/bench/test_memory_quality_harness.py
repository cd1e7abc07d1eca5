"""The memory-quality harness end to end: two people of the committed dataset through the real core
(against the loopback fake, with its bag-of-words embedder instead of the model that only
`make bench` installs), the plain top-k beside it, and the printed report."""

from __future__ import annotations

from bench.memory_quality import format_report, hashed_embedder, load_dataset, run_benchmark
from bench.memory_quality.dataset import DISCORD, DM, SLACK


async def test_two_people_through_the_real_pipeline() -> None:
    dataset = load_dataset().first_people(2)
    result = await run_benchmark(dataset=dataset, embedder=hashed_embedder(64), recall_limit=8)

    turns = sum(len(p.turns()) for p in dataset.people)
    assert (result.people, result.turns, result.questions) == (2, turns, len(dataset.questions))
    # The fake extraction keeps each line as one memory: every line landed, once.
    assert result.memories_stored == turns
    assert result.recall_limit == 8
    assert 0 < result.mnemo.memories_per_prompt <= 8
    mnemo = result.mnemo.per_question
    assert all(turn is not None for recall in mnemo for turn in recall.turn_ids)
    # Equal memories per prompt, question by question.
    for ours, plain in zip(mnemo, result.plain.per_question, strict=True):
        assert len(plain.texts) == len(ours.texts)

    # DMs stay out of public channels in Mnemo; the plain top-k without a filter lets them in.
    assert result.mnemo.privacy_violations == 0
    assert result.plain_public_only.privacy_violations == 0
    assert result.plain.privacy_violations > 0

    # Slack and Discord are one person (linked): what was said on one is recalled on the other.
    platform_of = {t.id: s.platform for p in dataset.people for s, t in p.turns()}
    place_of = {t.id: s.place for p in dataset.people for s, t in p.turns()}
    for asked_on, said_on in ((DISCORD, SLACK), (SLACK, DISCORD)):
        assert any(
            platform_of[turn] == said_on
            for recall in mnemo
            if recall.question.platform == asked_on
            for turn in recall.turn_ids
            if turn is not None
        )
    # ... and a DM's lines come back in a DM.
    assert any(
        place_of[turn] == DM
        for r in mnemo
        if r.question.place == DM
        for turn in r.turn_ids
        if turn is not None
    )

    # The fake model cannot judge updates: it replaces nothing. The judge that knows the labels
    # replaces older lines at write time, so fewer are stored and fewer older values come back.
    assert result.judge_requests > 0
    assert result.memories_stored_labelled < result.memories_stored
    assert result.mnemo_labelled.update_older_recalled < result.mnemo.update_older_recalled
    assert result.mnemo_labelled.privacy_violations == 0

    report = format_report(result)
    assert "a judge that knows the labels (the mechanism's ceiling, not a model's quality)" in report
    assert f"{100 * result.mnemo.evidence_recall:.1f}%" in report
    assert "target: Mnemo >= 1.15x plain" in report
    assert "target: 0 (Mnemo: met)" in report
    assert "target: >= 95%" in report
