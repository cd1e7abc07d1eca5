"""Mnemo's own messages, other bots, edits, deletions and other non-person events: no reply, no
model call, nothing stored. No loops, ever."""

from __future__ import annotations

from typing import Any

import pytest

from core.models import ConversationKey, Platform
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness

MENTION = f"<@{p.BOT_USER}> are you there?"


def _own_message() -> dict[str, Any]:
    # What Slack sends back for Mnemo's own reply in a DM (message.im).
    return p.dm("my own answer", user=p.BOT_USER, bot_id=p.BOT_ID, app_id="A0MNEMO")


IGNORED = {
    "own message in a DM": _own_message(),
    "own message in a thread": p.message(
        "my own answer", user=p.BOT_USER, bot_id=p.BOT_ID, thread_ts=p.new_ts()
    ),
    "another bot mentions Mnemo": p.message(
        MENTION, user="UOTHERBOT", bot_id="BOTHER", bot_profile={"id": "BOTHER", "name": "otherbot"}
    ),
    "bot_message subtype": p.message(MENTION, user=None, subtype="bot_message", bot_id="BOTHER"),
    "another bot in a DM": p.dm("hello Mnemo", bot_id="BOTHER"),
    "edit": p.message(
        "",
        user=None,
        subtype="message_changed",
        message={"type": "message", "user": p.ALICE, "text": MENTION, "ts": "1750000000.000001"},
        previous_message={"type": "message", "user": p.ALICE, "text": "before"},
    ),
    "deletion": p.message(
        "",
        user=None,
        subtype="message_deleted",
        deleted_ts="1750000000.000001",
        previous_message={"type": "message", "user": p.ALICE, "text": MENTION},
    ),
    "channel join": p.message(f"<@{p.ALICE}> has joined the channel", subtype="channel_join"),
    "edit in a DM": p.dm("", user=None, subtype="message_changed", message={"user": p.ALICE, "text": "hi"}),
    "hidden message": p.dm("hi", hidden=True),
    "no user": p.dm("hi", user=None),
}


@pytest.mark.parametrize("event", IGNORED.values(), ids=IGNORED.keys())
async def test_not_a_person_speaking_is_ignored(slack_http: SlackHarness, event: dict[str, Any]) -> None:
    response = await slack_http.event(event)
    await slack_http.settle()

    assert response.status_code == 200  # acknowledged, so Slack does not retry it
    assert slack_http.slack.count("chat.postMessage") == 0
    assert slack_http.model.count("chat") == 0
    conversation = ConversationKey(Platform.SLACK, p.TEAM, event["channel"], event.get("thread_ts", ""))
    assert not await slack_http.core.store.has_session(conversation)


async def test_a_person_sharing_a_file_with_a_mention_is_answered(slack_http: SlackHarness) -> None:
    """file_share is still a person speaking (unlike the subtypes above)."""
    await slack_http.event(p.dm("here is my CV", subtype="file_share", files=[{"id": "F1"}]))
    await slack_http.settle()

    assert slack_http.slack.count("chat.postMessage") == 1


async def test_events_mnemo_does_not_handle_are_acknowledged(slack_http: SlackHarness) -> None:
    event = {"type": "reaction_added", "user": p.ALICE, "reaction": "thumbsup", "event_ts": "1.2"}

    response = await slack_http.event(event)

    assert response.status_code == 200
    assert slack_http.slack.count("chat.postMessage") == 0
