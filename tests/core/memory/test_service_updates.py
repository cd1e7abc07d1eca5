"""Memories know when they were learned, updates win at write time, and recall keeps different facts.

The fake embedder is a hashed bag of words (tests/core/jobs/test_housekeeping.py checks the numbers
these tests rely on): "I live in Paris" vs "I live in Berlin" = 0.75, unrelated facts <= 0.55.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.wiring import Core, build_core
from core.models import IdentityKey, MemoryOrigin, Platform
from tests.conftest import make_settings
from tests.core.helpers import message
from tests.core.jobs.helpers import FakeClock
from tests.fakes.openai_server import FakeOpenAI

PRIVATE = MemoryOrigin(Platform.CONSOLE, "dm", True)
PUBLIC = MemoryOrigin(Platform.CONSOLE, "general", False)
START = datetime(2026, 10, 3, 21, 15, tzinfo=UTC)  # a Saturday


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def ucore(tmp_path: Path, fake_openai: FakeOpenAI, clock: FakeClock) -> AsyncIterator[Core]:
    settings = make_settings(tmp_path / "data", fake_openai, memory_update_similarity=0.7)
    async with build_core(settings, clock=clock) as core:
        yield core


async def account(core: Core, user: str = "alice") -> uuid.UUID:
    return (await core.store.resolve_account(IdentityKey(Platform.CONSOLE, "w1", user))).id


async def say(
    core: Core, account_id: uuid.UUID, text: str, origin: MemoryOrigin = PRIVATE, *, at: datetime = START
) -> list[str]:
    added = await core.memory.remember(
        account_id,
        [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}],
        origin=origin,
        epoch=0,
        said_at=at,
    )
    return [m.text for m in added]


async def texts(core: Core, account_id: uuid.UUID) -> list[str]:
    return sorted(m.text for m in await core.memory.export(account_id, epoch=0))


def files_containing(core: Core, text: str) -> list[Path]:
    return [p for p in core.settings.data_dir.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def keyword_terms(core: Core) -> set[str]:
    conn = sqlite3.connect(core.settings.data_dir / "memory_vectors.db")
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, memory_terms, row)")
        return {row[0] for row in conn.execute("SELECT term FROM temp.terms")}
    finally:
        conn.close()


def extraction_prompts(fake: FakeOpenAI) -> list[str]:
    return [
        json.dumps(r.body.get("messages"))
        for r in fake.state.requests
        if r.path.endswith("/chat/completions") and r.body.get("response_format")
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


async def test_a_newer_fact_replaces_the_older_at_write_time_and_its_text_is_purged(ucore: Core) -> None:
    alice = await account(ucore)
    await say(ucore, alice, "I live in Paris", at=START)
    await say(ucore, alice, "I have a cat named Tom", at=START + timedelta(hours=1))
    assert files_containing(ucore, "Paris")
    assert await say(ucore, alice, "I live in Berlin", at=START + timedelta(days=1)) == ["I live in Berlin"]

    assert await texts(ucore, alice) == ["I have a cat named Tom", "I live in Berlin"]
    assert files_containing(ucore, "Paris") == []
    assert "paris" not in keyword_terms(ucore)
    found = await ucore.memory.recall(alice, "where do I live", epoch=0, include_private=True, limit=5)
    assert "I live in Paris" not in [m.text for m in found]


async def test_an_update_said_in_private_removes_the_public_fact_and_stays_private(ucore: Core) -> None:
    alice = await account(ucore)
    await say(ucore, alice, "I live in Paris", PUBLIC, at=START)
    await say(ucore, alice, "I live in Berlin", PRIVATE, at=START + timedelta(days=1))
    public = await ucore.memory.recall(alice, "I live in", epoch=0, include_private=False, limit=5)
    assert public == []  # neither the outdated public fact nor the private new one
    private = await ucore.memory.recall(alice, "I live in", epoch=0, include_private=True, limit=5)
    assert [m.text for m in private] == ["I live in Berlin"]


async def test_an_older_fact_arriving_late_does_not_replace_a_newer_one(ucore: Core) -> None:
    alice = await account(ucore)
    await say(ucore, alice, "I live in Berlin", at=START + timedelta(days=1))
    await say(ucore, alice, "I live in Paris", at=START)  # a retried write of something said earlier
    assert await texts(ucore, alice) == ["I live in Berlin", "I live in Paris"]


async def test_exact_repeats_and_unrelated_facts_are_not_updates(ucore: Core) -> None:
    alice = await account(ucore)
    bob = await account(ucore, "bob")
    await say(ucore, alice, "I like green tea", PUBLIC)
    await say(ucore, alice, "i like green tea", PRIVATE, at=START + timedelta(hours=1))
    await say(ucore, alice, "I have a cat named Tom", at=START + timedelta(hours=2))
    await say(ucore, bob, "I live in Paris")
    await say(ucore, alice, "I live in Berlin", at=START + timedelta(hours=3))
    assert await texts(ucore, alice) == [
        "I have a cat named Tom",
        "I like green tea",
        "I live in Berlin",
        "i like green tea",
    ]
    assert await texts(ucore, bob) == ["I live in Paris"]  # another account's fact is never replaced


async def test_recall_drops_near_duplicates_to_make_room_for_other_facts(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    # Replacement at write time off, so both wordings of the same fact are stored.
    settings = make_settings(tmp_path / "plain", fake_openai, memory_update_similarity=1.0)
    async with build_core(settings, clock=FakeClock(START)) as core:
        await recall_without_near_duplicates(core)


async def recall_without_near_duplicates(ucore: Core) -> None:
    alice = await account(ucore)
    await say(ucore, alice, "my favourite tea is green tea", at=START)
    await say(ucore, alice, "My favourite tea?? Green tea!", at=START + timedelta(hours=1))
    await say(ucore, alice, "I drink tea every morning", at=START + timedelta(hours=2))
    assert len(await texts(ucore, alice)) == 3
    found = await ucore.memory.recall(
        alice, "my favourite tea is green tea", epoch=0, include_private=True, limit=2
    )
    assert [m.text for m in found] == ["My favourite tea?? Green tea!", "I drink tea every morning"]
