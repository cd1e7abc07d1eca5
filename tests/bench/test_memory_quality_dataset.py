"""The memory-quality dataset: the committed file is what the seeded generator writes, and it has
what issue 16 asks of it (size, places, kinds) with labels that hold."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import date, timedelta

import pytest

from bench.memory_quality.dataset import (
    DATASET_PATH,
    DATE,
    DISCORD,
    DM,
    KINDS,
    MULTI,
    NEVER,
    PRIVACY,
    PUBLIC,
    SINGLE,
    SLACK,
    UPDATE,
    Dataset,
    Person,
    from_json,
    load_dataset,
    to_json,
)
from bench.memory_quality.generate import generate


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_dataset()


def _people(dataset: Dataset) -> dict[str, Person]:
    return {p.id: p for p in dataset.people}


def test_the_committed_file_is_what_the_generator_writes() -> None:
    assert DATASET_PATH.read_text(encoding="utf-8") == to_json(generate()), (
        "dataset.json is stale: python -m bench.memory_quality.generate"
    )


def test_generation_is_seeded() -> None:
    assert to_json(generate(seed=5, people=2)) == to_json(generate(seed=5, people=2))
    assert to_json(generate(seed=5, people=2)) != to_json(generate(seed=6, people=2))


def test_the_file_round_trips_and_stays_small(dataset: Dataset) -> None:
    assert from_json(to_json(dataset)) == dataset
    assert DATASET_PATH.stat().st_size < 500_000


def test_size_places_and_kinds(dataset: Dataset) -> None:
    assert len(dataset.people) >= 20
    assert len(dataset.questions) >= 300
    assert set(Counter(q.kind for q in dataset.questions)) == set(KINDS)
    for person in dataset.people:
        assert len(person.turns()) >= 30
        assert len(person.sessions) >= 4
        places = {(s.platform, s.place) for s in person.sessions}
        assert places >= {(SLACK, DM), (SLACK, PUBLIC), (DISCORD, DM), (DISCORD, PUBLIC)}
        starts = [s.turns[0].at for s in person.sessions]
        assert starts == sorted(starts)
        assert Counter(t.kind for _, t in person.turns())["chatter"] >= len(person.turns()) // 3


def test_sessions_never_overlap_in_time(dataset: Dataset) -> None:
    spans = sorted((s.turns[0].at, s.turns[-1].at) for p in dataset.people for s in p.sessions)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end < start


def test_every_line_of_a_person_is_said_once(dataset: Dataset) -> None:
    for person in dataset.people:
        texts = [t.text for _, t in person.turns()]
        assert len(texts) == len(set(texts)), person.id
        assert all("\n" not in text for text in texts)


def test_evidence_labels_hold(dataset: Dataset) -> None:
    people = _people(dataset)
    for q in dataset.questions:
        turns = {t.id: (s, t) for s, t in people[q.person].turns()}
        assert all(e in turns for e in (*q.evidence, *q.superseded)), q.id
        assert q.asked_at > max(t.at for _, t in turns.values())
        private = any(turns[e][0].place == DM for e in (*q.evidence, *q.superseded))
        if q.kind == NEVER:
            assert q.evidence == ()
            assert q.superseded == ()
        elif q.kind == PRIVACY:
            assert len(q.evidence) == 1
            assert turns[q.evidence[0]][0].place == DM
            assert q.place == PUBLIC
        else:
            # Something answerable is asked where all of it may be recalled.
            assert q.place == DM or not private, q.id
        if q.kind in (SINGLE, DATE):
            assert len(q.evidence) == 1
        if q.kind == MULTI:
            first, second = (turns[e][0] for e in q.evidence)
            assert first.id != second.id
        if q.kind == UPDATE:
            ((_, new),), ((_, old),) = [turns[e] for e in q.evidence], [turns[e] for e in q.superseded]
            assert old.at < new.at
            assert q.answer in new.text
            assert q.answer not in old.text
        if q.place == DM:
            dm = next(s for s in people[q.person].sessions if s.platform == q.platform and s.place == DM)
            assert q.channel == dm.channel


def test_names_and_places_in_an_answer_appear_in_its_evidence_only(dataset: Dataset) -> None:
    people = _people(dataset)
    for q in dataset.questions:
        if q.kind != SINGLE or not q.answer[:1].isupper():
            continue
        pattern = re.compile(rf"\b{re.escape(q.answer)}\b")
        saying = [t.id for _, t in people[q.person].turns() if pattern.search(t.text)]
        assert saying == list(q.evidence), q.id


_WHEN = {"yesterday": -1, "two days ago": -2, "three days ago": -3, "tomorrow": 1, "in two days": 2}
_WHEN |= {"in three days": 3, "in two weeks": 14}


def test_relative_dates_resolve_from_the_day_they_were_said(dataset: Dataset) -> None:
    people = _people(dataset)
    checked = 0
    for q in (q for q in dataset.questions if q.kind == DATE):
        ((_, turn),) = [t for t in people[q.person].turns() if t[1].id in q.evidence]
        said_on = turn.at.date()
        for phrase, days in _WHEN.items():
            if f" {phrase}" in turn.text:
                assert q.answer == (said_on + timedelta(days=days)).isoformat(), q.id
                checked += 1
        for phrase, weeks in (("last week", -1), ("next week", 1)):
            if f" {phrase}" in turn.text:
                monday = said_on - timedelta(days=said_on.weekday()) + timedelta(weeks=weeks)
                assert q.answer == f"the week of {monday.isoformat()}", q.id
                assert date.fromisoformat(q.answer.removeprefix("the week of ")).weekday() == 0
                checked += 1
    assert checked == sum(1 for q in dataset.questions if q.kind == DATE)


def test_first_people_keeps_only_their_questions(dataset: Dataset) -> None:
    quick = dataset.first_people(3)
    assert [p.id for p in quick.people] == [p.id for p in dataset.people[:3]]
    assert {q.person for q in quick.questions} == {p.id for p in quick.people}
    assert len(quick.questions) == sum(1 for q in dataset.questions if q.person in {"p01", "p02", "p03"})
