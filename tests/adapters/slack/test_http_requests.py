"""HTTP mode's front gate, through the real FastAPI app and bolt's FastAPI handler: every bad
request gets a 4xx, nothing is stored or posted, and the process keeps serving."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.slack.service import SlackService
from bot.web import create_web_app
from bot.wiring import build_core
from core.models import ConversationKey, Platform
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness, slack_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

MENTION = p.app_mention("this must never be answered")
BODY = json.dumps(p.envelope(MENTION)).encode()
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _signed(body: bytes, content_type: dict[str, str] = JSON, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    return body, content_type | p.sign(body, **kwargs)


def _signed_json(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return _signed(json.dumps(payload).encode())


def _with_event(**fields: Any) -> dict[str, Any]:
    return p.envelope(MENTION | fields)


def _latin1(headers: Mapping[str, str]) -> dict[str, bytes]:
    """Header values as raw bytes: Slack's headers are ASCII, an attacker's need not be."""
    return {name: value.encode("latin-1") for name, value in headers.items()}


def bad_requests() -> dict[str, tuple[bytes, Mapping[str, str | bytes], int]]:
    """Built when a test runs, not at collection: signatures carry the current time, and a long
    suite would otherwise make every timestamp stale before these tests run."""
    return {
        "wrong secret": (*_signed(BODY, secret="not-the-signing-secret"), 401),
        "body changed after signing": (
            BODY.replace(b"never", b"surely"),
            JSON | p.sign(BODY),
            401,
        ),
        "stale timestamp": (*_signed(BODY, timestamp=int(time.time()) - 600), 401),
        "timestamp from the future": (*_signed(BODY, timestamp=int(time.time()) + 600), 401),
        "no signature header": (BODY, JSON | {"X-Slack-Request-Timestamp": str(int(time.time()))}, 401),
        "no timestamp header": (BODY, JSON | {"X-Slack-Signature": p.sign(BODY)["X-Slack-Signature"]}, 401),
        "no headers at all": (BODY, JSON, 401),
        "non-integer timestamp": (
            BODY,
            JSON | {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=abc"},
            400,
        ),
        "fractional timestamp": (
            BODY,
            JSON | {"X-Slack-Request-Timestamp": "1750000000.5", "X-Slack-Signature": "v0=abc"},
            400,
        ),
        "malformed signature": (BODY, JSON | {**p.sign(BODY), "X-Slack-Signature": "garbage"}, 401),
        "non-ASCII signature": (BODY, _latin1(JSON | {**p.sign(BODY), "X-Slack-Signature": "v0=é"}), 401),
        "non-ASCII signature of the right length": (
            BODY,
            _latin1(JSON | {**p.sign(BODY), "X-Slack-Signature": "v0=" + "é" * 64}),
            401,
        ),
        "very long signature": (
            BODY,
            JSON | {**p.sign(BODY), "X-Slack-Signature": "v0=" + "a" * 20_000},
            401,
        ),
        "latin-1 digits in the timestamp": (
            BODY,
            _latin1(JSON | {**p.sign(BODY), "X-Slack-Request-Timestamp": "175000000²"}),
            400,
        ),
        "signed malformed JSON": (*_signed(b'{"type": "event_callback", "event": {'), 400),
        "signed JSON array": (*_signed(b"[1, 2, 3]"), 400),
        "signed non-UTF-8 body": (*_signed(b'{"type": "\xff\xfe"}'), 400),
        "signed empty body": (*_signed(b""), 400),
        "signed malformed form payload": (*_signed(b"payload=%7Bnot-json", FORM), 400),
        "signed form payload that is a list": (*_signed(b"payload=%5B1%5D", FORM), 400),
        "signed form without a command": (*_signed(b"foo=bar", FORM), 404),
        "signed event that is not an object": (*_signed(b'{"type": "event_callback", "event": "x"}'), 400),
        # Shapes bolt's own matchers index without checking (a 500 inside bolt before).
        "signed event type that is a list": (*_signed_json(_with_event(type=["app_mention"])), 400),
        "signed event subtype that is a number": (*_signed_json(_with_event(subtype=5)), 400),
        "signed block action without an action_id": (
            *_signed_json({"type": "block_actions", "actions": [{}]}),
            400,
        ),
        "signed block actions that are empty": (*_signed_json({"type": "block_actions", "actions": []}), 400),
        "signed view submission without a view type": (
            *_signed_json({"type": "view_submission", "view": {"callback_id": "x"}}),
            400,
        ),
        "signed attachment action without actions": (
            *_signed_json({"type": "interactive_message", "callback_id": "x"}),
            400,
        ),
        "signed function that is not an object": (
            *_signed_json(_with_event(type="function_executed", function_execution_id="F1", function=5)),
            400,
        ),
        "signed assistant event without a thread": (
            *_signed_json(_with_event(type="assistant_thread_context_changed")),
            400,
        ),
        "signed actions that are not a list": (
            *_signed(b"payload=" + b'{"type": "block_actions", "actions": "x"}'.replace(b'"', b"%22"), FORM),
            400,
        ),
    }


@pytest.mark.parametrize("case", list(bad_requests()))
async def test_bad_requests_are_refused_and_change_nothing(slack_http: SlackHarness, case: str) -> None:
    body, headers, status = bad_requests()[case]
    response = await slack_http.post(body, headers)
    await slack_http.settle()

    assert response.status_code == status
    assert slack_http.slack.count("chat.postMessage") == 0
    assert slack_http.model.count("chat") == 0
    conversation = ConversationKey(Platform.SLACK, p.TEAM, p.GENERAL, MENTION["ts"])
    assert not await slack_http.core.store.has_session(conversation)
    # The event was never claimed: the first claim of its key still succeeds.
    assert await slack_http.core.store.claim_event(
        f"msg:slack:{p.TEAM}:{p.GENERAL}:{MENTION['ts']}", now=slack_http.core.clock()
    )

    # ...and the process keeps serving.
    ok = await slack_http.event(p.app_mention("and now a real one"))
    await slack_http.settle()
    assert ok.status_code == 200
    assert slack_http.slack.count("chat.postMessage") == 1


ODD_HEADERS = {
    "non-ASCII content type": {"Content-Type": "application/jsön"},
    "retry number that is not a number": {"X-Slack-Retry-Num": "x", "X-Slack-Retry-Reason": "ü"},
    # bolt's header for its serverless self-invocation: a lazy-only request is acked, not handled.
    "bolt's lazy-only header": {"X-Slack-Bolt-Lazy-Only": "1", "X-Slack-Bolt-Lazy-Function-Name": "x"},
}


@pytest.mark.parametrize("case", list(ODD_HEADERS))
async def test_odd_headers_on_a_genuine_event_neither_fail_nor_drop_it(
    slack_http: SlackHarness, case: str
) -> None:
    body, headers = p.json_request(p.envelope(p.app_mention("odd headers, real question")))

    response = await slack_http.post(body, _latin1(headers | ODD_HEADERS[case]))
    await slack_http.settle()

    assert response.status_code == 200
    assert slack_http.slack.count("chat.postMessage") == 1


async def test_oversized_body_is_refused(slack_http: SlackHarness) -> None:
    body = b'{"pad": "' + b"x" * 1_100_000 + b'"}'
    response = await slack_http.post(*_signed(body))

    assert response.status_code == 413


async def test_url_verification_challenge(slack_http: SlackHarness) -> None:
    challenge = {"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    body, headers = p.json_request({**challenge, "type": "url_verification"})

    response = await slack_http.post(body, headers)

    assert response.status_code == 200
    assert challenge["challenge"] in response.text


async def test_requests_before_start_get_503_so_slack_retries(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    async with build_core(settings) as core:
        service = SlackService(settings, core.assistant)
        app = create_web_app(core, routers=[service.router()])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            body, headers = p.json_request(p.envelope(p.app_mention("too early")))
            response = await http.post("/slack/events", content=body, headers=headers)

    assert response.status_code == 503
    assert fake_slack.count("chat.postMessage") == 0


async def test_only_post_is_served(slack_http: SlackHarness) -> None:
    response = await slack_http.http.get("/slack/events")

    assert response.status_code == 405


async def test_events_during_shutdown_get_503_so_slack_redelivers_them(slack_http: SlackHarness) -> None:
    await slack_http.service.stop_intake()

    response = await slack_http.event(p.app_mention("are you still there?"))

    assert response.status_code == 503
    await slack_http.settle()
    assert slack_http.slack.count("chat.postMessage") == 0
    assert slack_http.model.count("chat") == 0  # not taken in, so Slack's redelivery gets answered
