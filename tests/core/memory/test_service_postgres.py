"""The whole bot with SUPABASE_DB_URL: mem0's vectors in PostgreSQL, nothing of a person's memories in
DATA_DIR, the same privacy and erasure guarantees as the embedded store, and two machines sharing
one memory."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from bot.scheduler import build_jobs
from bot.wiring import Core, build_core, mem0_options
from config import Settings
from core.commands import Command, CommandName
from core.errors import MemoryBackendError
from core.jobs import MEMORY_HOUSEKEEPING, PURGE_MEMORY_VECTORS
from core.memory.vectors.postgres import PostgresVectorStore
from core.models import IdentityKey, MemoryOrigin, Platform, ReplyKind
from tests.conftest import make_settings
from tests.core.helpers import message, prompt_text
from tests.core.memory import pgdb
from tests.core.memory.pgdb import PASSWORD, free_port
from tests.fakes.openai_server import FakeOpenAI, replacing
from tests.fakes.postgrest import PostgrestShim

ROOT = Path(__file__).resolve().parents[3]
PRIVATE = MemoryOrigin(Platform.CONSOLE, "dm", True)


async def purge_as_scheduled(core: Core, *, runs: int = 20) -> None:
    """The purge job, as its schedule runs it: it rewrote (something was deleted), and runs again
    while it says a transaction open during its rewrite (this core's intake polling, autovacuum)
    could still see deleted rows, which VACUUM FULL then keeps; until a run finds nothing left."""
    jobs = build_jobs(core)
    assert (await jobs.run(PURGE_MEMORY_VECTORS)).counts == {"rewritten": 1}
    for _ in range(runs):
        if (await jobs.run(PURGE_MEMORY_VECTORS)).counts == {"rewritten": 0}:
            return
    raise AssertionError(f"the purge still had rows to rewrite after {runs} runs")


def pg_settings(data_dir: Path, fake: FakeOpenAI, db: str, **overrides: Any) -> Settings:
    url = pgdb.url(db, password=PASSWORD, application_name=f"mnemo-{data_dir.parent.name[:20]}")
    return make_settings(data_dir, fake, supabase_db_url=url, **overrides)


@pytest.fixture
async def pg_core(tmp_path: Path, fake_openai: FakeOpenAI, vec_db: str) -> AsyncIterator[Core]:
    async with build_core(pg_settings(tmp_path / "data", fake_openai, vec_db)) as core:
        yield core


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def remembered(core: Core, text: str, **kwargs: Any) -> None:
    reply = await core.orchestrator.handle(message(text, **kwargs))
    assert reply is not None
    assert reply.kind is ReplyKind.ANSWER
    assert await core.writer.flush(10)


def vector_rows(db: str, account_id: uuid.UUID) -> int:
    rows = pgdb.query(db, "select count(*) from mnemo.memory_vectors where user_id = %s", (str(account_id),))
    return int(rows[0][0])


async def test_the_orchestrator_remembers_and_recalls_from_postgres(
    pg_core: Core, fake_openai: FakeOpenAI, vec_db: str
) -> None:
    await remembered(pg_core, "my favourite colour is teal", dm=True)
    await pg_core.orchestrator.handle(message("which colour do I like?", dm=True, channel="dm2"))

    assert "- my favourite colour is teal" in prompt_text(fake_openai.chat_prompts()[-1])
    account = await pg_core.store.resolve_account(IdentityKey(Platform.CONSOLE, "w1", "alice"))
    assert vector_rows(vec_db, account.id) >= 1
    assert isinstance(pg_core.memory._store, PostgresVectorStore)  # type: ignore[attr-defined]
    # Nothing of mem0's in DATA_DIR: no vector file, and its history database lives in memory.
    data_dir = pg_core.settings.data_dir
    assert not (data_dir / "memory_vectors.db").exists()
    assert not (data_dir / "memory_history.db").exists()
    assert pg_core.memory._memory.config.history_db_path == ":memory:"  # type: ignore[attr-defined]
    holding = files_containing(data_dir, b"colour is teal")
    assert holding  # the chat log (the SQLite store: SUPABASE_URL is not set here), and nothing else
    assert {p.name for p in holding} <= {"mnemo.db", "mnemo.db-wal"}


async def test_two_users_in_one_channel_never_see_each_others_memories(
    pg_core: Core, fake_openai: FakeOpenAI
) -> None:
    await remembered(pg_core, "my locker code is 4417", user="alice", thread="t-alice")
    await remembered(pg_core, "my cat is named Pixel", user="bob", thread="t-bob")
    before = len(fake_openai.chat_prompts())
    await pg_core.orchestrator.handle(message("what is my locker code and my cat", user="bob", thread="b2"))
    await pg_core.orchestrator.handle(message("what is my locker code and my cat", user="alice", thread="a2"))
    bob_prompt, alice_prompt = (prompt_text(p) for p in fake_openai.chat_prompts()[before:])
    assert "Pixel" in bob_prompt
    assert "4417" not in bob_prompt
    assert "4417" in alice_prompt
    assert "Pixel" not in alice_prompt


async def test_dm_memories_stay_out_of_public_channels(pg_core: Core, fake_openai: FakeOpenAI) -> None:
    await remembered(pg_core, "my salary is 91000 euros", dm=True, channel="dm-alice")
    await remembered(pg_core, "my team is platform infra", channel="general", thread="x1")
    await pg_core.orchestrator.handle(message("tell me my salary and team", channel="general", thread="x2"))
    public_prompt = prompt_text(fake_openai.chat_prompts()[-1])
    assert "platform infra" in public_prompt
    assert "91000" not in public_prompt
    await pg_core.orchestrator.handle(message("tell me my salary", dm=True, channel="dm-alice"))
    assert "91000" in prompt_text(fake_openai.chat_prompts()[-1])


async def test_forget_one_then_all_leaves_no_row_and_no_text_in_postgres_or_data_dir(
    pg_core: Core, vec_db: str
) -> None:
    canary = "zebracanary8812"
    alice = IdentityKey(Platform.CONSOLE, "w1", "alice")
    for i, text in enumerate([f"my secret word is {canary}", f"remember {canary} again", "I like tea"]):
        await remembered(pg_core, text, user="alice", dm=True, message_id=f"a{i}")
    await remembered(pg_core, "bob likes coffee", user="bob", dm=True, message_id="b1")
    account = await pg_core.store.resolve_account(alice)
    page = await pg_core.memory.page(account.id, offset=0, limit=10, epoch=0)
    assert page.total == 3
    assert vector_rows(vec_db, account.id) == 3
    assert pgdb.files_holding(vec_db, canary.encode()), "control: the canary is in the table's files"
    assert files_containing(pg_core.settings.data_dir, canary.encode()), "control: and in the chat log"

    tea = next(item for item in page.items if item.text == "I like tea")
    await pg_core.commands.run(alice, Command(CommandName.FORGET, argument=tea.id))
    assert vector_rows(vec_db, account.id) == 2  # gone from every query at once
    assert pgdb.files_holding(vec_db, b"I like tea"), "the files wait for the scheduled purge"
    await purge_as_scheduled(pg_core)
    assert pgdb.files_holding(vec_db, b"I like tea") == []

    result = await pg_core.commands.run(alice, Command(CommandName.FORGET_ALL, confirmed=True))

    assert "erased" in result.text
    assert vector_rows(vec_db, account.id) == 0
    await purge_as_scheduled(pg_core)
    assert pgdb.files_holding(vec_db, canary.encode()) == []
    assert files_containing(pg_core.settings.data_dir, canary.encode()) == []
    # mem0's history store keeps nothing (core.memory), so there is no copy there to purge.
    bob = await pg_core.store.resolve_account(IdentityKey(Platform.CONSOLE, "w1", "bob"))
    assert [i.text for i in (await pg_core.memory.page(bob.id, offset=0, limit=10, epoch=0)).items] == [
        "bob likes coffee"
    ]
    assert pgdb.files_holding(vec_db, b"bob likes coffee")


async def test_an_update_replaces_the_older_memory_in_postgres_and_the_purge_takes_its_text(
    pg_core: Core, fake_openai: FakeOpenAI, vec_db: str
) -> None:
    older, newer = "I live in Paris zebrajudge41", "I live in Berlin zebrajudge42"
    private = "I live in Lyon zebrajudge43"
    fake_openai.judge_with(replacing({(newer, older), (newer, private)}))
    await remembered(pg_core, private, dm=True)
    await remembered(pg_core, older, channel="general")
    await remembered(pg_core, newer, channel="general")  # a public write, judged against both
    account = await pg_core.store.resolve_account(IdentityKey(Platform.CONSOLE, "w1", "alice"))
    texts = sorted(m.text for m in await pg_core.memory.export(account.id, epoch=0))
    assert texts == [newer]
    assert vector_rows(vec_db, account.id) == 1
    shown = {text for request in fake_openai.judge_requests() for text in request.older.values()}
    assert shown == {older, private}
    await purge_as_scheduled(pg_core)
    assert pgdb.files_holding(vec_db, b"zebrajudge41") == []
    assert pgdb.files_holding(vec_db, b"zebrajudge43") == []


async def test_housekeeping_merges_duplicates_in_postgres(
    tmp_path: Path, fake_openai: FakeOpenAI, vec_db: str
) -> None:
    settings = pg_settings(tmp_path / "data", fake_openai, vec_db, memory_merge_similarity=0.7)
    async with build_core(settings) as core:
        alice = (await core.store.resolve_account(IdentityKey(Platform.CONSOLE, "w1", "alice"))).id
        bob = (await core.store.resolve_account(IdentityKey(Platform.CONSOLE, "w1", "bob"))).id
        for who in (alice, bob):
            for text in ("I live in Paris", "I like green tea", "i like green tea", "I live in Berlin"):
                await core.memory.remember(
                    who,
                    [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}],
                    origin=PRIVATE,
                    epoch=0,
                )
        assert sorted(await core.memory.account_ids()) == sorted([alice, bob])
        await core.store.set_memory_paused(bob, True)

        result = await build_jobs(core).run(MEMORY_HOUSEKEEPING)

        assert result.counts == {"accounts": 1, "merged": 2, "skipped_paused": 1, "failed": 0}
        # The newest of the repeat (both private) and of the superseded fact survive.
        assert sorted(m.text for m in await core.memory.export(alice, epoch=0)) == [
            "I live in Berlin",
            "i like green tea",
        ]
        assert len(await core.memory.export(bob, epoch=0)) == 4  # paused: untouched
        assert vector_rows(vec_db, alice) == 2


async def test_linking_moves_memories_between_accounts_in_postgres(pg_core: Core, vec_db: str) -> None:
    source, target = uuid.uuid4(), uuid.uuid4()
    for who, text in (
        (source, "likes green tea"),
        (source, "works at a bakery"),
        (target, "likes green tea"),
    ):
        await pg_core.memory.remember(
            who,
            [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}],
            origin=PRIVATE,
            epoch=0,
        )
    assert len(await pg_core.memory.move(source, target, epoch=0)) == 1
    assert sorted(i.text for i in await pg_core.memory.export(target, epoch=0)) == [
        "likes green tea",
        "works at a bakery",
    ]
    assert vector_rows(vec_db, source) == 0


async def test_while_postgres_is_down_the_bot_answers_without_memory_then_recovers(
    pg_core: Core, fake_openai: FakeOpenAI, vec_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    await remembered(pg_core, "my favourite colour is teal", dm=True)
    fake_openai.state.reply = lambda messages: "still here"
    pgdb.query("postgres", f'alter database "{vec_db}" allow_connections false')
    try:
        pgdb.query(
            "postgres", "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (vec_db,)
        )
        with caplog.at_level(logging.WARNING):
            reply = await pg_core.orchestrator.handle(message("which colour do I like?", dm=True))
            assert await pg_core.writer.flush(10)  # its memory write fails now, during the outage
        with pytest.raises(MemoryBackendError):
            await pg_core.memory.ping()
    finally:
        pgdb.query("postgres", f'alter database "{vec_db}" allow_connections true')

    assert reply is not None
    assert reply.kind is ReplyKind.ANSWER
    assert reply.text == "still here"
    assert "recall failed" in caplog.text
    assert PASSWORD not in caplog.text
    pending = await pg_core.store.due_pending_writes(now=datetime.now(UTC) + timedelta(hours=1), limit=10)
    assert [w.messages[0]["content"] for w in pending] == ["which colour do I like?"]  # kept for retry
    await pg_core.memory.ping()  # back
    fake_openai.state.reply = None
    await pg_core.orchestrator.handle(message("which colour do I like?", dm=True, channel="dm3"))
    assert "- my favourite colour is teal" in prompt_text(fake_openai.chat_prompts()[-1])


async def test_two_machines_sharing_supabase_see_the_same_memories(
    tmp_path: Path, fake_openai: FakeOpenAI, postgrest_shim: PostgrestShim, supabase_dsn: str
) -> None:
    """The deployed shape: accounts and chats through the Data API (the shim), vectors through
    SUPABASE_DB_URL, into the same database; each machine has its own DATA_DIR."""
    db = str(conninfo_to_dict(supabase_dsn)["dbname"])
    canary = "okapicanary3141"

    def machine(name: str) -> Settings:
        return make_settings(
            tmp_path / name / "data",
            fake_openai,
            supabase_url=postgrest_shim.url,
            supabase_service_role_key=postgrest_shim.key(),
            supabase_db_url=pgdb.url(db, password=PASSWORD, application_name=f"mnemo-{name}"),
        )

    alice = IdentityKey(Platform.CONSOLE, "w1", "alice")
    async with build_core(machine("a")) as first, build_core(machine("b")) as second:
        await remembered(first, f"my bike lock code is {canary}", dm=True)
        await second.orchestrator.handle(message("what is my bike lock code?", dm=True, channel="dm-b"))
        assert f"- my bike lock code is {canary}" in prompt_text(fake_openai.chat_prompts()[-1])

        result = await second.commands.run(alice, Command(CommandName.FORGET_ALL, confirmed=True))
        assert "erased" in result.text

        account = await first.store.resolve_account(alice)
        assert (await first.memory.page(account.id, offset=0, limit=10, epoch=0)).total == 0
        assert vector_rows(db, account.id) == 0
        # The scheduled purge, run by the first machine, rewrites the files for both.
        await purge_as_scheduled(first)
        assert pgdb.files_holding(db, canary.encode()) == []
        for name in ("a", "b"):
            assert files_containing(tmp_path / name / "data", canary.encode()) == []


def test_mem0_options_carry_the_url_but_never_show_it(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = pg_settings(tmp_path / "data", fake_openai, "mnemo_vec_x")
    options = mem0_options(settings)
    assert options.vector_db_url is not None
    assert PASSWORD in options.vector_db_url
    assert PASSWORD not in repr(options)
    assert PASSWORD not in repr(settings)
    assert mem0_options(make_settings(tmp_path / "d2", fake_openai)).vector_db_url is None


@pytest.mark.parametrize("problem", ["unreachable", "not a url"])
def test_a_bad_supabase_db_url_stops_start_up_with_one_line(tmp_path: Path, problem: str) -> None:
    if problem == "unreachable":
        url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/postgres"
        expected = "Configuration error: SUPABASE_DB_URL: cannot use the database at 127.0.0.1:"
    else:
        url = f"postgres://postgres:{PASSWORD}@127.0.0.1:5432/postgres?port=x=y"
        expected = "Configuration error: SUPABASE_DB_URL is not a valid Postgres connection string"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "MEM0_TELEMETRY": "False",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # never reached
        "DATA_DIR": str(tmp_path / "data"),
        "SUPABASE_DB_URL": url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected), lines[0]
    assert PASSWORD not in result.stderr
    assert result.stdout == ""
