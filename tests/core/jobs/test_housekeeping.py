"""Memory housekeeping: duplicates merged, the newest of superseded facts kept, paused accounts untouched.

The fake embedder is a hashed bag of words, so similarities are known: "I live in Paris" vs
"I live in Berlin" = 0.75, "My favourite colour is blue" vs "... green" = 0.8, unrelated facts <= 0.55.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.scheduler import build_jobs
from bot.wiring import Core, build_core
from core.jobs import MEMORY_HOUSEKEEPING
from core.models import IdentityKey, MemoryOrigin, Platform
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI, embed_text

PRIVATE = MemoryOrigin(Platform.CONSOLE, "dm", True)
PUBLIC = MemoryOrigin(Platform.CONSOLE, "general", False)


@pytest.fixture
async def hcore(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[Core]:
    settings = make_settings(tmp_path / "data", fake_openai, memory_merge_similarity=0.7)
    async with build_core(settings) as core:
        yield core


async def account(core: Core, user: str) -> uuid.UUID:
    return (await core.store.resolve_account(IdentityKey(Platform.CONSOLE, "w1", user))).id


async def say(core: Core, account_id: uuid.UUID, text: str, origin: MemoryOrigin = PRIVATE) -> None:
    added = await core.memory.remember(
        account_id,
        [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}],
        origin=origin,
        epoch=0,
    )
    assert [m.text for m in added] == [text]


async def texts(core: Core, account_id: uuid.UUID) -> list[str]:
    return sorted(m.text for m in await core.memory.export(account_id, epoch=0))


def files_containing(core: Core, text: str) -> list[Path]:
    return [p for p in core.settings.data_dir.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_the_fake_embedder_gives_the_similarities_these_tests_rely_on() -> None:
    def cos(a: str, b: str) -> float:
        return sum(x * y for x, y in zip(embed_text(a, 64), embed_text(b, 64), strict=True))

    assert 0.7 <= cos("I live in Paris", "I live in Berlin") < 0.9
    assert 0.7 <= cos("My favourite colour is blue", "My favourite colour is green") < 0.9
    assert cos("I live in Berlin", "I have a cat named Tom") < 0.7
    assert cos("I like green tea", "My favourite colour is green") < 0.7


async def test_consolidate_keeps_the_newest_fact_and_one_copy_of_a_repeat(hcore: Core) -> None:
    alice = await account(hcore, "alice")
    await say(hcore, alice, "I live in Paris")
    await say(hcore, alice, "I like green tea", PUBLIC)
    await say(hcore, alice, "i like green tea")  # the same, later, in private
    await say(hcore, alice, "I have a cat named Tom")
    await say(hcore, alice, "I live in Berlin")  # supersedes Paris
    before = {m.text: m.id for m in await hcore.memory.export(alice, epoch=0)}
    assert len(before) == 5

    merged = await hcore.memory.consolidate(alice, similarity=0.7, epoch=0)

    assert merged == 2
    assert await texts(hcore, alice) == ["I have a cat named Tom", "I like green tea", "I live in Berlin"]
    # Of the repeat, the copy usable in public channels survived (it was the older one).
    kept = {m.text: m for m in await hcore.memory.export(alice, epoch=0)}
    assert kept["I like green tea"].is_private is False
    # No copy of a replaced fact is left in any file (mem0 keeps no history here).
    assert files_containing(hcore, "I live in Paris") == []
    assert files_containing(hcore, "i like green tea") == []
    assert files_containing(hcore, "I live in Berlin")
    # Recall now finds only the current fact.
    recalled = await hcore.memory.recall(alice, "where do I live", include_private=True, limit=5, epoch=0)
    assert "I live in Paris" not in [m.text for m in recalled]
    assert "I live in Berlin" in [m.text for m in recalled]
    # A second pass has nothing left to do.
    assert await hcore.memory.consolidate(alice, similarity=0.7, epoch=0) == 0


async def test_a_higher_threshold_keeps_merely_related_facts(hcore: Core) -> None:
    alice = await account(hcore, "alice")
    await say(hcore, alice, "I live in Paris")
    await say(hcore, alice, "I live in Berlin")
    assert await hcore.memory.consolidate(alice, similarity=0.9, epoch=0) == 0
    assert await texts(hcore, alice) == ["I live in Berlin", "I live in Paris"]


async def test_consolidate_only_touches_its_own_account(hcore: Core) -> None:
    alice, bob = await account(hcore, "alice"), await account(hcore, "bob")
    await say(hcore, alice, "My favourite colour is blue")
    await say(hcore, bob, "My favourite colour is blue")
    await say(hcore, bob, "My favourite colour is green")
    assert await hcore.memory.consolidate(bob, similarity=0.7, epoch=0) == 1
    assert await texts(hcore, bob) == ["My favourite colour is green"]
    assert await texts(hcore, alice) == ["My favourite colour is blue"]
    assert sorted(await hcore.memory.account_ids()) == sorted([alice, bob])


async def test_housekeeping_job_merges_every_account_except_paused_ones(hcore: Core) -> None:
    alice, bob, carol = [await account(hcore, u) for u in ("alice", "bob", "carol")]
    for who in (alice, bob):
        await say(hcore, who, "I live in Paris")
        await say(hcore, who, "I live in Berlin")
    await say(hcore, carol, "I have a cat named Tom")
    await say(hcore, carol, "I like green tea")
    await hcore.store.set_memory_paused(bob, True)

    result = await build_jobs(hcore).run(MEMORY_HOUSEKEEPING)

    assert result.counts == {"accounts": 2, "merged": 1, "skipped_paused": 1, "failed": 0}
    assert await texts(hcore, alice) == ["I live in Berlin"]
    assert await texts(hcore, bob) == ["I live in Berlin", "I live in Paris"]  # paused: untouched
    assert await texts(hcore, carol) == ["I have a cat named Tom", "I like green tea"]


async def test_housekeeping_stops_when_asked(hcore: Core) -> None:
    for user in ("alice", "bob"):
        who = await account(hcore, user)
        await say(hcore, who, "I live in Paris")
        await say(hcore, who, "I live in Berlin")
    result = await build_jobs(hcore).run(MEMORY_HOUSEKEEPING, lambda: True)
    assert result.stopped_early
    assert result.counts["merged"] == 0
    assert len(await hcore.memory.export(await account(hcore, "alice"), epoch=0)) == 2


async def test_forget_all_after_housekeeping_leaves_no_history(hcore: Core) -> None:
    alice = await account(hcore, "alice")
    await say(hcore, alice, "I live in Paris")
    await say(hcore, alice, "I live in Berlin")
    assert await hcore.memory.consolidate(alice, similarity=0.7, epoch=0) == 1
    await hcore.memory.erase(alice)
    assert files_containing(hcore, "Paris") == []
    assert files_containing(hcore, "Berlin") == []
    assert not (hcore.settings.data_dir / "memory_history.db").exists()
