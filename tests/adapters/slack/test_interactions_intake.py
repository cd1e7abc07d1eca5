"""/memory commands, button clicks and message shortcuts through the durable intake: the front door
records and acknowledges them; a worker (in this process or another one, started later) answers
through the response_url and the Web API. Mirrors test_intake.py (messages)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.home_view import HOME_FORGET_ALL
from adapters.slack.interactions import (
    LATE_ANSWER,
    SLACK_ACTION,
    SLACK_COMMAND,
    SLACK_SHORTCUT,
    interaction_delivery,
)
from adapters.slack.render import ACTION_DELETE, ACTION_FORGET_ALL_CONFIRM, ShowState, encode_state
from adapters.slack.shortcuts import ASKED_BEFORE_ERASURE, REMEMBER_CALLBACK
from bot.wiring import Core, build_core
from core.commands import Command, CommandName
from core.models import IdentityKey, MemoryItem, MemoryOrigin, Platform
from tests.adapters.slack import payloads as p
from tests.adapters.slack import surface_payloads as sp
from tests.adapters.slack.conftest import (
    SlackHarness,
    blocks_text,
    deliveries,
    drained,
    front_door,
    slack_settings,
    worker,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

ALICE = IdentityKey(Platform.SLACK, p.TEAM, p.ALICE)


async def seed(core: Core, facts: list[str]) -> list[MemoryItem]:
    account = await core.store.resolve_account(ALICE)
    added = await core.memory.remember(
        account.id,
        [{"role": "user", "content": fact} for fact in facts],
        origin=MemoryOrigin(Platform.SLACK, p.GENERAL, is_private=False),
        epoch=0,
    )
    assert len(added) == len(facts)
    return added


async def texts(core: Core) -> list[str]:
    account = await core.store.resolve_account(ALICE)
    return sorted(item.text for item in await core.memory.export(account.id, epoch=0))


async def accept(core: Core, kind: str, body: dict[str, Any], *, received_at: datetime) -> None:
    """What the front door records, received at a chosen time (to age it past the bound)."""
    assert await core.assistant.accept(interaction_delivery(kind, body, received_at=received_at))


async def test_a_command_is_recorded_by_the_front_door_and_answered_by_a_worker_started_later(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    async with front_door(settings, fake_openai, fake_slack) as door:
        response = await door.command("help", name="help")
        assert response.status_code == 200
        assert response.text == ""  # acknowledged; the answer comes from a worker
    # The front door's process is gone and nothing answered yet: the command waits in the intake.
    [recorded] = deliveries(settings)
    assert recorded["kind"] == SLACK_COMMAND
    assert recorded["lane"] == f"slack.person:{p.TEAM}:{p.ALICE}"
    assert recorded["done_at"] is None
    assert json.loads(recorded["payload"])["body"]["text"] == "help"
    assert fake_slack.responses("help") == []

    async with worker(settings) as answering:
        await drained(answering)
    [answer] = fake_slack.responses("help")
    assert answer["response_type"] == "ephemeral"
    assert "/memory" in blocks_text(answer)
    [done] = deliveries(settings)
    assert done["done_at"] is not None
    assert done["payload"] is None  # what was typed is not kept once answered

    async with worker(settings) as again:  # another worker later: nothing is answered twice
        await drained(again)
    assert len(fake_slack.responses("help")) == 1


async def test_a_click_is_recorded_and_a_worker_acts_on_it_for_the_clicker(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    async with build_core(settings) as core:
        items = await seed(core, ["I play the cello", "I am vegetarian"])
    cello = next(i for i in items if "cello" in i.text)
    async with front_door(settings, fake_openai, fake_slack) as door:
        response = await door.click(ACTION_DELETE, encode_state(ShowState(0, "", cello.id)), name="delete")
        assert response.status_code == 200
    [recorded] = deliveries(settings)
    assert recorded["kind"] == SLACK_ACTION
    assert recorded["lane"] == f"slack.person:{p.TEAM}:{p.ALICE}"

    async with worker(settings) as answering:
        await drained(answering)
        assert await texts(answering) == ["I am vegetarian"]
    [answer] = fake_slack.responses("delete")
    assert answer["replace_original"] is True
    assert "Forgotten: I play the cello" in blocks_text(answer)


async def test_a_worker_that_dies_mid_answer_leaves_the_command_to_the_next_one(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    async with front_door(settings, fake_openai, fake_slack) as door:
        assert (await door.command("help", name="help")).status_code == 200
    held = fake_slack.hold("users.info")  # the first worker looks the person's name up, and hangs
    try:
        async with worker(settings):
            await held.arrived()
        # That worker stopped without finishing (grace 0): its lease expires, the next takes over.
        [abandoned] = deliveries(settings)
        assert abandoned["done_at"] is None
        assert fake_slack.responses("help") == []
        async with worker(settings) as second:
            await drained(second)
    finally:
        held.release()
    [answer] = fake_slack.responses("help")
    assert "/memory" in blocks_text(answer)
    [done] = deliveries(settings)
    assert done["attempts"] == 2


async def test_a_redelivered_command_or_click_is_answered_once(slack_http: SlackHarness) -> None:
    command = p.slash_command("help", response_url=slack_http.slack.response_url("help"))
    click = p.block_action(
        ACTION_DELETE,
        encode_state(ShowState(0, "", "no-such-id")),
        response_url=slack_http.slack.response_url("click"),
    )
    for _ in range(2):  # Slack's redelivery (Socket Mode) or two front doors: same trigger_id
        assert (await slack_http.post(*p.form_request(command))).status_code == 200
        assert (await slack_http.post(*p.interactive_request(click))).status_code == 200
    await slack_http.settle()

    assert len(deliveries(slack_http.core.settings)) == 2
    assert len(slack_http.slack.responses("help")) == 1
    assert len(slack_http.slack.responses("click")) == 1


async def test_one_persons_commands_are_answered_in_order_and_others_meanwhile(
    slack_http: SlackHarness,
) -> None:
    held = slack_http.slack.hold("users.info")  # Alice's first command waits for her name
    try:
        await slack_http.command("help", name="alice-1")
        await held.arrived()
        await slack_http.command("help", name="alice-2")
        await slack_http.command("help", name="bob", user=p.BOB)
        await slack_http.response("bob")  # another person's lane is not held up
    finally:
        held.release()
    await slack_http.settle()

    order = [name for name, _ in slack_http.slack.state.responses]
    assert order == ["bob", "alice-1", "alice-2"]


async def test_a_late_click_is_not_run_and_gets_an_apology(slack_http: SlackHarness) -> None:
    await seed(slack_http.core, ["keep me"])
    body = p.block_action(ACTION_FORGET_ALL_CONFIRM, "", response_url=slack_http.slack.response_url("late"))
    waited = slack_http.core.clock() - timedelta(minutes=11)  # every worker was down that long
    await accept(slack_http.core, SLACK_ACTION, body, received_at=waited)
    await slack_http.settle()

    [answer] = slack_http.slack.responses("late")
    assert LATE_ANSWER in blocks_text(answer)
    assert await texts(slack_http.core) == ["keep me"]  # the stale "forget everything" did nothing


async def test_a_late_home_click_republishes_the_tab_with_the_apology(slack_http: SlackHarness) -> None:
    await seed(slack_http.core, ["keep me too"])
    body = sp.home_click(HOME_FORGET_ALL, "", user=p.ALICE)
    waited = slack_http.core.clock() - timedelta(minutes=11)
    await accept(slack_http.core, SLACK_ACTION, body, received_at=waited)
    await slack_http.settle()

    view = slack_http.slack.home(p.ALICE)
    assert view is not None
    assert LATE_ANSWER in json.dumps(view)
    assert "keep me too" in json.dumps(view)
    assert await texts(slack_http.core) == ["keep me too"]


async def test_remember_this_asked_before_an_erasure_is_not_kept(slack_http: SlackHarness) -> None:
    body = sp.message_shortcut(
        REMEMBER_CALLBACK,
        clicker=p.ALICE,
        author=p.ALICE,
        text="my locker code is 4711",
        response_url=slack_http.slack.response_url("remember"),
    )
    asked = slack_http.core.clock() - timedelta(seconds=5)  # then Alice erased everything
    await slack_http.core.assistant.run_command(ALICE, Command(CommandName.FORGET_ALL, confirmed=True))
    await accept(slack_http.core, SLACK_SHORTCUT, body, received_at=asked)
    await slack_http.settle()
    assert await slack_http.core.writer.flush(10)

    [answer] = slack_http.slack.responses("remember")
    assert ASKED_BEFORE_ERASURE in blocks_text(answer)
    assert await texts(slack_http.core) == []


async def test_a_command_the_intake_cannot_record_is_not_acknowledged(slack_http: SlackHarness) -> None:
    with sqlite3.connect(Path(slack_http.core.settings.data_dir) / "intake.db") as conn:
        conn.execute("DROP TABLE deliveries")

    response = await slack_http.command("help", name="lost")
    click = await slack_http.click(ACTION_DELETE, "{}", name="lost-click")

    assert response.status_code == 500  # Slack tells the person it failed, rather than a silent ack
    assert click.status_code == 500
    assert slack_http.slack.responses() == []


def test_a_delivery_of_an_unknown_kind_is_refused() -> None:
    body: dict[str, Any] = {"trigger_id": "1.2.3", "user_id": p.ALICE, "team_id": p.TEAM}
    with pytest.raises(ValueError, match=r"slack\.nonsense"):
        interaction_delivery("slack.nonsense", body, received_at=datetime.now(UTC))


def test_the_key_is_the_trigger_id_and_the_lane_the_person() -> None:
    now = datetime.now(UTC)
    command = p.slash_command("show", response_url="http://127.0.0.1/respond/x", trigger_id="T.1")
    click = p.block_action(ACTION_DELETE, "{}", response_url="http://127.0.0.1/respond/y", trigger_id="T.2")
    typed = interaction_delivery(SLACK_COMMAND, command, received_at=now)
    clicked = interaction_delivery(SLACK_ACTION, click, received_at=now)
    assert typed.key == f"slack.command:slack:{p.TEAM}:T.1"
    assert clicked.key == f"slack.action:slack:{p.TEAM}:T.2"
    assert typed.lane == clicked.lane == f"slack.person:{p.TEAM}:{p.ALICE}"
    # Without a trigger_id (Slack always sends one), two different bodies are still two deliveries.
    del command["trigger_id"], click["trigger_id"]
    first = interaction_delivery(SLACK_COMMAND, command, received_at=now)
    other = interaction_delivery(SLACK_COMMAND, command | {"text": "help"}, received_at=now)
    assert first.key != other.key
    assert first.key == interaction_delivery(SLACK_COMMAND, dict(command), received_at=now).key


async def test_a_retry_after_the_answer_went_out_does_not_answer_again(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    async with front_door(settings, fake_openai, fake_slack) as door:
        assert (await door.command("help", name="help")).status_code == 200
        [recorded] = deliveries(settings)
        # What an earlier worker notes once its answer is posted, before it died unfinished.
        await door.core.intake.note_reply(recorded["id"], {"final": True})

    async with worker(settings) as answering:
        await drained(answering)

    assert fake_slack.responses("help") == []
    [done] = deliveries(settings)
    assert done["done_at"] is not None
