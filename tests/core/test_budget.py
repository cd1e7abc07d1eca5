"""Daily token budgets through the real core (SQLite store, mem0, the model client) against the
fake model, which reports set usage numbers: what counts (answers and memory extraction), who is
refused and when it resets, and that a refusal calls no model and stores nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.wiring import Core, build_core
from core.budget import describe_reset, until_reset
from core.commands import Command, CommandName
from core.models import ConversationKey, IdentityKey, Platform, Reply, ReplyKind
from tests.conftest import make_settings
from tests.core.helpers import message
from tests.fakes.openai_server import FakeOpenAI

ALICE = IdentityKey(Platform.CONSOLE, "w1", "alice")
BOB = IdentityKey(Platform.CONSOLE, "w1", "bob")
EVENING = datetime(2026, 11, 1, 23, 50, tzinfo=UTC)
PER_CALL = 150  # the fake model reports 100 prompt + 50 completion tokens for every answer

Run = Callable[..., AbstractAsyncContextManager[Core]]


@pytest.fixture
def clock() -> list[datetime]:
    return [EVENING]


@pytest.fixture
def run(tmp_path: Path, fake_openai: FakeOpenAI, clock: list[datetime]) -> Run:
    fake_openai.state.usage = (100, 50)

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Core]:
        settings = make_settings(tmp_path / "data", fake_openai, scheduler_enabled=False, **overrides)
        async with build_core(settings, clock=lambda: clock[0]) as core:
            yield core

    return start


def kind(reply: Reply | None) -> ReplyKind:
    assert reply is not None
    return reply.kind


async def spent(core: Core, identity: IdentityKey) -> int:
    account = await core.store.resolve_account(identity)
    usage = await core.store.daily_usage(
        account_id=account.id, platform=identity.platform, workspace=identity.workspace, day=EVENING.date()
    )
    return usage.person


async def stored(core: Core, channel: str) -> int:
    conversation = ConversationKey(Platform.CONSOLE, "w1", channel)
    return (await core.store.conversation_messages(conversation, offset=0, limit=50)).total


async def test_answers_and_memory_extraction_both_count(run: Run, fake_openai: FakeOpenAI) -> None:
    async with run() as core:  # no budget set: usage is still counted (for /memory usage)
        reply = await core.orchestrator.handle(message("I like green tea", channel="c1"))
        assert kind(reply) is ReplyKind.ANSWER
        assert await core.writer.flush(10)
        assert fake_openai.count("extract") >= 1
        calls = fake_openai.count("chat") + fake_openai.count("extract")
        assert await spent(core, ALICE) == PER_CALL * calls
        assert await spent(core, BOB) == 0


async def test_over_the_personal_budget_no_model_call_nothing_stored(
    run: Run, fake_openai: FakeOpenAI
) -> None:
    async with run(daily_token_budget_per_person=PER_CALL) as core:
        first = await core.orchestrator.handle(message("hello", channel="c1"))
        assert kind(first) is ReplyKind.ANSWER
        assert await stored(core, "c1") == 2
        chats = fake_openai.count("chat")

        refused = await core.orchestrator.handle(message("hello again", channel="c1"))

        assert kind(refused) is ReplyKind.REFUSED
        assert refused.text == (
            f"You've used your {PER_CALL} tokens for today, so I can't answer now. "
            "It resets at midnight UTC, in 10 min."
        )
        assert fake_openai.count("chat") == chats
        assert await stored(core, "c1") == 2  # the refused message is not kept
        other = await core.orchestrator.handle(message("hi", user="bob", channel="c1"))
        assert kind(other) is ReplyKind.ANSWER  # Bob has his own budget


async def test_the_workspace_budget_covers_everyone_in_it(run: Run, fake_openai: FakeOpenAI) -> None:
    async with run(daily_token_budget_per_workspace=PER_CALL) as core:
        assert (await core.orchestrator.handle(message("hello", channel="c1"))) is not None
        refused = await core.orchestrator.handle(message("hi", user="bob", channel="c1"))
        assert kind(refused) is ReplyKind.REFUSED
        assert refused.text.startswith(f"This workspace has used its {PER_CALL} tokens for today")
        elsewhere = await core.orchestrator.handle(message("hi", user="carol", workspace="w2", channel="c9"))
        assert kind(elsewhere) is ReplyKind.ANSWER
        assert fake_openai.count("chat") == 2


async def test_the_budget_resets_at_utc_midnight(run: Run, clock: list[datetime]) -> None:
    async with run(daily_token_budget_per_person=1) as core:
        assert (await core.orchestrator.handle(message("one", channel="c1"))) is not None
        refused = await core.orchestrator.handle(message("two", channel="c1"))
        assert kind(refused) is ReplyKind.REFUSED
        assert await core.writer.flush(10)  # the first exchange's extraction counts for the 1st
        clock[0] = EVENING + timedelta(minutes=11)  # 00:01 UTC the next day
        again = await core.orchestrator.handle(message("three", channel="c1"))
        assert kind(again) is ReplyKind.ANSWER


async def test_a_server_that_reports_no_usage_is_charged_an_estimate(
    run: Run, fake_openai: FakeOpenAI
) -> None:
    fake_openai.state.report_usage = False
    async with run(daily_token_budget_per_person=1) as core:
        assert (await core.orchestrator.handle(message("hello there", channel="c1"))) is not None
        assert await spent(core, ALICE) > 0
        refused = await core.orchestrator.handle(message("and again", channel="c1"))
        assert kind(refused) is ReplyKind.REFUSED


async def test_memory_usage_shows_the_person_their_day(run: Run) -> None:
    async with run(daily_token_budget_per_person=10_000, daily_token_budget_per_workspace=50_000) as core:
        await core.orchestrator.handle(message("hello", channel="c1"))
        assert await core.writer.flush(10)
        result = await core.commands.run(ALICE, Command(CommandName.USAGE))
        used = await spent(core, ALICE)
        assert result.text == (
            f"Today (UTC) you have used {used:,} model tokens of your 10,000. "
            f"Everyone here together: {used:,} of 50,000. It resets at midnight UTC, in 10 min."
        )
        bob = await core.commands.run(BOB, Command(CommandName.USAGE))
        assert bob.text.startswith("Today (UTC) you have used 0 model tokens of your 10,000.")


async def test_erasing_the_account_leaves_no_usage_row_naming_it(run: Run, tmp_path: Path) -> None:
    async with run(daily_token_budget_per_workspace=1_000_000) as core:
        await core.orchestrator.handle(message("hello", channel="c1"))
        assert await core.writer.flush(10)
        account = await core.store.resolve_account(ALICE)
        before = await core.store.daily_usage(
            account_id=account.id, platform=Platform.CONSOLE, workspace="w1", day=EVENING.date()
        )
        assert before.person > 0
        await core.commands.run(ALICE, Command(CommandName.FORGET_ALL, confirmed=True))
        after = await core.store.daily_usage(
            account_id=account.id, platform=Platform.CONSOLE, workspace="w1", day=EVENING.date()
        )
        assert after.person == 0
        assert after.workspace == before.workspace  # the workspace's day still counts them
    conn = sqlite3.connect(tmp_path / "data" / "mnemo.db")
    try:
        rows = conn.execute("select count(*) from token_usage where account_id = ?", (str(account.id),))
        assert rows.fetchone() == (0,)
    finally:
        conn.close()


def test_the_reset_is_the_next_utc_midnight_whatever_the_time_zone() -> None:
    from zoneinfo import ZoneInfo

    late_in_tokyo = datetime(2026, 11, 2, 8, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 23:30 UTC on the 1st
    assert until_reset(late_in_tokyo) == timedelta(minutes=30)
    assert (
        describe_reset(datetime(2026, 11, 1, 2, 0, tzinfo=UTC)) == "It resets at midnight UTC, in 22 h 0 min."
    )
