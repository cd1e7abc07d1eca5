"""Updates at write time keep erasure, pause and forget promises: the fake model holds the update
judge's completion (`FakeOpenAI.hold("judge")`) and the test acts while it is held.

- forget all meanwhile (this process or a second one on the same data): nothing of the person
  comes back and nothing of theirs is written, in any file or later prompt;
- pause meanwhile: the new memory is not kept, and the older one it would replace is not lost;
- the person forgets the new memory meanwhile: the older one stays; forgets the older one: the new
  one stands and nothing fails.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from bot.wiring import Core, build_core
from core.commands import Command, CommandName
from core.models import IdentityKey, Platform, ReplyKind
from tests.conftest import make_settings
from tests.core.helpers import message, prompt_text
from tests.fakes.openai_server import FakeOpenAI, Gate, replacing

ALICE = IdentityKey(Platform.CONSOLE, "w1", "alice")
_canaries = itertools.count(1)


def canary() -> str:
    return f"okapijudge{next(_canaries)}x{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def cores(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[tuple[Core, Core]]:
    """Two bot processes on one DATA_DIR (each its own writer and mem0)."""
    settings = make_settings(tmp_path / "data", fake_openai)
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(build_core(settings))
        second = await stack.enter_async_context(build_core(settings))
        yield first, second


async def until(condition: Callable[[], Awaitable[bool]], *, timeout: float = 10.0) -> None:
    """Wait for a state the test cannot get an event for (another task's store write)."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.01)


async def alice_id(core: Core) -> uuid.UUID:
    return (await core.store.resolve_account(ALICE)).id


async def memories(core: Core) -> list[str]:
    account = await core.store.resolve_account(ALICE)
    return sorted(m.text for m in await core.memory.export(account.id, epoch=account.epoch))


def files_with(core: Core, needle: str) -> list[Path]:
    root = core.settings.data_dir
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


async def tell(core: Core, text: str) -> None:
    reply = await core.orchestrator.handle(message(text, dm=True))
    assert reply is not None
    assert reply.kind is ReplyKind.ANSWER


async def an_update_held_at_the_judge(core: Core, fake: FakeOpenAI) -> tuple[str, str, Gate]:
    """Alice said where she lives; now she says she moved, and the judge (which would say the
    newer replaces the older) is held. Returns both texts and the gate holding the judge."""
    older, newer = f"I live in Paris {canary()}", f"I live in Berlin {canary()}"
    fake.judge_with(replacing({(newer, older)}))
    await tell(core, older)
    assert await core.writer.flush(10)
    gate = fake.hold("judge")
    await tell(core, newer)
    await gate.arrived()  # the new memory is written; the judge's answer is held
    return older, newer, gate


@pytest.mark.parametrize("who_erases", ["same process", "second process"])
async def test_forget_all_while_the_judge_is_held_leaves_nothing(
    cores: tuple[Core, Core], fake_openai: FakeOpenAI, who_erases: str
) -> None:
    first, second = cores
    older, newer, gate = await an_update_held_at_the_judge(first, fake_openai)
    eraser = first if who_erases == "same process" else second
    account = await alice_id(first)

    async def epoch_moved() -> bool:
        return (await first.store.get_settings(account)).epoch > 0

    erasure = asyncio.create_task(eraser.commands.run(ALICE, Command(CommandName.FORGET_ALL, confirmed=True)))
    await until(epoch_moved)
    gate.release()  # the judge answers "replaced" after the erasure began

    assert "erased" in (await erasure).text
    for core in cores:
        assert await core.writer.flush(10)
    assert await memories(first) == []
    assert await memories(second) == []
    for text in (older, newer):
        secret = text.split()[-1]
        assert files_with(first, secret) == []
    before = len(fake_openai.chat_prompts())
    await first.orchestrator.handle(message("where do I live?", dm=True, channel="dm-later"))
    [later] = fake_openai.chat_prompts()[before:]
    assert older.split()[-1] not in prompt_text(later)
    assert newer.split()[-1] not in prompt_text(later)


async def test_an_erasure_before_the_judge_is_asked_asks_nothing(
    cores: tuple[Core, Core], fake_openai: FakeOpenAI
) -> None:
    first, _ = cores
    older, newer = f"I live in Paris {canary()}", f"I live in Berlin {canary()}"
    fake_openai.judge_with(replacing({(newer, older)}))
    await tell(first, older)
    assert await first.writer.flush(10)
    gate = fake_openai.hold("extract")
    await tell(first, newer)
    await gate.arrived()  # extraction is running; the judge comes after it
    account = await alice_id(first)

    async def epoch_moved() -> bool:
        return (await first.store.get_settings(account)).epoch > 0

    erasure = asyncio.create_task(first.commands.run(ALICE, Command(CommandName.FORGET_ALL, confirmed=True)))
    await until(epoch_moved)
    gate.release()
    await erasure
    assert await first.writer.flush(10)
    assert fake_openai.count("judge") == 0  # an erased person's memories are not shown to the model
    assert await memories(first) == []


async def test_a_pause_while_the_judge_is_held_keeps_the_older_memory(
    cores: tuple[Core, Core], fake_openai: FakeOpenAI
) -> None:
    first, second = cores
    older, _, gate = await an_update_held_at_the_judge(first, fake_openai)
    await second.commands.run(ALICE, Command(CommandName.PAUSE))
    gate.release()
    assert await first.writer.flush(10)
    assert await memories(first) == [older]  # the write did not stand, so it replaced nothing


async def test_forgetting_the_new_memory_while_the_judge_is_held_keeps_the_older(
    cores: tuple[Core, Core], fake_openai: FakeOpenAI
) -> None:
    first, _ = cores
    older, newer, gate = await an_update_held_at_the_judge(first, fake_openai)
    account = await alice_id(first)
    [new_id] = [m.id for m in await first.memory.export(account, epoch=0) if m.text == newer]
    await first.removals.forget(account, new_id)
    gate.release()
    assert await first.writer.flush(10)
    assert await memories(first) == [older]


async def test_forgetting_the_older_memory_while_the_judge_is_held_is_no_failure(
    cores: tuple[Core, Core], fake_openai: FakeOpenAI
) -> None:
    first, _ = cores
    older, newer, gate = await an_update_held_at_the_judge(first, fake_openai)
    account = await alice_id(first)
    [old_id] = [m.id for m in await first.memory.export(account, epoch=0) if m.text == older]
    await first.removals.forget(account, old_id)
    gate.release()
    assert await first.writer.flush(10)
    assert await memories(first) == [newer]
    assert await first.store.due_pending_writes(now=first.clock(), limit=5) == []  # nothing to retry
