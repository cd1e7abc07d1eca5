"""Message shortcuts end to end: "Remember this" and "Forget what was learned" -> the core ->
ephemeral answers through the shortcut's response_url (fake Slack)."""

from __future__ import annotations

import json

from adapters.slack.render import ACTION_DELETE
from adapters.slack.shortcuts import FORGET_CALLBACK, NOT_YOURS, REMEMBER_CALLBACK
from core.commands import Command, CommandName
from core.models import IdentityKey, MemoryItem, MemoryOrigin, Platform
from tests.adapters.slack import payloads as p
from tests.adapters.slack import surface_payloads as sp
from tests.adapters.slack.conftest import SlackHarness, blocks_text

ALICE = IdentityKey(Platform.SLACK, p.TEAM, p.ALICE)
BOB = IdentityKey(Platform.SLACK, p.TEAM, p.BOB)


async def shortcut(
    harness: SlackHarness,
    callback_id: str,
    *,
    name: str,
    clicker: str = p.ALICE,
    author: str | None = p.ALICE,
    text: str,
    channel: str = p.GENERAL,
    bot_id: str | None = None,
) -> str:
    payload = sp.message_shortcut(
        callback_id,
        clicker=clicker,
        author=author,
        text=text,
        channel=channel,
        response_url=harness.slack.response_url(name),
        bot_id=bot_id,
    )
    response = await harness.post(*p.interactive_request(payload))
    assert response.status_code == 200
    answer = await harness.response(name)
    await harness.settle()
    assert answer["response_type"] == "ephemeral"
    return blocks_text(answer)


async def memories(harness: SlackHarness, identity: IdentityKey) -> list[MemoryItem]:
    account = await harness.core.store.resolve_account(identity)
    return await harness.core.memory.export(account.id, epoch=0)


async def test_remember_this_stores_your_own_message_with_its_channels_privacy(
    slack_http: SlackHarness,
) -> None:
    said = await shortcut(slack_http, REMEMBER_CALLBACK, name="public", text="I moved to Lisbon in May")
    secret = await shortcut(
        slack_http, REMEMBER_CALLBACK, name="private", text="My badge number is 77", channel=p.SECRET_CHANNEL
    )

    assert "I'll remember that (from a public channel)" in said
    assert "I'll remember that (I'll only bring it up in private)" in secret
    assert await slack_http.core.writer.flush(10)
    kept = {m.text: m for m in await memories(slack_http, ALICE)}
    assert kept["I moved to Lisbon in May"].is_private is False
    assert kept["I moved to Lisbon in May"].channel == p.GENERAL
    assert kept["My badge number is 77"].is_private is True
    assert await memories(slack_http, BOB) == []


async def test_remember_this_refuses_someone_elses_message_and_bots(slack_http: SlackHarness) -> None:
    others = await shortcut(slack_http, REMEMBER_CALLBACK, name="bob", author=p.BOB, text="Bob's plans")
    bots = await shortcut(
        slack_http, REMEMBER_CALLBACK, name="bot", author=None, bot_id="B0OTHER", text="a bot said"
    )

    assert NOT_YOURS[:40] in others
    assert NOT_YOURS[:40] in bots
    assert await memories(slack_http, ALICE) == []
    assert await memories(slack_http, BOB) == []


async def test_remember_this_says_no_while_paused_and_for_empty_or_huge_messages(
    slack_http: SlackHarness,
) -> None:
    await slack_http.core.assistant.run_command(ALICE, Command(CommandName.PAUSE))
    paused = await shortcut(slack_http, REMEMBER_CALLBACK, name="paused", text="while paused")
    await slack_http.core.assistant.run_command(ALICE, Command(CommandName.RESUME))
    empty = await shortcut(slack_http, REMEMBER_CALLBACK, name="empty", text="   ")
    huge = await shortcut(slack_http, REMEMBER_CALLBACK, name="huge", text="x" * 16_001)

    assert "Your memory is paused" in paused
    assert "no text I could remember" in empty
    assert "too long to remember" in huge
    assert await slack_http.core.writer.flush(10)
    assert await memories(slack_http, ALICE) == []


async def test_what_is_remembered_shows_in_an_open_home_tab_once_written(slack_http: SlackHarness) -> None:
    await slack_http.event(sp.home_opened(user=p.ALICE))
    await slack_http.settle()
    published = slack_http.slack.home_count(p.ALICE)

    await shortcut(slack_http, REMEMBER_CALLBACK, name="home", text="I have two cats")
    assert await slack_http.core.writer.flush(10)
    await slack_http.settle()

    assert slack_http.slack.home_count(p.ALICE) == published + 1
    view = slack_http.slack.home(p.ALICE)
    assert view is not None
    assert "I have two cats" in json.dumps(view["blocks"])


async def test_forget_what_was_learned_offers_your_matching_memories_from_that_channel(
    slack_http: SlackHarness,
) -> None:
    account = await slack_http.core.store.resolve_account(ALICE)
    general = MemoryOrigin(Platform.SLACK, p.GENERAL, is_private=False)
    elsewhere = MemoryOrigin(Platform.SLACK, p.SECRET_CHANNEL, is_private=True)
    (match,) = await slack_http.core.memory.remember(
        account.id, [{"role": "user", "content": "I moved to Lisbon in May"}], origin=general, epoch=0
    )
    await slack_http.core.memory.remember(
        account.id, [{"role": "user", "content": "I moved to Lisbon for work"}], origin=elsewhere, epoch=0
    )
    bob = await slack_http.core.store.resolve_account(BOB)
    await slack_http.core.memory.remember(
        bob.id, [{"role": "user", "content": "I moved to Lisbon in May too"}], origin=general, epoch=0
    )

    offered = await shortcut(
        slack_http, FORGET_CALLBACK, name="forget", author=p.BOB, text="Alice moved to Lisbon in May"
    )

    assert "I moved to Lisbon in May" in offered
    assert "for work" not in offered  # learned in another channel
    assert "too" not in offered  # Bob's
    answer = slack_http.slack.responses("forget")[0]
    deletes = [
        b["accessory"] for b in answer["blocks"] if b.get("accessory", {}).get("action_id") == ACTION_DELETE
    ]
    assert [json.loads(d["value"])["id"] for d in deletes] == [match.id]

    # Its Delete button is /memory's: it forgets the memory, for the clicker.
    await slack_http.click(ACTION_DELETE, deletes[0]["value"], name="deleted")
    await slack_http.response("deleted")
    assert match.id not in [m.id for m in await memories(slack_http, ALICE)]


async def test_forget_what_was_learned_with_nothing_matching(slack_http: SlackHarness) -> None:
    said = await shortcut(slack_http, FORGET_CALLBACK, name="none", text="nothing was learned from this")

    assert "I have no memories of yours from this channel" in said
