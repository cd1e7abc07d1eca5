"""The console front door with the real core over the fake model: /new, /memory show <words>,
Markdown answers, and what a broken stream leaves on the screen."""

from __future__ import annotations

import io

from adapters.console.adapter import ConsoleAdapter
from bot.wiring import Core
from core.models import IdentityKey, MemoryOrigin, Platform
from core.replies import MODEL_DOWN_REPLY
from tests.fakes.openai_server import FakeOpenAI


async def chat(core: Core, lines: list[str], *, user: str = "alice") -> str:
    out = io.StringIO()
    console = ConsoleAdapter(
        assistant=core.assistant,
        user=user,
        channel=None,
        is_dm=True,
        stdin=io.StringIO("".join(line + "\n" for line in lines)),
        stdout=out,
    )
    await console.run()
    assert console.interrupted is False
    return out.getvalue()


def user_turns(prompt: list[dict[str, str]]) -> list[str]:
    return [m["content"] for m in prompt if m["role"] == "user"]


async def test_new_starts_a_new_conversation_without_the_earlier_turns(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    fake_openai.state.reply = lambda messages: "Noted."
    out = await chat(core, ["my flight is at 9", "and the hotel is near the station", "/new", "hello again"])
    assert "Started a new conversation." in out
    _, second, third = fake_openai.chat_prompts()
    assert any("my flight is at 9" in turn for turn in user_turns(second))  # same session
    assert not any("my flight" in turn or "hotel" in turn for turn in user_turns(third))
    sessions = await core.assistant.conversations(
        platform=Platform.CONSOLE, workspace="local", channel="dm-alice", offset=0, limit=10
    )
    assert sessions.total == 2


async def test_memory_show_with_words_lists_only_matching_memories(core: Core) -> None:
    account = await core.store.resolve_account(IdentityKey(Platform.CONSOLE, "local", "alice"))
    for fact in ("Has a dog called Rex", "Lives in Lisbon", "Walks the dogs at 7", "Likes green tea"):
        await core.memory.remember(
            account.id,
            [{"role": "user", "content": fact}],
            origin=MemoryOrigin(Platform.CONSOLE, "dm-alice", True),
            epoch=0,
        )
    out = await chat(core, ["/memory show dog", "/memory show volcano", "/memory show"])
    matching, nothing, everything = out.split("you> ")[1:4]
    assert "matching 'dog' (1-2 of 2)" in matching
    assert "Has a dog called Rex" in matching
    assert "Walks the dogs at 7" in matching
    assert "Lisbon" not in matching
    assert "tea" not in matching
    assert "I don't remember anything about you matching 'volcano'." in nothing
    assert "(1-4 of 4)" in everything  # without words: every memory, as before


MARKDOWN_ANSWER = """# Packing list

You need **three** things and `sunscreen`:

- a hat
- a [map](https://maps.example/lisbon)

```
pack --light
```
"""


async def test_markdown_answers_are_rendered_readably(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: MARKDOWN_ANSWER
    fake_openai.state.stream_chunk_chars = 7  # streamed in many small pieces
    out = await chat(core, ["what do I pack?"])
    answer = out.split("you> ")[1]
    assert "mnemo>\n" in answer  # a block answer starts below the name
    assert "Packing list" in answer
    assert "You need three things and sunscreen:" in answer
    assert "• a hat" in answer
    assert "map (https://maps.example/lisbon)" in answer  # the link keeps its address
    assert "pack --light" in answer
    for raw in ("**", "# Packing", "`sunscreen`", "- a hat", "```", "\x1b"):
        assert raw not in answer
    assert answer.count("Packing list") == 1  # streamed, but shown once (not a terminal)
    assert all(line == line.rstrip() for line in answer.splitlines())


async def test_a_one_line_answer_stays_on_the_name_line(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: "Hello, *Alice*."
    out = await chat(core, ["hi"])
    assert "mnemo> Hello, Alice.\n" in out


async def test_a_model_outage_shows_the_apology(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(503, endpoint="chat")
    out = await chat(core, ["hi"])
    assert f"mnemo> {MODEL_DOWN_REPLY}" in " ".join(out.split())  # wrapped to the terminal's width


async def test_unknown_slash_commands_name_the_ones_that_exist(core: Core) -> None:
    out = await chat(core, ["/neww"])
    assert "Unknown command. Try /memory help, /new, or /quit." in out
