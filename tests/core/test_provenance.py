"""An answer's provenance: the memories recalled for it are kept with the answer (ids only), shown
to that person by `/memory why` where they were answered, and gone when the memory or the answer is."""

from __future__ import annotations

import io

from adapters.console.adapter import ConsoleAdapter
from bot.wiring import Core
from core.models import ReplyKind
from tests.core.helpers import message
from tests.fakes.openai_server import FakeOpenAI


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


async def test_why_shows_the_memories_behind_the_last_answer_here(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    await run_console(core, ["I keep bees in my garden"], channel="general")
    assert await core.writer.flush(10)

    out = await run_console(core, ["what do I keep?", "/memory why"], channel="general")

    why = out.rsplit("you> ", 2)[-2]  # the answer to /memory why (the last prompt is EOF's)
    assert "My last answer to you here was based on these memories:" in why
    assert "I keep bees in my garden" in why


async def test_why_is_per_person_and_per_channel(core: Core, fake_openai: FakeOpenAI) -> None:
    await run_console(core, ["I keep bees in my garden"], channel="general")
    assert await core.writer.flush(10)
    await run_console(core, ["what do I keep?"], channel="general")

    bob = await run_console(core, ["/memory why"], user="bob", channel="general")
    elsewhere = await run_console(core, ["/memory why"], channel="random")

    assert "I haven't answered you here yet" in bob
    assert "bees" not in bob
    assert "I haven't answered you here yet" in elsewhere


async def test_why_after_forgetting_shows_nothing_of_it(core: Core, fake_openai: FakeOpenAI) -> None:
    await run_console(core, ["I keep bees in my garden"], channel="general")
    assert await core.writer.flush(10)
    await run_console(core, ["what do I keep?"], channel="general")
    listing = await run_console(core, ["/memory show"], channel="general")
    memory_id = listing.split("id ")[1].split(")")[0]

    await run_console(core, [f"/memory forget {memory_id}"], channel="general")
    after_forget = await run_console(core, ["/memory why"], channel="general")
    await run_console(core, ["/memory forget all confirm"], channel="general")
    after_erase = await run_console(core, ["/memory why"], channel="general")

    assert "used none of my memories of you (what it used has since been forgotten)" in after_forget
    assert "bees" not in after_forget.split("you> ")[-1]
    assert "I haven't answered you here yet (or you erased it)." in after_erase


async def test_the_reply_carries_the_recalled_memories_only_for_an_answer(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    await run_console(core, ["I keep bees in my garden"], channel="general")
    assert await core.writer.flush(10)

    reply = await core.assistant.handle(message("what do I keep?", workspace="local"))
    fake_openai.fail(500, endpoint="chat")
    apology = await core.assistant.handle(message("and what else?", workspace="local"))

    assert reply is not None
    assert reply.kind is ReplyKind.ANSWER
    assert [m.text for m in reply.memories] == ["I keep bees in my garden"]
    assert apology is not None
    assert apology.kind is ReplyKind.APOLOGY
    assert apology.memories == ()
