"""Exactly one reply and one memory write per Slack message, whatever Slack redelivers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness, running_slack, slack_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack


def _retry_headers(headers: dict[str, str], number: int) -> dict[str, str]:
    return headers | {"X-Slack-Retry-Num": str(number), "X-Slack-Retry-Reason": "http_timeout"}


async def test_retries_give_one_reply_and_one_memory_write(slack_http: SlackHarness) -> None:
    body, headers = p.json_request(p.envelope(p.app_mention("my favourite colour is green")))

    statuses = [(await slack_http.post(body, headers)).status_code]
    for number in (1, 2, 3):  # Slack's three retries, same event id and body
        statuses.append((await slack_http.post(body, _retry_headers(headers, number))).status_code)
    await slack_http.settle()
    assert await slack_http.core.writer.flush(10)

    assert statuses == [200, 200, 200, 200]
    assert slack_http.slack.count("chat.postMessage") == 1
    assert slack_http.model.count("chat") == 1
    assert slack_http.model.count("extract") == 1


async def test_app_mention_and_message_events_for_one_message_give_one_reply(
    slack_http: SlackHarness,
) -> None:
    """Slack sends both app_mention and message.channels (different event ids, same ts)."""
    mention = p.app_mention("I live in Lisbon")
    same_message = p.message(mention["text"], ts=mention["ts"])
    requests = [p.json_request(p.envelope(mention)), p.json_request(p.envelope(same_message))]

    responses = await asyncio.gather(*(slack_http.post(body, headers) for body, headers in requests))
    await slack_http.settle()
    assert await slack_http.core.writer.flush(10)

    assert [r.status_code for r in responses] == [200, 200]
    posted = slack_http.slack.posted(p.GENERAL)
    assert len(posted) == 1
    assert posted[0].thread_ts == mention["ts"]
    assert slack_http.model.count("chat") == 1
    assert slack_http.model.count("extract") == 1


async def test_a_retry_after_a_restart_is_not_answered_again(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    body, headers = p.json_request(p.envelope(p.app_mention("hello before the restart")))

    async with running_slack(settings, fake_openai, fake_slack) as first:
        assert (await first.post(body, headers)).status_code == 200
        await first.settle()
    async with running_slack(settings, fake_openai, fake_slack) as second:
        assert (await second.post(body, _retry_headers(headers, 1))).status_code == 200
        await second.settle()

    assert fake_slack.count("chat.postMessage") == 1
    assert fake_openai.count("chat") == 1


async def test_two_processes_on_one_database_answer_once(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    body, headers = p.json_request(p.envelope(p.app_mention("which of you answers?")))

    async with (
        running_slack(settings, fake_openai, fake_slack) as one,
        running_slack(settings, fake_openai, fake_slack) as two,
    ):
        responses = await asyncio.gather(one.post(body, headers), two.post(body, _retry_headers(headers, 1)))
        await asyncio.gather(one.settle(), two.settle())

    assert [r.status_code for r in responses] == [200, 200]
    assert fake_slack.count("chat.postMessage") == 1
    assert fake_openai.count("chat") == 1
