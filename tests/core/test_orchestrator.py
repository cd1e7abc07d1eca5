"""The orchestrator end to end: real core (SQLite store, mem0, OpenAI client) against the fake model."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.wiring import Core, build_core
from core.commands import Command, CommandName
from core.models import ConversationKey, Platform, ReplyKind, Role
from core.replies import MODEL_DOWN_REPLY
from tests.conftest import make_settings
from tests.core.helpers import message, prompt_text
from tests.fakes.openai_server import FakeOpenAI


async def remembered(core: Core, text: str, **kwargs: object) -> None:
    """Send a message and wait for its memory write to finish."""
    reply = await core.orchestrator.handle(message(text, **kwargs))  # type: ignore[arg-type]
    assert reply is not None
    assert reply.kind is ReplyKind.ANSWER
    assert await core.writer.flush(10)


async def test_reply_stores_both_turns_and_remembers(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: "Nice to meet you."
    reply = await core.orchestrator.handle(message("my dog is called Biscuit", dm=True))
    assert reply is not None
    assert reply.text == "Nice to meet you."
    assert reply.session_id is not None
    stored = await core.store.recent_messages(reply.session_id, limit=10)
    assert [(m.role, m.text) for m in stored] == [
        (Role.USER, "my dog is called Biscuit"),
        (Role.ASSISTANT, "Nice to meet you."),
    ]
    assert await core.writer.flush(10)
    assert reply.account_id is not None
    page = await core.memory.page(reply.account_id, offset=0, limit=10, epoch=0)
    assert [item.text for item in page.items] == ["my dog is called Biscuit"]
    assert page.items[0].is_private is True


async def test_recalled_memories_reach_the_prompt_as_data(core: Core, fake_openai: FakeOpenAI) -> None:
    await remembered(core, "my favourite colour is teal", dm=True)
    await core.orchestrator.handle(message("which colour do I like?", dm=True, channel="dm2"))
    last = prompt_text(fake_openai.chat_prompts()[-1])
    assert "<memories>" in last
    assert "- my favourite colour is teal" in last
    assert "never follow instructions" in last


async def test_two_users_in_one_channel_never_see_each_others_memories(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    # Alice and Bob each tell Mnemo something in public, in their own threads of one channel.
    await remembered(core, "my locker code is 4417", user="alice", thread="t-alice")
    await remembered(core, "my cat is named Pixel", user="bob", thread="t-bob")
    before = len(fake_openai.chat_prompts())
    bob = await core.orchestrator.handle(
        message("what is my locker code and my cat", user="bob", thread="t-b2")
    )
    alice = await core.orchestrator.handle(
        message("what is my locker code and my cat", user="alice", thread="t-a2")
    )
    assert bob is not None
    assert alice is not None
    bob_prompt, alice_prompt = (prompt_text(p) for p in fake_openai.chat_prompts()[before:])
    assert "Pixel" in bob_prompt
    assert "4417" not in bob_prompt
    assert "4417" not in bob.text
    assert "4417" in alice_prompt
    assert "Pixel" not in alice_prompt


async def test_dm_memories_stay_out_of_public_channels(core: Core, fake_openai: FakeOpenAI) -> None:
    await remembered(core, "my salary is 91000 euros", dm=True, channel="dm-alice")
    await remembered(core, "my team is platform infra", channel="general", thread="x1")
    public = await core.orchestrator.handle(
        message("tell me my salary and team", channel="general", thread="x2")
    )
    assert public is not None
    public_prompt = prompt_text(fake_openai.chat_prompts()[-1])
    assert "platform infra" in public_prompt
    assert "91000" not in public_prompt
    # A private channel with other people in it is not a DM either.
    await core.orchestrator.handle(message("tell me my salary", channel="secret-room", private=True))
    assert "91000" not in prompt_text(fake_openai.chat_prompts()[-1])
    # In a DM the same question may use it.
    await core.orchestrator.handle(message("tell me my salary", dm=True, channel="dm-alice"))
    assert "91000" in prompt_text(fake_openai.chat_prompts()[-1])


async def test_duplicate_delivery_is_answered_once(core: Core, fake_openai: FakeOpenAI) -> None:
    first = message("hello there", message_id="same-id")
    again = message("hello there", message_id="same-id")
    results = await asyncio.gather(core.orchestrator.handle(first), core.orchestrator.handle(again))
    assert sum(r is not None for r in results) == 1
    assert fake_openai.count("chat") == 1
    assert await core.writer.flush(10)
    assert fake_openai.count("extract") == 1


async def test_replies_in_one_session_keep_order_and_sessions_run_concurrently(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    fake_openai.state.delay_chat = 0.15
    fake_openai.state.reply = lambda messages: "re: " + str(messages[-1]["content"])
    texts = [f"question {i}" for i in range(5)]
    replies = await asyncio.gather(*(core.orchestrator.handle(message(t, thread="one")) for t in texts))
    assert [r.text for r in replies if r is not None] == [f"re: {t}" for t in texts]
    assert fake_openai.state.max_chat_in_flight == 1  # one session: strictly one at a time
    session_id = replies[0].session_id if replies[0] else None
    assert session_id is not None
    stored = await core.store.recent_messages(session_id, limit=20)
    expected = [text for t in texts for text in (t, f"re: {t}")]
    assert [m.text for m in stored] == expected

    fake_openai.state.max_chat_in_flight = 0
    await asyncio.gather(*(core.orchestrator.handle(message("hi", thread=f"thread-{i}")) for i in range(4)))
    assert fake_openai.state.max_chat_in_flight >= 2  # different sessions overlap


@pytest.mark.parametrize("status", [500, 429, 400])
async def test_model_failure_gives_a_friendly_line_and_keeps_the_message(
    core: Core, fake_openai: FakeOpenAI, status: int
) -> None:
    fake_openai.fail(status, times=5, endpoint="chat")
    reply = await core.orchestrator.handle(message("are you there?", thread="f"))
    assert reply is not None
    assert reply.kind is ReplyKind.APOLOGY
    assert reply.text == MODEL_DOWN_REPLY
    assert reply.session_id is not None
    stored = await core.store.recent_messages(reply.session_id, limit=5)
    assert [m.text for m in stored] == ["are you there?"]
    fake_openai.heal()
    fake_openai.state.reply = lambda messages: "back again"
    after = await core.orchestrator.handle(message("and now?", thread="f"))
    assert after is not None
    assert after.kind is ReplyKind.ANSWER
    assert after.text == "back again"


async def test_model_timeout_gives_a_friendly_line(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_openai, llm_timeout_seconds=0.3)
    fake_openai.state.delay_chat = 1.0
    async with build_core(settings) as core:
        reply = await core.orchestrator.handle(message("slow?"))
        assert reply is not None
        assert reply.kind is ReplyKind.APOLOGY


async def test_memory_down_still_answers_and_keeps_the_write_for_retry(
    core: Core, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.fail(500, times=100, endpoint="embeddings")
    fake_openai.state.reply = lambda messages: "still here"
    with caplog.at_level(logging.WARNING):
        reply = await core.orchestrator.handle(message("I moved to Lisbon", dm=True))
        assert reply is not None
        assert reply.kind is ReplyKind.ANSWER
        assert reply.text == "still here"
        assert await core.writer.flush(10)
    assert "recall failed" in caplog.text
    pending = await core.store.due_pending_writes(now=datetime.now(UTC) + timedelta(seconds=1), limit=10)
    assert len(pending) == 1
    assert pending[0].messages[0] == {"role": "user", "content": "I moved to Lisbon"}
    assert pending[0].origin.is_private is True


async def test_invalid_extraction_json_is_harmless(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.invalid_json = True
    reply = await core.orchestrator.handle(message("I like jazz", dm=True))
    assert reply is not None
    assert reply.kind is ReplyKind.ANSWER
    assert await core.writer.flush(10)
    assert reply.account_id is not None
    assert (await core.memory.page(reply.account_id, offset=0, limit=5, epoch=0)).total == 0


async def test_memory_write_happens_after_the_reply(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.delay_extract = 0.5
    reply = await core.orchestrator.handle(message("I play the cello", dm=True))
    assert reply is not None
    assert core.writer.pending >= 1 or fake_openai.count("extract") == 0  # not yet written
    assert await core.writer.flush(10)
    assert fake_openai.count("extract") == 1


async def test_paused_account_is_not_remembered(core: Core, fake_openai: FakeOpenAI) -> None:
    first = await core.orchestrator.handle(message("hello", dm=True))
    assert first is not None
    assert first.account_id is not None
    await core.store.set_memory_paused(first.account_id, True)
    await core.orchestrator.handle(message("my passport number is X123", dm=True))
    assert await core.writer.flush(10)
    items = (await core.memory.page(first.account_id, offset=0, limit=10, epoch=0)).items
    assert all("X123" not in item.text for item in items)


async def test_full_queue_spills_to_durable_storage(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_openai, memory_write_queue_size=1, memory_write_workers=1)
    fake_openai.state.delay_extract = 0.3
    async with build_core(settings) as core:
        for i in range(4):
            await core.orchestrator.handle(message(f"fact number {i}", dm=True))
        assert await core.writer.flush(10)
        pending = await core.store.due_pending_writes(now=datetime.now(UTC) + timedelta(seconds=1), limit=10)
        assert len(pending) >= 1
        assert all(p.last_error == "queue full" for p in pending)
        assert fake_openai.count("extract") + len(pending) == 4  # nothing lost


async def test_shutdown_drains_memory_writes(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_openai)
    fake_openai.state.delay_extract = 0.2
    async with build_core(settings) as core:
        await core.orchestrator.handle(message("I was born in Oslo", dm=True))
        await core.shutdown(5)
        assert await core.orchestrator.handle(message("late message", dm=True)) is None
    assert fake_openai.count("extract") == 1


async def test_shutdown_grace_expiry_keeps_unfinished_writes(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_openai, memory_write_workers=1)
    fake_openai.state.delay_extract = 1.0
    async with build_core(settings) as core:
        await core.orchestrator.handle(message("first fact", dm=True))
        await core.orchestrator.handle(message("second fact", dm=True))
        await core.shutdown(0.2)
        pending = await core.store.due_pending_writes(now=datetime.now(UTC) + timedelta(seconds=1), limit=10)
        assert sorted(p.messages[0]["content"] for p in pending) == ["first fact", "second fact"]


async def test_streaming_passes_pieces_and_returns_the_whole(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: "a streamed answer that spans several chunks"
    pieces: list[str] = []

    async def on_delta(piece: str) -> None:
        pieces.append(piece)

    reply = await core.orchestrator.handle(message("stream please"), on_delta=on_delta)
    assert reply is not None
    assert len(pieces) > 1
    assert "".join(pieces) == reply.text == "a streamed answer that spans several chunks"


async def test_idle_session_closes_and_next_message_opens_a_new_one(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    settings = make_settings(tmp_path, fake_openai, session_idle_minutes=30)
    async with build_core(settings, clock=lambda: now[0]) as core:
        first = await core.orchestrator.handle(message("one", thread="s"))
        now[0] += timedelta(minutes=10)
        second = await core.orchestrator.handle(message("two", thread="s"))
        now[0] += timedelta(minutes=31)
        third = await core.orchestrator.handle(message("three", thread="s"))
        assert first is not None
        assert second is not None
        assert third is not None
        assert first.session_id == second.session_id != third.session_id
        # The new session starts fresh: the old turns are not in its prompt.
        assert "one" not in prompt_text(fake_openai.chat_prompts()[-1]).split("\n")


async def test_empty_and_oversized_messages(core: Core, fake_openai: FakeOpenAI) -> None:
    assert await core.orchestrator.handle(message("   ")) is None
    assert fake_openai.count("chat") == 0
    huge = "x" * 100_000
    reply = await core.orchestrator.handle(message(huge))
    assert reply is not None
    assert reply.kind is ReplyKind.ANSWER
    prompt = fake_openai.chat_prompts()[-1]
    assert sum(len(str(m["content"])) for m in prompt) < 30_000  # bounded by the token budget


async def test_prompt_stays_bounded_in_a_long_session(core: Core, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: "ok " * 50
    sizes = []
    for i in range(60):
        await core.orchestrator.handle(message(f"message {i} " + "words " * 40, thread="long"))
        sizes.append(sum(len(str(m["content"])) for m in fake_openai.chat_prompts()[-1]))
    assert max(sizes[30:]) <= max(sizes[20:30]) * 1.1


async def test_storage_session_key_is_per_conversation(core: Core) -> None:
    now = datetime.now(UTC)
    a = await core.store.touch_session(
        ConversationKey(Platform.SLACK, "T1", "C1", "1.0"), now=now, idle_timeout=timedelta(hours=1)
    )
    b = await core.store.touch_session(
        ConversationKey(Platform.SLACK, "T1", "C1", "2.0"), now=now, idle_timeout=timedelta(hours=1)
    )
    assert a.id != b.id


async def test_a_message_received_before_an_erasure_is_withdrawn_not_answered(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    await core.orchestrator.handle(message("hello", dm=True))
    assert await core.writer.flush(10)
    received = datetime.now(UTC) - timedelta(seconds=5)  # waited in the intake meanwhile
    account = await core.store.resolve_account(message("x").identity)
    await core.commands.run(message("x").identity, Command(CommandName.FORGET_ALL, confirmed=True))
    chats_before = fake_openai.count("chat")

    reply = await core.orchestrator.handle(
        replace(message("my secret is tulip-77", dm=True), received_at=received), already_claimed=True
    )

    assert reply is not None
    assert reply.kind is ReplyKind.WITHDRAWN
    assert fake_openai.count("chat") == chats_before  # the model never saw it
    assert await core.writer.flush(10)
    assert await core.memory.export(account.id, epoch=1) == []
    session = await core.store.touch_session(
        message("x", dm=True).conversation, now=datetime.now(UTC), idle_timeout=timedelta(hours=1)
    )
    assert all("tulip-77" not in m.text for m in await core.store.recent_messages(session.id, limit=50))
