"""The App Home tab end to end: app_home_opened and Home clicks -> views.publish (fake Slack), for
two people who each see only their own memories; refreshed after changes made anywhere."""

from __future__ import annotations

import json
from typing import Any

from adapters.slack.home_view import (
    HOME_DELETE,
    HOME_EXPORT,
    HOME_FORGET_ALL,
    HOME_OLDER,
    HOME_PAUSE,
    HOME_RESUME,
    HomeState,
    encode_home,
)
from core.commands import Command, CommandName
from core.models import IdentityKey, MemoryItem, MemoryOrigin, Platform
from tests.adapters.slack import payloads as p
from tests.adapters.slack import surface_payloads as sp
from tests.adapters.slack.conftest import SlackHarness

ALICE = IdentityKey(Platform.SLACK, p.TEAM, p.ALICE)
BOB = IdentityKey(Platform.SLACK, p.TEAM, p.BOB)


async def seed(
    harness: SlackHarness, identity: IdentityKey, facts: list[str], *, private: bool = False
) -> list[MemoryItem]:
    account = await harness.core.store.resolve_account(identity)
    added = []
    for fact in facts:  # one at a time: created_at orders them
        added += await harness.core.memory.remember(
            account.id,
            [{"role": "user", "content": fact}],
            origin=MemoryOrigin(Platform.SLACK, p.ALICE_DM if private else p.GENERAL, is_private=private),
            epoch=0,
        )
    assert len(added) == len(facts)
    return added


async def open_home(harness: SlackHarness, user: str) -> dict[str, Any]:
    before = harness.slack.home_count(user)
    response = await harness.event(sp.home_opened(user=user))
    assert response.status_code == 200
    await harness.settle()
    assert harness.slack.home_count(user) == before + 1
    view = harness.slack.home(user)
    assert view is not None
    return view


async def click(harness: SlackHarness, action_id: str, value: str, *, user: str) -> None:
    response = await harness.post(*p.interactive_request(sp.home_click(action_id, value, user=user)))
    assert response.status_code == 200
    await harness.settle()


def text_of(view: dict[str, Any] | None) -> str:
    assert view is not None
    return json.dumps(view["blocks"], ensure_ascii=False)


def buttons(view: dict[str, Any] | None, action_id: str) -> list[dict[str, Any]]:
    assert view is not None
    found = []
    for block in view["blocks"]:
        elements = list(block.get("elements", [])) + ([block["accessory"]] if "accessory" in block else [])
        found += [e for e in elements if e.get("action_id") == action_id]
    return found


async def test_each_person_sees_only_their_own_memories(slack_http: SlackHarness) -> None:
    await seed(slack_http, ALICE, ["Alice likes green tea"])
    await seed(slack_http, ALICE, ["Alice's door code is 4321"], private=True)
    await seed(slack_http, BOB, ["Bob plays the cello"])

    alice, bob = await open_home(slack_http, p.ALICE), await open_home(slack_http, p.BOB)

    assert "Alice likes green tea" in text_of(alice)
    assert "door code is 4321" in text_of(alice)  # the tab is private: private memories too
    assert "Bob plays the cello" not in text_of(alice)
    assert "Bob plays the cello" in text_of(bob)
    assert "Alice" not in text_of(bob)
    assert [call.args["user_id"] for call in slack_http.slack.calls("views.publish")] == [p.ALICE, p.BOB]


async def test_memories_show_where_and_when_newest_first_with_delete_buttons(
    slack_http: SlackHarness,
) -> None:
    older, newer = await seed(slack_http, ALICE, ["first fact", "second fact"])

    view = await open_home(slack_http, p.ALICE)

    shown = text_of(view)
    assert shown.index("second fact") < shown.index("first fact")
    assert f"Learned in <#{p.GENERAL}>" in shown
    assert f"on {newer.created_at[:10]}" in shown  # type: ignore[index]
    deletes = buttons(view, HOME_DELETE)
    assert [json.loads(b["value"])["id"] for b in deletes] == [newer.id, older.id]
    for control in (HOME_PAUSE, HOME_EXPORT, HOME_FORGET_ALL):
        assert len(buttons(view, control)) == 1, control


async def test_a_delete_in_the_home_tab_removes_the_memory_and_republishes(slack_http: SlackHarness) -> None:
    keep, drop = await seed(slack_http, ALICE, ["keep this", "drop this"])
    await open_home(slack_http, p.ALICE)
    published = slack_http.slack.home_count(p.ALICE)

    await click(slack_http, HOME_DELETE, encode_home(HomeState(0, drop.id)), user=p.ALICE)

    assert slack_http.slack.home_count(p.ALICE) == published + 1
    assert "drop this" not in text_of(slack_http.slack.home(p.ALICE))
    assert "keep this" in text_of(slack_http.slack.home(p.ALICE))
    account = await slack_http.core.store.resolve_account(ALICE)
    assert [m.id for m in await slack_http.core.memory.export(account.id, epoch=0)] == [keep.id]


async def test_a_delete_click_acts_for_the_clicker_only(slack_http: SlackHarness) -> None:
    (alices,) = await seed(slack_http, ALICE, ["Alice's secret"])

    await click(slack_http, HOME_DELETE, encode_home(HomeState(0, alices.id)), user=p.BOB)

    account = await slack_http.core.store.resolve_account(ALICE)
    assert [m.id for m in await slack_http.core.memory.export(account.id, epoch=0)] == [alices.id]
    assert "That memory was already gone." in text_of(slack_http.slack.home(p.BOB))
    assert "Alice's secret" not in text_of(slack_http.slack.home(p.BOB))
    assert slack_http.slack.home(p.ALICE) is None


async def test_pages_of_ten_and_the_page_is_kept_across_a_refresh(slack_http: SlackHarness) -> None:
    facts = await seed(slack_http, ALICE, [f"fact number {i}" for i in range(12)])
    first = await open_home(slack_http, p.ALICE)
    assert len(buttons(first, HOME_DELETE)) == 10

    (older,) = buttons(first, HOME_OLDER)
    await click(slack_http, HOME_OLDER, older["value"], user=p.ALICE)
    second = slack_http.slack.home(p.ALICE)
    assert "fact number 0" in text_of(second)
    assert "11–12 of 12" in text_of(second)

    # A change from /memory refreshes the tab at the page Alice was looking at.
    await slack_http.command(f"forget {facts[0].id}", name="forget")
    await slack_http.response("forget")
    await slack_http.settle()
    assert "11–11 of 11" in text_of(slack_http.slack.home(p.ALICE))


async def test_pause_and_resume_from_the_home_tab(slack_http: SlackHarness) -> None:
    await open_home(slack_http, p.ALICE)

    await click(slack_http, HOME_PAUSE, "pause", user=p.ALICE)
    assert (await slack_http.core.assistant.settings(ALICE)).memory_paused
    assert buttons(slack_http.slack.home(p.ALICE), HOME_RESUME)

    await click(slack_http, HOME_RESUME, "resume", user=p.ALICE)
    assert not (await slack_http.core.assistant.settings(ALICE)).memory_paused
    assert buttons(slack_http.slack.home(p.ALICE), HOME_PAUSE)


async def test_forget_everything_asks_for_confirmation_then_erases(slack_http: SlackHarness) -> None:
    await seed(slack_http, ALICE, ["something to erase"])
    await seed(slack_http, BOB, ["Bob's own"])
    view = await open_home(slack_http, p.ALICE)
    (forget,) = buttons(view, HOME_FORGET_ALL)
    assert forget["confirm"]["confirm"]["text"] == "Forget everything"  # Slack's confirmation dialog

    await click(slack_http, HOME_FORGET_ALL, forget["value"], user=p.ALICE)

    assert "I don't remember anything about you yet." in text_of(slack_http.slack.home(p.ALICE))
    bob = await slack_http.core.store.resolve_account(BOB)
    assert [m.text for m in await slack_http.core.memory.export(bob.id, epoch=0)] == ["Bob's own"]


async def test_export_sends_the_file_to_the_dm_and_says_so_in_the_tab(slack_http: SlackHarness) -> None:
    await seed(slack_http, ALICE, ["exported fact"])

    await click(slack_http, HOME_EXPORT, "export", user=p.ALICE)

    (upload,) = slack_http.slack.state.uploads.values()
    assert upload.channel == f"D{p.ALICE}"
    assert "exported fact" in upload.content.decode()
    assert "I sent your 1 memory as a JSON file" in text_of(slack_http.slack.home(p.ALICE))


async def test_a_change_on_another_platform_refreshes_the_linked_slack_tab(slack_http: SlackHarness) -> None:
    discord = IdentityKey(Platform.DISCORD, "", "4242")
    issued = await slack_http.core.assistant.issue_link_code(ALICE)
    await slack_http.core.assistant.redeem_link_code(discord, issued.code)
    await slack_http.settle()
    assert "Discord, Slack share this memory" in text_of(slack_http.slack.home(p.ALICE))
    published = slack_http.slack.home_count(p.ALICE)

    await slack_http.core.assistant.run_command(discord, Command(CommandName.PAUSE))
    await slack_http.settle()

    assert slack_http.slack.home_count(p.ALICE) == published + 1
    assert buttons(slack_http.slack.home(p.ALICE), HOME_RESUME)
    assert slack_http.slack.home(p.BOB) is None


async def test_the_messages_tab_and_bad_buttons(slack_http: SlackHarness) -> None:
    response = await slack_http.event(sp.home_opened(user=p.ALICE, tab="messages"))
    await slack_http.settle()
    assert response.status_code == 200
    assert slack_http.slack.home(p.ALICE) is None

    await click(slack_http, HOME_DELETE, '{"p": "x"}', user=p.ALICE)
    assert "That button no longer works" in text_of(slack_http.slack.home(p.ALICE))


async def test_a_failed_publish_is_logged_and_the_next_one_works(slack_http: SlackHarness) -> None:
    await seed(slack_http, ALICE, ["still here"])
    slack_http.slack.fail("views.publish", "internal_error")

    await slack_http.event(sp.home_opened(user=p.ALICE))
    await slack_http.settle()
    assert slack_http.slack.home(p.ALICE) is None

    view = await open_home(slack_http, p.ALICE)
    assert "still here" in text_of(view)


async def test_memories_learned_in_a_conversation_refresh_only_an_open_tab(slack_http: SlackHarness) -> None:
    await open_home(slack_http, p.ALICE)
    published = slack_http.slack.home_count(p.ALICE)
    slack_http.model.state.reply = lambda messages: "Nice!"

    for user in (p.ALICE, p.BOB):
        await slack_http.event(p.dm("I started learning the violin", user=user, channel=f"D{user}"))
        await slack_http.settle()
    assert await slack_http.core.writer.flush(10)
    await slack_http.settle()

    assert slack_http.slack.home_count(p.ALICE) == published + 1
    assert "I started learning the violin" in text_of(slack_http.slack.home(p.ALICE))
    assert slack_http.slack.home(p.BOB) is None  # Bob never opened his tab: no publish per message
