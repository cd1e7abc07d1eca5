"""Erasure and pause are barriers: nothing begun before them lands after them.

Each test puts "forget all" (or pause) at one point of a reply's life, deterministically: the fake
model holds a request (`FakeOpenAI.hold`) until the test releases it, and the test acts while it is
held. After each: the canary is in no file under any DATA_DIR, in no row or table file of Postgres,
in no memory, and in no later prompt. Every test runs on the embedded store and on Supabase +
Postgres vectors, and with the erasure coming from the same process or from a second one (a second
core on the same data: its own writer, its own mem0, no shared memory with the first).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from bot.scheduler import build_jobs
from bot.wiring import Core, build_core
from config import Settings
from core.commands import Command, CommandName
from core.jobs import PURGE_MEMORY_VECTORS, RETRY_MEMORY_WRITES
from core.models import IdentityKey, Platform, ReplyKind
from tests.conftest import make_settings
from tests.core.helpers import message, prompt_text
from tests.core.memory import pgdb
from tests.core.memory.pgdb import PASSWORD
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.postgrest import PostgrestShim

ALICE = IdentityKey(Platform.CONSOLE, "w1", "alice")
BOB = IdentityKey(Platform.DISCORD, "", "bob-42")
_canaries = itertools.count(1)


@dataclass
class World:
    """One or two bot processes on the same data, and how to look into every place text can be."""

    first: Core
    second: Core
    data_dirs: list[Path]
    vector_db: str | None  # the Postgres database name when vectors live there

    def files_with(self, needle: str) -> list[str]:
        found = [
            str(p)
            for root in self.data_dirs
            for p in root.rglob("*")
            if p.is_file() and needle.encode() in p.read_bytes()
        ]
        if self.vector_db is not None:
            found += pgdb.files_holding(self.vector_db, needle.encode())
            rows = pgdb.query(
                self.vector_db,
                "select (select count(*) from mnemo.memory_texts where payload::text like %s)"
                " + (select count(*) from mnemo.messages where text like %s)"
                " + (select count(*) from mnemo.pending_memory_writes where messages::text like %s)",
                (f"%{needle}%",) * 3,
            )
            found += [f"{rows[0][0]} row(s) in Postgres"] if rows[0][0] else []
        return found


@pytest.fixture(params=["sqlite", "supabase+postgres"])
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[World]:
    settings: list[Settings]
    vector_db: str | None = None
    if request.param == "sqlite":
        shared = make_settings(tmp_path / "data", fake_openai)
        settings = [shared, shared]
    else:
        shim: PostgrestShim = request.getfixturevalue("postgrest_shim")
        dsn: str = request.getfixturevalue("supabase_dsn")
        vector_db = str(conninfo_to_dict(dsn)["dbname"])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("truncate mnemo.memory_vectors cascade")  # and mnemo.memory_texts
        settings = [
            make_settings(
                tmp_path / name / "data",
                fake_openai,
                supabase_url=shim.url,
                supabase_service_role_key=shim.key(),
                supabase_db_url=pgdb.url(vector_db, password=PASSWORD, application_name=f"mnemo-{name}"),
            )
            for name in ("a", "b")
        ]
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(build_core(settings[0]))
        second = await stack.enter_async_context(build_core(settings[1]))
        yield World(first, second, sorted({s.data_dir for s in settings}), vector_db)


def canary() -> str:
    return f"okapicanary{next(_canaries)}x{uuid.uuid4().hex[:6]}"


async def forget_all(core: Core, who: IdentityKey = ALICE) -> str:
    result = await core.commands.run(who, Command(CommandName.FORGET_ALL, confirmed=True))
    assert "erased" in result.text
    return result.text


async def pause(core: Core, who: IdentityKey = ALICE) -> None:
    await core.commands.run(who, Command(CommandName.PAUSE))


async def until(condition: Callable[[], Awaitable[bool]], *, timeout: float = 10.0) -> None:
    """Wait for a state the test cannot get an event for (another task's store write)."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.01)


async def no_open_snapshot(db: str) -> bool:
    return pgdb.query(
        db,
        "select count(*) from pg_stat_activity where datname = current_database() "
        "and pid <> pg_backend_pid() and backend_xmin is not null",
    ) == [(0,)]


async def epoch_moved(core: Core, who: IdentityKey = ALICE) -> bool:
    account = await core.store.resolve_account(who)
    return (await core.store.get_settings(account.id)).epoch > 0


async def settle(world: World) -> None:
    for core in (world.first, world.second):
        assert await core.writer.flush(10)


async def assert_gone(world: World, fake: FakeOpenAI, secret: str, who: IdentityKey = ALICE) -> None:
    """In no row or memory at once; in no file once the scheduled purge ran (Postgres vectors: the
    job rewrites the table, here with no snapshot open, since every write has settled); and in no
    later prompt (of either process)."""
    await settle(world)
    if world.vector_db is not None:
        assert pgdb.query(
            world.vector_db,
            "select count(*) from mnemo.memory_texts where payload::text like %s",
            (f"%{secret}%",),
        ) == [(0,)]
        # VACUUM FULL keeps rows an open snapshot can see: purge when none is open (an event the
        # test cannot get otherwise; every write has settled, so it comes at once), and again, as
        # the schedule would, while the purge says one opened meanwhile (an intake's poll).
        await until(lambda: no_open_snapshot(world.vector_db or ""))
        jobs = build_jobs(world.first)
        for _ in range(20):
            if (await jobs.run(PURGE_MEMORY_VECTORS)).counts == {"rewritten": 0}:
                break
    assert world.files_with(secret) == []
    account = await world.first.store.resolve_account(who)
    epoch = (await world.first.store.get_settings(account.id)).epoch
    assert all(secret not in m.text for m in await world.first.memory.export(account.id, epoch=epoch))
    before = len(fake.chat_prompts())
    for core in (world.first, world.second):
        reply = await core.orchestrator.handle(
            message(f"what is my secret? ({uuid.uuid4().hex})", user=who.user, dm=True, channel="dm-later")
        )
        assert reply is not None
        assert reply.kind is ReplyKind.ANSWER
    later = fake.chat_prompts()[before:]
    assert len(later) == 2
    assert all(secret not in prompt_text(prompt) for prompt in later)


async def assert_not_remembered(world: World, fake: FakeOpenAI, secret: str) -> None:
    """Pause: the exchange stays a stored message, but no memory holds it, in any process."""
    await settle(world)
    account = await world.first.store.resolve_account(ALICE)
    for core in (world.first, world.second):
        assert all(secret not in m.text for m in await core.memory.export(account.id, epoch=account.epoch))
    if world.vector_db is not None:
        rows = pgdb.query(
            world.vector_db,
            "select count(*) from mnemo.memory_texts where payload::text like %s",
            (f"%{secret}%",),
        )
        assert rows[0][0] == 0
    before = len(fake.chat_prompts())
    await world.second.orchestrator.handle(message("what is my secret?", dm=True, channel="dm-elsewhere"))
    [later] = fake.chat_prompts()[before:]
    assert secret not in prompt_text(later)


def eraser(world: World, who_erases: str) -> Core:
    return world.first if who_erases == "same process" else world.second


BY_WHOM = pytest.mark.parametrize("who_erases", ["same process", "second process"])


# -- forget all at each point of a reply's life ----------------------------------------------------


@BY_WHOM
async def test_forget_all_before_recall(world: World, fake_openai: FakeOpenAI, who_erases: str) -> None:
    secret = canary()
    told = await world.first.orchestrator.handle(message(f"my code is {secret}", dm=True))
    assert told is not None
    await settle(world)
    gate = fake_openai.hold("embeddings")  # the first embedding of a reply is its recall query
    reply_task = asyncio.create_task(world.first.orchestrator.handle(message("what is my code?", dm=True)))
    await gate.arrived()

    await forget_all(eraser(world, who_erases))
    gate.release()

    reply = await reply_task
    assert reply is not None
    assert reply.kind is ReplyKind.WITHDRAWN  # built from what was erased: not shown
    assert secret not in reply.text
    await assert_gone(world, fake_openai, secret)


@BY_WHOM
async def test_forget_all_during_the_completion(
    world: World, fake_openai: FakeOpenAI, who_erases: str
) -> None:
    secret = canary()
    gate = fake_openai.hold("chat")
    reply_task = asyncio.create_task(
        world.first.orchestrator.handle(message(f"my code is {secret}", dm=True))
    )
    await gate.arrived()

    await forget_all(eraser(world, who_erases))
    gate.release()

    reply = await reply_task
    assert reply is not None
    assert reply.kind is ReplyKind.WITHDRAWN  # the fake model echoed the secret; it is not shown
    assert secret not in reply.text
    assert "forget everything" in reply.text
    await assert_gone(world, fake_openai, secret)


@BY_WHOM
async def test_forget_all_during_the_memory_write(
    world: World, fake_openai: FakeOpenAI, who_erases: str
) -> None:
    secret = canary()
    gate = fake_openai.hold("extract")
    reply = await world.first.orchestrator.handle(message(f"my code is {secret}", dm=True))
    assert reply is not None
    await gate.arrived()  # the answer is stored; the memory write is running

    erasure = asyncio.create_task(forget_all(eraser(world, who_erases)))
    await until(lambda: epoch_moved(world.first))
    gate.release()  # the write lands after the epoch moved

    await erasure
    await assert_gone(world, fake_openai, secret)


@BY_WHOM
async def test_forget_all_during_a_retry(world: World, fake_openai: FakeOpenAI, who_erases: str) -> None:
    secret = canary()
    fake_openai.fail(500, times=1, endpoint="extract")
    reply = await world.first.orchestrator.handle(message(f"my code is {secret}", dm=True))
    assert reply is not None
    await settle(world)
    assert len(await world.first.store.due_pending_writes(now=world.first.clock(), limit=10)) == 1
    gate = fake_openai.hold("extract")
    retry = asyncio.create_task(build_jobs(world.first).run(RETRY_MEMORY_WRITES))
    await gate.arrived()

    erasure = asyncio.create_task(forget_all(eraser(world, who_erases)))
    await until(lambda: epoch_moved(world.first))
    gate.release()

    result = await retry
    await erasure
    assert result.counts["written"] == 0
    assert result.counts.get("undone") == 1
    await assert_gone(world, fake_openai, secret)


@BY_WHOM
async def test_forget_all_after_a_link_drops_writes_begun_for_the_old_account(
    world: World, fake_openai: FakeOpenAI, who_erases: str
) -> None:
    secret = canary()
    gate = fake_openai.hold("extract")
    said = await world.first.orchestrator.handle(
        message(f"my code is {secret}", user=BOB.user, platform=Platform.DISCORD, workspace="", dm=True)
    )
    assert said is not None
    await gate.arrived()  # Bob's memory write (for his Discord account) is running

    code = (await world.first.links.issue_code(ALICE)).code
    linked = await world.second.links.redeem(BOB, code)
    assert linked.account_id == (await world.first.store.resolve_account(ALICE)).id
    await forget_all(eraser(world, who_erases), ALICE)
    gate.release()

    await assert_gone(world, fake_openai, secret, ALICE)
    await assert_gone(world, fake_openai, secret, BOB)


# -- pause at each point ---------------------------------------------------------------------------


@BY_WHOM
async def test_pause_during_the_completion_keeps_the_exchange_out_of_memory(
    world: World, fake_openai: FakeOpenAI, who_erases: str
) -> None:
    secret = canary()
    gate = fake_openai.hold("chat")
    reply_task = asyncio.create_task(
        world.first.orchestrator.handle(message(f"my code is {secret}", dm=True))
    )
    await gate.arrived()
    await pause(eraser(world, who_erases))
    gate.release()
    reply = await reply_task
    assert reply is not None
    assert reply.kind is ReplyKind.ANSWER
    await assert_not_remembered(world, fake_openai, secret)


@BY_WHOM
async def test_pause_during_the_memory_write_undoes_it(
    world: World, fake_openai: FakeOpenAI, who_erases: str
) -> None:
    secret = canary()
    gate = fake_openai.hold("extract")
    reply = await world.first.orchestrator.handle(message(f"my code is {secret}", dm=True))
    assert reply is not None
    await gate.arrived()
    await pause(eraser(world, who_erases))
    gate.release()
    await assert_not_remembered(world, fake_openai, secret)


async def test_a_write_that_finished_before_the_pause_stays(world: World, fake_openai: FakeOpenAI) -> None:
    """The control case: the pause is not retroactive."""
    secret = canary()
    reply = await world.first.orchestrator.handle(message(f"my code is {secret}", dm=True))
    assert reply is not None
    await settle(world)
    await pause(world.second)
    account = await world.first.store.resolve_account(ALICE)
    assert [m.text for m in await world.first.memory.export(account.id, epoch=0)] == [f"my code is {secret}"]


async def test_without_an_erasure_the_secret_is_remembered(world: World, fake_openai: FakeOpenAI) -> None:
    """The control case for every test above: the probes do see the canary when it is there."""
    secret = canary()
    reply = await world.first.orchestrator.handle(message(f"my code is {secret}", dm=True))
    assert reply is not None
    await settle(world)
    assert world.files_with(secret)
    await world.second.orchestrator.handle(message("what is my code?", dm=True, channel="dm-other"))
    assert secret in prompt_text(fake_openai.chat_prompts()[-1])


async def test_a_message_still_queued_when_the_person_erased_is_withdrawn(
    world: World, fake_openai: FakeOpenAI
) -> None:
    """It was received (acknowledged, waiting for a worker) before the erasure and is handled only
    after it: it belongs to what the person erased."""
    secret = canary()
    queued = replace(message(f"my code is {secret}", dm=True), received_at=world.first.clock())
    await forget_all(world.second)

    reply = await world.first.orchestrator.handle(queued)

    assert reply is not None
    assert reply.kind is ReplyKind.WITHDRAWN
    assert secret not in reply.text
    await assert_gone(world, fake_openai, secret)
    later = await world.first.orchestrator.handle(
        replace(message(f"now my code is {secret}x", dm=True), received_at=world.first.clock())
    )
    assert later is not None
    assert later.kind is ReplyKind.ANSWER  # received after the erasure: answered as usual
