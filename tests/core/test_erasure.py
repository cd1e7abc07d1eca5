"""Every copy of a person's words (core.erasure.TEXT_COPIES) is reached by the removals that must
reach it. Each listed place has a probe here; a place added to the list without one fails the first
test. (What runs at the same time as a removal: tests/core/test_erasure_races.py.)"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.scheduler import build_jobs
from bot.wiring import Core
from core.commands import Command, CommandName
from core.erasure import TEXT_COPIES, Removal
from core.jobs import PURGE_OLD_MESSAGES
from core.models import IdentityKey, MemoryOrigin, Platform, Rating
from tests.core.helpers import message
from tests.fakes.openai_server import FakeOpenAI

ALICE = IdentityKey(Platform.CONSOLE, "w1", "alice")
Probe = Callable[[Core, str], bool]


def rows(path: Path, sql: str, needle: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql, (f"%{needle}%",)).fetchone()[0])
    finally:
        conn.close()


def in_messages(core: Core, needle: str) -> bool:
    return (
        rows(core.settings.data_dir / "mnemo.db", "select count(*) from messages where text like ?", needle)
        > 0
    )


def in_pending_writes(core: Core, needle: str) -> bool:
    sql = "select count(*) from pending_memory_writes where messages like ?"
    return rows(core.settings.data_dir / "mnemo.db", sql, needle) > 0


def in_answer_feedback(core: Core, needle: str) -> bool:
    sql = "select count(*) from answer_feedback where answer like ?"
    return rows(core.settings.data_dir / "mnemo.db", sql, needle) > 0


def in_memory_vectors(core: Core, needle: str) -> bool:
    sql = "select count(*) from vectors where collection = 'mnemo' and payload like ?"
    return rows(core.settings.data_dir / "memory_vectors.db", sql, needle) > 0


def in_keyword_index(core: Core, needle: str) -> bool:
    """Terms of the FTS5 index (lower-cased), deleted entries included until they are merged away."""
    # The index holds words: a needle of several ("canary-accounts") is there when each word is.
    words = re.findall(r"\w+", needle.lower())
    conn = sqlite3.connect(core.settings.data_dir / "memory_vectors.db")
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, memory_terms, row)")
        sql = "select count(*) from temp.terms where term like ?"
        return bool(words) and all(int(conn.execute(sql, (f"%{word}%",)).fetchone()[0]) > 0 for word in words)
    finally:
        conn.close()


def in_entities(core: Core, needle: str) -> bool:
    sql = "select count(*) from vectors where collection <> 'mnemo' and payload like ?"
    return rows(core.settings.data_dir / "memory_vectors.db", sql, needle) > 0


def in_mem0_history(core: Core, needle: str) -> bool:
    # mem0 keeps its history in a database of its own; here there must be none on disk at all.
    return any(core.settings.data_dir.rglob("*history*"))


def in_any_file(core: Core, needle: str) -> bool:
    return any(p.is_file() and needle.encode() in p.read_bytes() for p in core.settings.data_dir.rglob("*"))


PROBES: dict[str, Probe] = {
    "store.messages": in_messages,
    "store.pending_memory_writes": in_pending_writes,
    "store.answer_feedback": in_answer_feedback,
    "memory.vectors": in_memory_vectors,
    "memory.keywords": in_keyword_index,
    "memory.entities": in_entities,
    "mem0.history": in_mem0_history,
}
# Places that hold nothing at rest, and where their test is.
ELSEWHERE = {
    "writer.queue": "in memory only, while a write runs: tests/core/test_erasure_races.py",
    "http.idempotency": "in the web process's memory: tests/adapters/http/test_chat.py",
    "intake.deliveries": "withdrawn after an erasure: tests/core/test_orchestrator.py (erased_at); "
    "payload dropped once done: tests/core/intake/test_contract.py",
    "store.token_usage": "ids and numbers, no text: tests/core/storage/contract/test_usage_contract.py",
    "exports": "never stored: built per request",
    "logs": "checked by test_no_removal_logs_the_text below",
}


def test_every_copy_has_a_probe() -> None:
    assert {copy.place for copy in TEXT_COPIES} == set(PROBES) | set(ELSEWHERE)


async def plant(core: Core, fake: FakeOpenAI, secret: str) -> uuid.UUID:
    """The secret in a stored message, a memory and a pending memory write."""
    reply = await core.orchestrator.handle(message(f"my code is {secret}", dm=True, channel="dm-1"))
    assert reply is not None
    assert await core.writer.flush(10)
    account = await core.store.resolve_account(ALICE)
    kept = await core.store.add_pending_write(
        account_id=account.id,
        messages=[{"role": "user", "content": f"remember {secret}"}],
        origin=MemoryOrigin(Platform.CONSOLE, "dm-1", True),
        now=core.clock(),
        epoch=account.epoch,
        error="down",
    )
    assert kept is not None
    await core.assistant.record_feedback(ALICE, answer=f"console:w1:dm-1:{secret}", rating=Rating.GOOD)
    places = ("store.messages", "store.pending_memory_writes", "store.answer_feedback", "memory.vectors")
    for place in (*places, "memory.keywords"):
        assert PROBES[place](core, secret), place  # the probes do see it when it is there
    return account.id


def reached(removal: Removal) -> list[str]:
    return [copy.place for copy in TEXT_COPIES if removal in copy.removed_by and copy.place in PROBES]


async def test_forget_reaches_its_copies(core: Core, fake_openai: FakeOpenAI) -> None:
    secret = f"canary{uuid.uuid4().hex[:8]}"
    account = await plant(core, fake_openai, secret)
    [item] = [m for m in await core.memory.export(account, epoch=0) if secret in m.text]

    await core.commands.run(ALICE, Command(CommandName.FORGET, argument=item.id))

    assert reached(Removal.FORGET) == ["memory.vectors", "memory.keywords", "memory.entities"]
    for place in reached(Removal.FORGET):
        assert not PROBES[place](core, secret), place
    vector_files = list(core.settings.data_dir.glob("memory_vectors.db*"))
    assert vector_files
    assert all(secret.encode() not in p.read_bytes() for p in vector_files)
    assert in_messages(core, secret)  # forgetting a memory keeps the conversation, by design


async def test_erase_reaches_every_copy(core: Core, fake_openai: FakeOpenAI) -> None:
    secret = f"canary{uuid.uuid4().hex[:8]}"
    await plant(core, fake_openai, secret)

    await core.commands.run(ALICE, Command(CommandName.FORGET_ALL, confirmed=True))

    assert set(reached(Removal.ERASE)) == set(PROBES) - {"mem0.history"}
    for place, probe in PROBES.items():
        assert not probe(core, secret), place
    assert not in_any_file(core, secret)


async def test_deleting_a_conversation_reaches_its_messages(core: Core, fake_openai: FakeOpenAI) -> None:
    secret = f"canary{uuid.uuid4().hex[:8]}"
    await plant(core, fake_openai, secret)
    conversation = message("x", dm=True, channel="dm-1").conversation

    assert await core.removals.delete_conversation(conversation) == 1

    assert reached(Removal.DELETE_CONVERSATION) == ["store.messages"]
    assert not in_messages(core, secret)
    assert in_memory_vectors(core, secret)  # what was learned stays until forgotten, by design
    assert in_pending_writes(core, secret)  # ...and so does what is still on its way to memory


async def test_retention_reaches_old_messages(core: Core, fake_openai: FakeOpenAI) -> None:
    secret = f"canary{uuid.uuid4().hex[:8]}"
    await plant(core, fake_openai, secret)
    assert await core.removals.purge_expired_messages(before=core.clock() + timedelta(seconds=1)) == 2
    assert reached(Removal.RETENTION) == ["store.messages"]
    assert not in_messages(core, secret)


async def test_no_removal_logs_the_text(
    core: Core, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = f"canary{uuid.uuid4().hex[:8]}"
    account = await plant(core, fake_openai, secret)
    [item] = [m for m in await core.memory.export(account, epoch=0) if secret in m.text]
    await core.commands.run(ALICE, Command(CommandName.FORGET, argument=item.id))
    await build_jobs(core).run(PURGE_OLD_MESSAGES)
    await core.commands.run(ALICE, Command(CommandName.FORGET_ALL, confirmed=True))
    ours = [r for r in caplog.records if r.name.split(".")[0] in {"core", "bot", "adapters"}]
    assert ours  # the removals do log
    assert all(secret not in r.getMessage() and secret not in json.dumps(r.args, default=str) for r in ours)
