"""Access lists on Slack, end to end: the real bolt app against the fake Slack, with the fake model
counting requests. Outside the lists Mnemo says nothing in channels, a short note in DMs, calls no
model and stores nothing; /memory keeps working for everyone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from core.access import ACCESS_NOTE
from core.models import ConversationKey, Platform
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness, running_slack, slack_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

Run = Callable[..., AbstractAsyncContextManager[SlackHarness]]


@pytest.fixture
def run_slack(tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack) -> Run:
    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[SlackHarness]:
        settings = slack_settings(tmp_path / "data", fake_openai, fake_slack, **overrides)
        async with running_slack(settings, fake_openai, fake_slack) as harness:
            yield harness

    return run


def posts(slack: FakeSlack) -> list[str]:
    return [str(call.args.get("text", "")) for call in slack.calls("chat.postMessage")]


async def stored_in_general(harness: SlackHarness) -> int:
    conversation = ConversationKey(Platform.SLACK, p.TEAM, p.GENERAL)
    page = await harness.core.store.conversation_messages(conversation, offset=0, limit=10)
    return page.total


async def test_a_channel_outside_the_allow_list_gets_silence_and_no_model_call(run_slack: Run) -> None:
    async with run_slack(slack_allowed_channels=p.SECRET_CHANNEL) as slack:
        await slack.event(p.app_mention("hello there"))
        await slack.settle()
        assert slack.model.count("chat") == 0
        assert posts(slack.slack) == []
        assert await stored_in_general(slack) == 0

        await slack.event(p.app_mention("hello in the allowed place", channel=p.SECRET_CHANNEL))
        await slack.settle()
        assert slack.model.count("chat") == 1
        assert len(posts(slack.slack)) == 1


async def test_a_blocked_user_is_refused_even_when_allowed_and_others_are_answered(run_slack: Run) -> None:
    both = f"{p.ALICE},{p.BOB}"
    async with run_slack(slack_allowed_users=both, slack_blocked_users=p.BOB) as slack:
        await slack.event(p.app_mention("hi from bob", user=p.BOB))
        await slack.settle()
        assert slack.model.count("chat") == 0
        assert posts(slack.slack) == []
        assert slack.model.count("extract") == 0  # no memory write either

        await slack.event(p.app_mention("hi from alice"))
        await slack.settle()
        assert slack.model.count("chat") == 1


async def test_a_dm_outside_the_lists_gets_a_short_private_note(run_slack: Run) -> None:
    async with run_slack(allow_dms=False) as slack:
        await slack.event(p.dm("remember that my code is 4417"))
        await slack.settle()
        assert slack.model.count("chat") == 0
        [note] = slack.slack.calls("chat.postMessage")
        assert note.args["channel"] == p.ALICE_DM
        assert "not set up to chat with you here" in str(note.args.get("text"))
        assert ACCESS_NOTE.startswith("Sorry")
        await slack.core.writer.flush(5)
        assert slack.model.count("extract") == 0


async def test_memory_commands_keep_working_for_a_blocked_person(run_slack: Run) -> None:
    async with run_slack(slack_blocked_users=p.ALICE) as slack:
        response = await slack.command("", name="show")
        assert response.status_code == 200
        answer = await slack.response("show")
        assert "don't remember anything about you" in str(answer)
        await slack.command("usage", name="usage")
        usage = await slack.response("usage")
        assert "model tokens" in str(usage)
        assert slack.model.count("chat") == 0
