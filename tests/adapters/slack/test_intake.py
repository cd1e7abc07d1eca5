"""Slack through the durable intake, in one process: what the front door records, a retry that
continues the answer an earlier attempt began, the apology for a message that waited too long, and
an intake that cannot record (Slack is not acknowledged, so it delivers again)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from adapters.slack.responders import LATE_REPLY, message_delivery
from adapters.slack.translate import parse_message_event
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness

ANSWER = "Water the fern on Sundays, and mist it when the heating is on."


def deliveries(harness: SlackHarness) -> list[sqlite3.Row]:
    with sqlite3.connect(Path(harness.core.settings.data_dir) / "intake.db") as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM deliveries ORDER BY seq").fetchall()


async def test_the_twin_events_and_retries_of_one_message_are_one_delivery(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: ANSWER
    mention = p.app_mention("how often should I water my fern?")
    twin = p.message(mention["text"], ts=mention["ts"])  # the message.channels event of the same message
    model = slack_http.model.hold("chat")
    assert (await slack_http.event(mention)).status_code == 200
    assert (await slack_http.event(twin)).status_code == 200
    assert (await slack_http.event(mention, retry=1)).status_code == 200
    [recorded] = deliveries(slack_http)
    assert recorded["kind"] == "slack.message"
    assert recorded["key"] == f"msg:slack:{p.TEAM}:{p.GENERAL}:{mention['ts']}"
    model.release()
    await slack_http.settle()

    assert [m.text for m in slack_http.slack.posted(p.GENERAL)] == [ANSWER]
    [done] = deliveries(slack_http)
    assert done["done_at"] is not None
    assert done["payload"] is None  # the person's words are not kept once answered


async def test_a_retry_continues_the_answer_an_earlier_attempt_began(slack_http: SlackHarness) -> None:
    slack_http.model.state.reply = lambda messages: ANSWER
    slack_http.slack.fail("chat.update", "internal_error", times=10_000)  # Slack has trouble
    mention = p.app_mention("and my fern?")
    await slack_http.event(mention)

    def first_attempt_failed() -> bool:
        [row] = deliveries(slack_http)
        return row["attempts"] == 1 and row["not_before"] is not None and row["leased_by"] is None

    await slack_http.slack.wait_for(first_attempt_failed)
    assert len(slack_http.slack.posted(p.GENERAL)) == 1  # the first words were posted
    slack_http.slack.heal()
    await slack_http.settle()

    posted = slack_http.slack.posted(p.GENERAL)
    assert [m.text for m in posted] == [ANSWER]  # the same message, brought up to date: not a second one
    assert posted[0].thread_ts == mention["ts"]
    assert slack_http.slack.count("chat.postMessage") == 1
    assert slack_http.model.count("chat") == 2


async def test_a_message_that_waited_too_long_gets_an_apology_in_its_thread(slack_http: SlackHarness) -> None:
    mention = p.app_mention("are you there?")
    message = parse_message_event(p.envelope(mention), bot_user_id=p.BOT_USER)
    assert message is not None
    waited = slack_http.core.clock() - timedelta(minutes=11)  # every worker was down that long
    assert await slack_http.core.assistant.accept(message_delivery(message, received_at=waited))
    await slack_http.settle()

    posted = slack_http.slack.posted(p.GENERAL)
    assert [m.text for m in posted] == [LATE_REPLY]
    assert posted[0].thread_ts == mention["ts"]
    assert slack_http.model.count("chat") == 0


async def test_an_intake_that_cannot_record_is_not_acknowledged(slack_http: SlackHarness) -> None:
    with sqlite3.connect(Path(slack_http.core.settings.data_dir) / "intake.db") as conn:
        conn.execute("DROP TABLE deliveries")  # the inbox is broken: nothing can be recorded

    response = await slack_http.event(p.app_mention("is anyone there?"))

    assert response.status_code == 500  # not acknowledged: Slack delivers the event again later
    assert slack_http.slack.posted(p.GENERAL) == []
    assert slack_http.model.count("chat") == 0
