"""Long-term memory: scoping, forgetting, complete erasure, export, and mem0's quirks handled."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import uuid
from pathlib import Path

import pytest

from bot.wiring import Core
from core.commands import Command, CommandName
from core.errors import MemoryBackendError, NotFoundError
from core.memory.vectors.sqlite import SQLiteVectorStore
from core.models import IdentityKey, MemoryOrigin, Platform
from tests.core.helpers import message
from tests.fakes.openai_server import FakeOpenAI

PRIVATE = MemoryOrigin(Platform.CONSOLE, "dm", True)
PUBLIC = MemoryOrigin(Platform.CONSOLE, "general", False)


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def keyword_terms_in(path: Path) -> set[str]:
    """Every term of the vector store's keyword index (FTS5), deleted rows' until merged away."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, memory_terms, row)")
        return {row[0] for row in conn.execute("SELECT term FROM temp.terms")}
    finally:
        conn.close()


async def test_forgetting_one_memory_removes_its_words_from_the_keyword_index(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    identity = IdentityKey(Platform.CONSOLE, "w1", "erin")
    account = await core.store.resolve_account(identity)
    await say(core, account.id, "my locker word is wombatcanary4471")
    await say(core, account.id, "I like oolong")
    path = core.settings.data_dir / "memory_vectors.db"
    assert "wombatcanary4471" in keyword_terms_in(path)
    found = await core.memory.recall(account.id, "wombatcanary4471", epoch=0, include_private=True, limit=5)
    assert next(m.text for m in found) == "my locker word is wombatcanary4471"
    victim = next(m for m in found if "wombat" in m.text)
    await core.commands.run(identity, Command(CommandName.FORGET, argument=victim.id))
    assert "wombatcanary4471" not in keyword_terms_in(path)
    assert "oolong" in keyword_terms_in(path)
    assert files_containing(core.settings.data_dir, b"wombatcanary4471") == []


async def say(core: Core, account: uuid.UUID, text: str, origin: MemoryOrigin = PRIVATE) -> None:
    await core.memory.remember(
        account,
        [{"role": "user", "content": text}, {"role": "assistant", "content": "noted"}],
        origin=origin,
        epoch=0,
    )


async def test_forget_all_leaves_no_trace_in_any_file(core: Core, fake_openai: FakeOpenAI) -> None:
    canary = "zebracanary8812"
    identity = IdentityKey(Platform.CONSOLE, "w1", "alice")
    other = IdentityKey(Platform.CONSOLE, "w1", "bob")
    # Through the real front door: stored messages, mem0 vectors, mem0 history and mem0 messages.
    for i, text in enumerate([f"my secret word is {canary}", f"remember {canary} again", "I like tea"]):
        reply = await core.orchestrator.handle(message(text, user="alice", dm=True, message_id=f"a{i}"))
        assert reply is not None
    await core.orchestrator.handle(message("bob likes coffee", user="bob", dm=True, message_id="b1"))
    assert await core.writer.flush(10)
    account = await core.store.resolve_account(identity)
    page = await core.memory.page(account.id, offset=0, limit=10, epoch=0)
    assert page.total == 3
    # Forget one of them first: mem0 records the deleted text in its history table.
    await core.commands.run(identity, Command(CommandName.FORGET, argument=page.items[-1].id))
    data_dir = core.settings.data_dir
    assert files_containing(data_dir, canary.encode()), "the canary should be stored before erasure"

    result = await core.commands.run(identity, Command(CommandName.FORGET_ALL, confirmed=True))
    assert "erased" in result.text

    assert files_containing(data_dir, canary.encode()) == []
    assert files_containing(data_dir, b"I like tea") == []
    # Nor in the keyword index (whose terms are stored prefix-compressed, so also asked directly).
    terms = keyword_terms_in(data_dir / "memory_vectors.db")
    assert canary not in terms
    assert "tea" not in terms
    assert "coffee" in terms  # bob's
    # Bob is untouched.
    bob = await core.store.resolve_account(other)
    assert [i.text for i in (await core.memory.page(bob.id, offset=0, limit=10, epoch=0)).items] == [
        "bob likes coffee"
    ]
    assert files_containing(data_dir, b"bob likes coffee")


async def test_forget_all_needs_confirmation(core: Core) -> None:
    identity = IdentityKey(Platform.CONSOLE, "w1", "carol")
    account = await core.store.resolve_account(identity)
    await say(core, account.id, "my bike is red")
    result = await core.commands.run(identity, Command(CommandName.FORGET_ALL))
    assert result.needs_confirmation is True
    assert (await core.memory.page(account.id, offset=0, limit=5, epoch=0)).total == 1


async def test_writes_queued_before_forget_all_are_dropped(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.delay_extract = 0.3
    identity = IdentityKey(Platform.CONSOLE, "w1", "dave")
    for i in range(3):
        await core.orchestrator.handle(message(f"fact {i} about dave", user="dave", dm=True))
    await core.commands.run(identity, Command(CommandName.FORGET_ALL, confirmed=True))
    assert await core.writer.flush(10)
    account = await core.store.resolve_account(identity)
    # Writes in flight when the erasure ran finished before it; queued ones were dropped.
    assert (await core.memory.page(account.id, offset=0, limit=10, epoch=0)).total == 0
    assert fake_openai.count("extract") < 3


async def test_cannot_forget_someone_elses_memory(core: Core) -> None:
    alice = uuid.uuid4()
    bob = uuid.uuid4()
    await say(core, alice, "alice has a boat")
    alice_item = (await core.memory.page(alice, offset=0, limit=5, epoch=0)).items[0]
    with pytest.raises(NotFoundError):
        await core.memory.forget(bob, alice_item.id)
    with pytest.raises(NotFoundError):
        await core.memory.forget(bob, "not-a-real-id")
    assert (await core.memory.page(alice, offset=0, limit=5, epoch=0)).total == 1


async def test_wildcard_user_id_matches_nobody(core: Core, tmp_path: Path) -> None:
    alice = uuid.uuid4()
    await say(core, alice, "alice plays chess")
    store = SQLiteVectorStore(
        collection_name="mnemo",
        path=str(core.settings.data_dir / "memory_vectors.db"),
        embedding_model_dims=64,
    )
    try:
        assert store.list(filters={"user_id": "*"})[0] == []
        assert store.search("chess", [0.1] * 64, filters={"user_id": "*"}) == []
        with pytest.raises(ValueError, match="scoped to one user_id"):
            store.list(filters={})
    finally:
        store.close()


async def test_recall_is_scoped_and_private_filtered(core: Core) -> None:
    alice = uuid.uuid4()
    bob = uuid.uuid4()
    await say(core, alice, "alice lives in Porto", PUBLIC)
    await say(core, alice, "alice earns 70000", PRIVATE)
    await say(core, bob, "bob lives in Porto too", PUBLIC)
    public = await core.memory.recall(
        alice, "where does alice live and earn", include_private=False, limit=10, epoch=0
    )
    private = await core.memory.recall(
        alice, "where does alice live and earn", include_private=True, limit=10, epoch=0
    )
    assert {m.text for m in public} == {"alice lives in Porto"}
    assert {m.text for m in private} == {"alice lives in Porto", "alice earns 70000"}


async def test_list_pages_newest_first_and_search(core: Core) -> None:
    account = uuid.uuid4()
    for i in range(12):
        await say(core, account, f"fact number {i} is about topic{i}")
    first = await core.memory.page(account, offset=0, limit=10, epoch=0)
    second = await core.memory.page(account, offset=10, limit=10, epoch=0)
    assert first.total == 12
    assert first.has_more is True
    assert second.has_more is False
    assert len(second.items) == 2
    assert first.items[0].text == "fact number 11 is about topic11"
    found = await core.memory.page(account, offset=0, limit=3, query="topic7", epoch=0)
    assert found.items[0].text == "fact number 7 is about topic7"


async def test_export_is_json_of_only_this_account(core: Core) -> None:
    identity = IdentityKey(Platform.CONSOLE, "w1", "erin")
    account = await core.store.resolve_account(identity)
    await say(core, account.id, "erin collects stamps", PUBLIC)
    await say(core, uuid.uuid4(), "someone else entirely")
    result = await core.commands.run(identity, Command(CommandName.EXPORT))
    assert result.export_json is not None
    document = json.loads(result.export_json)
    assert document["account_id"] == str(account.id)
    assert [m["text"] for m in document["memories"]] == ["erin collects stamps"]
    assert document["memories"][0]["private"] is False


async def test_memory_backend_errors_are_ours(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(500, times=10, endpoint="embeddings")
    with pytest.raises(MemoryBackendError):
        await core.memory.recall(uuid.uuid4(), "anything", include_private=True, limit=3, epoch=0)


def test_mem0_clients_use_our_limits_and_ignore_openrouter(core: Core) -> None:
    inner = core.memory._memory  # type: ignore[attr-defined]
    assert inner.llm.client.timeout == core.settings.llm_timeout_seconds
    assert inner.llm.client.max_retries == core.settings.llm_max_retries
    assert str(inner.llm.client.base_url).rstrip("/") == core.settings.openai_base_url
    assert inner.embedding_model.client.max_retries == core.settings.llm_max_retries


def test_mem0_telemetry_is_off_and_files_stay_in_data_dir(core: Core) -> None:
    from mem0.memory import telemetry

    assert telemetry.MEM0_TELEMETRY is False
    assert "posthog" not in {t.name for t in __import__("threading").enumerate()}
    assert os.environ["MEM0_TELEMETRY"] == "False"
    assert "mem0" in sys.modules


async def test_link_move_collapses_duplicates(core: Core) -> None:
    source = uuid.uuid4()
    target = uuid.uuid4()
    await say(core, source, "likes green tea")
    await say(core, source, "works at a bakery")
    await say(core, target, "likes green tea")
    moved = await core.memory.move(source, target, epoch=0)
    assert len(moved) == 1
    texts = sorted(i.text for i in (await core.memory.page(target, offset=0, limit=10, epoch=0)).items)
    assert texts == ["likes green tea", "works at a bakery"]
    assert (await core.memory.page(source, offset=0, limit=10, epoch=0)).total == 0


async def test_recall_does_not_wait_for_memory_writes(core: Core, fake_openai: FakeOpenAI) -> None:
    # Four extractions (mem0's default pool is four threads) parked in the model: a recall must not
    # queue behind them, or every reply waits for other people's memory writes.
    gates = [fake_openai.hold("extract") for _ in range(4)]
    account = uuid.uuid4()
    writes = [asyncio.create_task(say(core, uuid.uuid4(), f"busy writer {i}")) for i in range(4)]
    try:
        for gate in gates:
            await gate.arrived()
        found = await asyncio.wait_for(
            core.memory.recall(account, "anything at all", include_private=True, limit=3, epoch=0),
            timeout=10,
        )
        assert found == []
    finally:
        for gate in gates:
            gate.release()
        await asyncio.gather(*writes)


async def test_many_recalls_wait_on_the_model_at_once(core: Core, fake_openai: FakeOpenAI) -> None:
    # A burst of replies: each recall waits on its query's embedding; they must overlap, not take
    # turns on a few threads (bench/mention_burst.py).
    account = uuid.uuid4()
    await say(core, account, "the burst test remembers tea", PUBLIC)
    gates = [fake_openai.hold("embeddings") for _ in range(12)]
    recalls = [
        asyncio.create_task(
            core.memory.recall(account, f"tea question {i}", include_private=False, limit=3, epoch=0)
        )
        for i in range(12)
    ]
    try:
        for gate in gates:  # all twelve are with the model at the same moment
            await gate.arrived()
    finally:
        for gate in gates:
            gate.release()
    for found in await asyncio.gather(*recalls):
        assert [m.text for m in found] == ["the burst test remembers tea"]
