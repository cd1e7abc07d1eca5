"""`/memory` parsing and the console front door (the same commands Slack and Discord use)."""

from __future__ import annotations

import io

import pytest

from adapters.console.adapter import ConsoleAdapter
from bot.wiring import Core
from core.commands import Command, CommandName, parse_memory_command
from core.errors import UserFacingError
from core.models import IdentityKey, MemoryOrigin, Platform
from tests.fakes.openai_server import FakeOpenAI


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command(CommandName.SHOW)),
        ("show", Command(CommandName.SHOW)),
        ("show coffee beans", Command(CommandName.SHOW, argument="coffee beans")),
        ("show --page 2", Command(CommandName.SHOW, page=1)),
        ("show tea --page 3", Command(CommandName.SHOW, argument="tea", page=2)),
        ("forget 1234-abcd", Command(CommandName.FORGET, argument="1234-abcd")),
        ("forget all", Command(CommandName.FORGET_ALL)),
        ("forget all confirm", Command(CommandName.FORGET_ALL, confirmed=True)),
        ("forget-all", Command(CommandName.FORGET_ALL)),
        ("PAUSE", Command(CommandName.PAUSE)),
        ("resume", Command(CommandName.RESUME)),
        ("export", Command(CommandName.EXPORT)),
        ("help", Command(CommandName.HELP)),
    ],
)
def test_parse(text: str, expected: Command) -> None:
    assert parse_memory_command(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("frobnicate", "Unknown command 'frobnicate'"),
        ("forget", "Usage: /memory forget <id>"),
        ("forget a b", "Usage: /memory forget <id>"),
        ("pause now", "takes no arguments"),
        ("show --page zero", "--page takes a page number"),
        ("show --page 0", "--page takes a page number"),
    ],
)
def test_parse_rejects_with_a_clear_answer(text: str, needle: str) -> None:
    with pytest.raises(UserFacingError, match=needle):
        parse_memory_command(text)


async def run_console(
    core: Core, lines: list[str], *, user: str = "alice", channel: str | None = None
) -> str:
    out = io.StringIO()
    console = ConsoleAdapter(
        assistant=core.assistant,
        user=user,
        channel=channel,
        is_dm=channel is None,
        stdin=io.StringIO("".join(line + "\n" for line in lines)),
        stdout=out,
    )
    await console.run()
    return out.getvalue()


async def test_console_chat_and_every_memory_command(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: "Got it."
    out = await run_console(core, ["I keep bees in my garden", "/memory help"])
    assert "mnemo> Got it." in out
    assert "/memory forget all" in out
    assert await core.writer.flush(10)

    out = await run_console(core, ["/memory", "/memory show bees", "/memory export"])
    assert "I keep bees in my garden" in out
    assert '"text": "I keep bees in my garden"' in out

    out = await run_console(core, ["/memory pause", "my PIN is 0000", "/memory resume"])
    assert "Paused" in out
    assert "Resumed" in out
    assert await core.writer.flush(10)
    out = await run_console(core, ["/memory show"])
    assert "0000" not in out

    out = await run_console(core, ["/memory forget all"])
    assert "Confirm" in out
    out = await run_console(core, ["/memory forget all confirm", "/memory show"])
    assert "I erased 1 memory" in out
    assert "I don't remember anything about you yet." in out


async def test_console_forget_one_and_bad_input(core: Core, fake_openai: FakeOpenAI) -> None:
    await run_console(core, ["I sail on Sundays"])
    assert await core.writer.flush(10)
    listing = await run_console(core, ["/memory show"])
    memory_id = listing.split("id ")[1].split(")")[0]
    out = await run_console(
        core, [f"/memory forget {memory_id}", "/memory forget nope", "/memory dance", "/x"]
    )
    assert "Forgotten: I sail on Sundays" in out
    assert "No memory with id nope." in out
    assert "Unknown command 'dance'" in out
    assert "Unknown command. Try /memory help" in out


async def test_console_paging(core: Core) -> None:
    out = await run_console(core, ["/memory show --page 2"])
    assert "I don't remember anything about you yet." in out
    account = await core.store.resolve_account(IdentityKey(Platform.CONSOLE, "local", "alice"))
    for i in range(12):
        await core.memory.remember(
            account.id,
            [{"role": "user", "content": f"numbered fact {i:02d}"}],
            origin=MemoryOrigin(Platform.CONSOLE, "dm-alice", True),
            epoch=0,
        )
    out = await run_console(core, ["/memory show", "/memory show --page 2", "/memory show --page 3"])
    first, second, third = out.split("you> ")[1:4]
    assert "(1-10 of 12)" in first
    assert "numbered fact 11" in first
    assert "(more: /memory show --page 2)" in first
    assert "(11-12 of 12)" in second
    assert "numbered fact 00" in second
    assert "more:" not in second
    assert "No more memories." in third


async def test_show_with_words_lists_only_matching_memories_and_pages_them(core: Core) -> None:
    account = await core.store.resolve_account(IdentityKey(Platform.CONSOLE, "local", "alice"))
    facts = [f"dog fact {i:02d}" for i in range(12)] + ["Lives in Lisbon"]
    for fact in facts:
        await core.memory.remember(
            account.id,
            [{"role": "user", "content": fact}],
            origin=MemoryOrigin(Platform.CONSOLE, "dm-alice", True),
            epoch=0,
        )

    out = await run_console(core, ["/memory show dogs", "/memory show dogs --page 2", "/memory show cat"])

    first, second, none = out.split("you> ")[1:4]
    assert "What I remember about you matching 'dogs' (1-10 of 12):" in first
    assert "Lisbon" not in first
    assert "(more: /memory show dogs --page 2)" in first
    assert "(11-12 of 12)" in second
    assert "more:" not in second
    assert "I don't remember anything about you matching 'cat'." in none
