"""The assistant pane's messages through the durable intake: recorded by the front door, answered
by a worker (another process, started later) with the same status, title and native stream."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from adapters.slack.responders import LATE_REPLY, SLACK_PANE, pane_delivery
from adapters.slack.translate import parse_message_event
from tests.adapters.slack import payloads as p
from tests.adapters.slack import surface_payloads as sp
from tests.adapters.slack.conftest import (
    SlackHarness,
    deliveries,
    drained,
    front_door,
    slack_settings,
    worker,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

THREAD = "1750009999.000100"


async def test_a_pane_message_is_recorded_then_streamed_by_a_worker_started_later(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    fake_openai.state.reply = lambda messages: "You told me you like green tea."
    question = sp.pane_message("What do I drink in the morning?", thread_ts=THREAD)
    async with front_door(settings, fake_openai, fake_slack) as door:
        assert (await door.event(question)).status_code == 200
        assert (await door.event(question, retry=1)).status_code == 200  # Slack's retry
    [recorded] = deliveries(settings)
    assert recorded["kind"] == SLACK_PANE
    assert recorded["key"] == f"msg:slack:{p.TEAM}:{p.ALICE_DM}:{question['ts']}"
    assert json.loads(recorded["payload"])["event"]["text"] == "What do I drink in the morning?"
    assert fake_slack.count("assistant.threads.setStatus") == 0  # nothing answered at the door

    async with worker(settings) as answering:
        await drained(answering)

    (status,) = fake_slack.pane_calls("assistant.threads.setStatus")
    assert (status["status"], status["thread_ts"]) == ("is thinking...", THREAD)
    assert status["channel_id"] == p.ALICE_DM
    (title,) = fake_slack.pane_calls("assistant.threads.setTitle")
    assert title["title"] == "What do I drink in the morning?"
    (answer,) = [m for m in fake_slack.posted(p.ALICE_DM) if m.streamed]
    assert answer.text == "You told me you like green tea."
    assert answer.thread_ts == THREAD
    assert answer.args["recipient_user_id"] == p.ALICE
    assert answer.args["recipient_team_id"] == p.TEAM
    assert fake_openai.count("chat") == 1
    [done] = deliveries(settings)
    assert done["payload"] is None


async def test_a_pane_message_that_waited_too_long_gets_an_apology_in_its_thread(
    slack_http: SlackHarness,
) -> None:
    body = p.envelope(sp.pane_message("still there?", thread_ts=THREAD))
    message = parse_message_event(body, bot_user_id=p.BOT_USER)
    assert message is not None
    waited = slack_http.core.clock() - timedelta(minutes=11)
    assert await slack_http.core.assistant.accept(pane_delivery(message, body, received_at=waited))
    await slack_http.settle()

    (posted,) = slack_http.slack.posted(p.ALICE_DM)
    assert (posted.text, posted.thread_ts) == (LATE_REPLY, THREAD)
    assert slack_http.model.count("chat") == 0
