"""The update judge's answer is trusted only as far as it can be checked: anything but the JSON asked
for, naming only what it was shown, replaces nothing, and the write stands; a failing model too.
Its tokens count like extraction's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.wiring import Core, build_core
from core.memory.update_judge import JudgeQuestion, VerdictError
from core.memory.writer import WriteOutcome
from core.models import MemoryItem, Platform
from tests.conftest import make_settings
from tests.core.jobs.helpers import FakeClock
from tests.core.memory.writes import START, account, say, texts, write
from tests.fakes.openai_server import FakeOpenAI

PARIS, ROME, BERLIN = "I live in Paris", "I live in Rome", "I live in Berlin"
LATER = START + timedelta(days=1)


@pytest.fixture
async def ucore(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[Core]:
    async with build_core(make_settings(tmp_path / "data", fake_openai), clock=FakeClock(START)) as core:
        yield core


def memory(memory_id: str, text: str) -> MemoryItem:
    return MemoryItem(memory_id, text, "2026-10-03T21:15:00+00:00", "console", "dm", True)


QUESTION = JudgeQuestion.of(
    [
        (memory("new-1", BERLIN), [memory("old-a", PARIS), memory("old-b", ROME)]),
        (memory("new-2", "I have a dog"), [memory("old-c", "I have a cat"), memory("old-a", PARIS)]),
    ]
)


def test_the_question_numbers_each_older_memory_once_and_names_no_database_id() -> None:
    [system, user] = QUESTION.messages()
    assert "JSON" in system["content"]
    assert user["content"] == (
        "## Older memories\n"
        "[1] (3 October 2026) I live in Paris\n"
        "[2] (3 October 2026) I live in Rome\n"
        "[3] (3 October 2026) I have a cat\n"
        "\n"
        "## New memories\n"
        "[N1] (3 October 2026) I live in Berlin\n"
        "candidates: 1, 2\n"
        "[N2] (3 October 2026) I have a dog\n"
        "candidates: 3, 1"
    )
    assert not any(i in user["content"] for i in ("old-", "new-"))


def test_an_answer_maps_labels_back_to_the_memories_shown() -> None:
    assert QUESTION.verdict('{"replaced": {"N1": [1, 2], "N2": []}}') == {"new-1": ["old-a", "old-b"]}
    assert QUESTION.verdict('{"replaced": {"N2": ["3", 3]}}') == {"new-2": ["old-c"]}
    assert QUESTION.verdict('```json\n{"replaced": {}}\n```') == {}


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("this is not json {", "not JSON"),
        ("[1, 2]", 'no "replaced" object'),
        ('{"replaced": [1]}', 'no "replaced" object'),
        ('{"N1": [1]}', 'no "replaced" object'),
        ('{"replaced": {"N3": [1]}}', "unknown new memory 'N3'"),
        ('{"replaced": {"N1": 1}}', "N1: not a list"),
        ('{"replaced": {"N1": [4]}}', "N1: 4 is not one of its candidates"),  # no such number
        ('{"replaced": {"N1": [0]}}', "N1: 0 is not one of its candidates"),
        ('{"replaced": {"N1": [3]}}', "N1: 3 is not one of its candidates"),  # another one's
        ('{"replaced": {"N1": [true]}}', "N1: True is not one of its candidates"),
        ('{"replaced": {"N1": [1.0]}}', "N1: 1.0 is not one of its candidates"),
        ('{"replaced": {"N1": ["old-a"]}}', "N1: 'old-a' is not one of its candidates"),  # a database id
        ('{"replaced": {"N1": [2], "N2": [9]}}', "N2: 9 is not one of its candidates"),  # all or nothing
    ],
)
def test_an_answer_that_names_anything_it_was_not_shown_is_refused_whole(answer: str, why: str) -> None:
    with pytest.raises(VerdictError) as refused:
        QUESTION.verdict(answer)
    assert why in str(refused.value)


@pytest.mark.parametrize(
    "answer",
    [
        '{"replaced": {"I live in Paris since my divorce": [1]}}',
        '{"replaced": {"N1": ["I live in Paris since my divorce"]}}',
    ],
)
def test_a_refusal_never_repeats_free_text_of_the_answer(answer: str) -> None:
    # The reason is logged: words the model echoed back (a person's) must not reach the log.
    with pytest.raises(VerdictError) as refused:
        QUESTION.verdict(answer)
    assert "Paris" not in str(refused.value)
    assert "a str of 32 characters" in str(refused.value)


@pytest.mark.parametrize(
    "answer",
    [
        "this is not json {",
        '{"replaced": {"N1": [7]}}',
        '{"replaced": {"N2": [1]}}',
        '{"replaced": {"N1": "1"}}',
        '{"replaced": {"N1": [1], "N1x": [1]}}',
    ],
)
async def test_bad_judge_output_replaces_nothing_and_loses_nothing(
    ucore: Core, fake_openai: FakeOpenAI, answer: str
) -> None:
    fake_openai.judge_with(answer)
    alice = await account(ucore)
    await say(ucore, alice, PARIS)
    landed = await write(ucore, alice, BERLIN, at=LATER)
    assert fake_openai.count("judge") == 1
    assert landed.outcome is WriteOutcome.WRITTEN
    assert landed.replaced_ids == []
    assert await texts(ucore, alice) == [BERLIN, PARIS]


async def test_the_judge_can_only_reach_this_persons_memories_by_construction(
    ucore: Core, fake_openai: FakeOpenAI
) -> None:
    alice, bob = await account(ucore), await account(ucore, "bob")
    await say(ucore, bob, PARIS)  # the same words as Alice's: the nearest memory there is
    await say(ucore, bob, ROME)
    await say(ucore, alice, PARIS)
    [bobs_paris] = [m.id for m in await ucore.memory.export(bob, epoch=0) if m.text == PARIS]
    for answer in (
        {"N1": [bobs_paris]},  # his database id
        {"N1": [2]},  # a number beyond what was shown (Bob's memories would come next, were they shown)
        {"N1": [1, 2]},
        {"N2": [1]},
    ):
        fake_openai.judge_with(json.dumps({"replaced": answer}))
        landed = await write(ucore, alice, BERLIN, at=LATER)
        assert landed.outcome is WriteOutcome.WRITTEN
        assert landed.replaced_ids == []
        # What the judge was shown comes from a search on Alice's account only: her one memory.
        request = fake_openai.judge_requests()[-1]
        assert request.older == {1: PARIS}
        assert [(m.label, [n for n, _ in m.candidates]) for m in request.new] == [("N1", [1])]
        [new] = landed.memory_ids
        await ucore.memory.forget(alice, new)  # the next answer is judged against the same question
    assert await texts(ucore, bob) == [PARIS, ROME]
    assert await texts(ucore, alice) == [PARIS]


@pytest.mark.parametrize("status", [500, 429, 400])
async def test_a_model_error_keeps_the_write(ucore: Core, fake_openai: FakeOpenAI, status: int) -> None:
    fake_openai.judge_with('{"replaced": {"N1": [1]}}')  # would replace, if it answered
    fake_openai.fail(status, endpoint="judge")
    alice = await account(ucore)
    await say(ucore, alice, PARIS)
    landed = await write(ucore, alice, BERLIN, at=LATER)
    assert fake_openai.count("judge") == 1
    assert landed.outcome is WriteOutcome.WRITTEN
    assert len(landed.memory_ids) == 1
    assert await texts(ucore, alice) == [BERLIN, PARIS]
    assert await ucore.store.due_pending_writes(now=LATER + timedelta(days=9), limit=5) == []  # no retry


async def test_a_judge_that_times_out_keeps_the_write(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path / "slow", fake_openai, llm_timeout_seconds=0.5)
    async with build_core(settings, clock=FakeClock(START)) as core:
        fake_openai.judge_with('{"replaced": {"N1": [1]}}')
        gate = fake_openai.hold("judge", timeout=30)  # answered only after the client gave up
        alice = await account(core)
        await say(core, alice, PARIS)
        try:
            landed = await write(core, alice, BERLIN, at=LATER)
        finally:
            gate.release()
        assert landed.outcome is WriteOutcome.WRITTEN
        assert landed.replaced_ids == []
        assert await texts(core, alice) == [BERLIN, PARIS]


async def test_the_judges_tokens_count_like_extractions(ucore: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.usage = (30, 12)  # every chat answer reports 42 tokens
    alice = await account(ucore)
    await say(ucore, alice, PARIS)
    await say(ucore, alice, BERLIN, at=LATER)
    assert (fake_openai.count("extract"), fake_openai.count("judge")) == (2, 1)
    used = await ucore.store.daily_usage(
        account_id=alice, platform=Platform.CONSOLE, workspace="w1", day=START.date()
    )
    assert used.person == 3 * 42
