"""Memories know when they were learned, updates win at write time (the model judges which older
memories a new one replaces), and recall keeps different facts.

The fake judge answers what the test scripts (`FakeOpenAI.judge_with`, `replacing(pairs)`); by
default it replaces nothing. The fake embedder is a hashed bag of words: "I live in Paris" vs
"I live in Berlin" = 0.75, unrelated facts of one person well under that but mostly above the
judge's candidate floor of 0.2.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.wiring import Core, build_core
from core.memory.writer import WriteOutcome
from tests.conftest import make_settings
from tests.core.helpers import message
from tests.core.jobs.helpers import FakeClock
from tests.core.memory.writes import (
    PRIVATE,
    PUBLIC,
    START,
    account,
    files_containing,
    keyword_terms,
    say,
    texts,
    write,
)
from tests.fakes.openai_server import FakeOpenAI, judge_request, replacing

PARIS, BERLIN, CAT = "I live in Paris", "I live in Berlin", "I have a cat named Tom"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def ucore(tmp_path: Path, fake_openai: FakeOpenAI, clock: FakeClock) -> AsyncIterator[Core]:
    settings = make_settings(tmp_path / "data", fake_openai)  # update by model: on by default
    async with build_core(settings, clock=clock) as core:
        yield core


def extraction_prompts(fake: FakeOpenAI) -> list[str]:
    return [
        json.dumps(r.body.get("messages"))
        for r in fake.state.requests
        if r.path.endswith("/chat/completions")
        and r.body.get("response_format")
        and judge_request(str(r.body["messages"][-1]["content"])) is None
    ]


async def test_a_memory_carries_when_it_was_said_and_extraction_is_told_the_date(
    ucore: Core, fake_openai: FakeOpenAI
) -> None:
    alice = await account(ucore)
    said = START - timedelta(days=2)  # a write retried two days later keeps its own date
    assert await say(ucore, alice, "I had my wisdom teeth out yesterday", at=said) == [
        "I had my wisdom teeth out yesterday"
    ]
    [item] = await ucore.memory.export(alice, epoch=0)
    assert item.created_at is not None
    assert datetime.fromisoformat(item.created_at) == said
    [prompt] = extraction_prompts(fake_openai)
    assert "Thursday, 1 October 2026 (UTC)" in prompt
    assert "yesterday" in prompt


async def test_a_queued_write_is_dated_when_the_message_came_not_when_it_landed(
    ucore: Core, fake_openai: FakeOpenAI, clock: FakeClock
) -> None:
    gate = fake_openai.hold("extract")
    reply = await ucore.orchestrator.handle(message("I adopted a greyhound", dm=True))
    assert reply is not None
    await gate.arrived()
    clock.advance(days=3)  # the write lands days later (a slow model, a queue)
    gate.release()
    assert await ucore.writer.flush(10)
    [item] = await ucore.memory.export(await account(ucore), epoch=0)
    assert item.created_at is not None
    assert datetime.fromisoformat(item.created_at) == START


async def test_a_newer_fact_replaces_the_older_at_write_time_and_its_text_is_purged(
    ucore: Core, fake_openai: FakeOpenAI
) -> None:
    fake_openai.judge_with(replacing({(BERLIN, PARIS)}))
    alice = await account(ucore)
    await say(ucore, alice, PARIS, at=START)
    await say(ucore, alice, CAT, at=START + timedelta(hours=1))
    assert files_containing(ucore, "Paris")
    [paris] = [m.id for m in await ucore.memory.export(alice, epoch=0) if m.text == PARIS]

    landed = await write(ucore, alice, BERLIN, at=START + timedelta(days=1))

    assert landed.outcome is WriteOutcome.WRITTEN
    assert landed.replaced_ids == [paris]
    assert await texts(ucore, alice) == [CAT, BERLIN]
    # Every copy: the vector store's rows and files, its keyword index, and nothing else holds it.
    assert files_containing(ucore, "Paris") == []
    assert "paris" not in keyword_terms(ucore)
    found = await ucore.memory.recall(alice, "where do I live", epoch=0, include_private=True, limit=5)
    assert PARIS not in [m.text for m in found]
    # The judge was asked once, for the Berlin write, with Paris among its candidates.
    last = fake_openai.judge_requests()[-1]
    [new] = last.new
    assert new.text == BERLIN
    assert PARIS in [text for _, text in new.candidates]


async def test_one_request_per_write_for_all_its_new_memories_and_none_without_candidates(
    ucore: Core, fake_openai: FakeOpenAI
) -> None:
    alice = await account(ucore)
    await say(ucore, alice, PARIS)  # nothing older: no candidates, no request
    assert fake_openai.count("judge") == 0
    fake_openai.judge_with(replacing({(BERLIN, PARIS)}))
    landed = await write(
        ucore,
        alice,
        f"{BERLIN}\nuser: I have a dog named Rex",  # the fake extracts one memory per user line
        at=START + timedelta(days=1),
    )
    assert len(landed.memory_ids) == 2
    assert fake_openai.count("judge") == 1
    [request] = fake_openai.judge_requests()
    assert [m.text for m in request.new] == [BERLIN, "I have a dog named Rex"]
    assert sorted(request.older.values()) == [PARIS]
    assert await texts(ucore, alice) == ["I have a dog named Rex", BERLIN]


async def test_a_different_fact_is_kept(ucore: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.judge_with(replacing({(BERLIN, PARIS)}))  # knows updates, and this is none
    alice = await account(ucore)
    await say(ucore, alice, "My sister is called Ana", at=START)
    landed = await write(ucore, alice, "My brother is called Luis", at=START + timedelta(hours=1))
    assert fake_openai.count("judge") == 1  # alike enough to be asked about, and judged different
    assert landed.replaced_ids == []
    assert await texts(ucore, alice) == ["My brother is called Luis", "My sister is called Ana"]


async def test_an_update_said_in_private_removes_the_public_fact_and_stays_private(
    ucore: Core, fake_openai: FakeOpenAI
) -> None:
    fake_openai.judge_with(replacing({(BERLIN, PARIS)}))
    alice = await account(ucore)
    await say(ucore, alice, PARIS, PUBLIC, at=START)
    await say(ucore, alice, BERLIN, PRIVATE, at=START + timedelta(days=1))
    public = await ucore.memory.recall(alice, "I live in", epoch=0, include_private=False, limit=5)
    assert public == []  # neither the outdated public fact nor the private new one
    private = await ucore.memory.recall(alice, "I live in", epoch=0, include_private=True, limit=5)
    assert [m.text for m in private] == [BERLIN]


async def test_a_public_update_replaces_a_private_fact_and_shows_nothing_private_in_public(
    ucore: Core, fake_openai: FakeOpenAI
) -> None:
    fake_openai.judge_with(replacing({(BERLIN, PARIS)}))
    alice = await account(ucore)
    await say(ucore, alice, PARIS, PRIVATE, at=START)
    await say(ucore, alice, BERLIN, PUBLIC, at=START + timedelta(days=1))
    # The private fact was offered to the judge (its answer reaches no one) and replaced.
    shown = [text for request in fake_openai.judge_requests() for text in request.older.values()]
    assert shown == [PARIS]
    assert await texts(ucore, alice) == [BERLIN]
    private = await ucore.memory.recall(alice, "I live in", epoch=0, include_private=True, limit=5)
    assert [m.text for m in private] == [BERLIN]
    public = await ucore.memory.recall(alice, "I live in", epoch=0, include_private=False, limit=5)
    assert [m.text for m in public] == [BERLIN]


async def test_an_older_fact_arriving_late_does_not_replace_a_newer_one(
    ucore: Core, fake_openai: FakeOpenAI
) -> None:
    fake_openai.judge_with(replacing({(PARIS, BERLIN), (BERLIN, PARIS)}))  # would say yes either way
    alice = await account(ucore)
    await say(ucore, alice, BERLIN, at=START + timedelta(days=1))
    await say(ucore, alice, PARIS, at=START)  # a retried write of something said earlier
    assert fake_openai.count("judge") == 0  # the newer one is no candidate: nothing to ask
    assert await texts(ucore, alice) == [BERLIN, PARIS]


async def test_exact_repeats_and_other_peoples_memories_are_never_candidates(
    ucore: Core, fake_openai: FakeOpenAI
) -> None:
    fake_openai.judge_with(replacing({(BERLIN, PARIS), ("i like green tea", "I like green tea")}))
    alice = await account(ucore)
    bob = await account(ucore, "bob")
    await say(ucore, alice, "I like green tea", PUBLIC)
    await say(ucore, alice, "i like green tea", PRIVATE, at=START + timedelta(hours=1))
    assert fake_openai.count("judge") == 0  # the same words are no update: nothing to ask
    await say(ucore, alice, CAT, at=START + timedelta(hours=2))
    await say(ucore, bob, PARIS)
    await say(ucore, alice, BERLIN, at=START + timedelta(hours=3))
    assert await texts(ucore, alice) == [CAT, "I like green tea", BERLIN, "i like green tea"]
    assert await texts(ucore, bob) == [PARIS]  # another account's fact is never replaced
    shown = {text for request in fake_openai.judge_requests() for text in request.older.values()}
    assert CAT in shown
    assert PARIS not in shown  # ... nor shown to the judge for Alice's write


async def test_with_update_by_model_off_the_model_is_never_asked(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.judge_with(replacing({(BERLIN, PARIS)}))
    settings = make_settings(tmp_path / "off", fake_openai, memory_update_by_model=False)
    async with build_core(settings, clock=FakeClock(START)) as core:
        alice = await account(core)
        await say(core, alice, PARIS, at=START)
        await say(core, alice, BERLIN, at=START + timedelta(days=1))
        assert await texts(core, alice) == [BERLIN, PARIS]
        assert fake_openai.count("judge") == 0
        await recall_without_near_duplicates(core)


async def recall_without_near_duplicates(ucore: Core) -> None:
    bob = await account(ucore, "bob")
    await say(ucore, bob, "my favourite tea is green tea", at=START)
    await say(ucore, bob, "My favourite tea?? Green tea!", at=START + timedelta(hours=1))
    await say(ucore, bob, "I drink tea every morning", at=START + timedelta(hours=2))
    assert len(await texts(ucore, bob)) == 3
    found = await ucore.memory.recall(
        bob, "my favourite tea is green tea", epoch=0, include_private=True, limit=2
    )
    assert [m.text for m in found] == ["My favourite tea?? Green tea!", "I drink tea every morning"]
