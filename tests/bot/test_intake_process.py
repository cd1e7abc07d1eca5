"""The durable intake across real process deaths: `python -m bot` as a subprocess (embedded: SQLite
in DATA_DIR, no server), Slack in HTTP mode fed signed events on PORT, the model a loopback fake.

kill -9 while the model is answering, then a restart on the same DATA_DIR: the acknowledged mention
is answered exactly once, in its thread; work queued when the process died is answered after the
restart, in order within each conversation.
"""

# The fixtures are test_sigterm's, imported by name (so arguments "redefine" them).
# ruff: noqa: F811
from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.adapters.slack import payloads as p
from tests.bot.test_sigterm import (  # noqa: F401 (fixtures)
    BotProcess,
    base_env,
    fake_slack,
    free_port,
    run_cli,
    spawn,
    wait_until,
)
from tests.fakes.jwks import mint
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack

ANSWER = "Basil likes the warmest spot on the balcony."


def slack_env(base_env: dict[str, str], fake_slack: FakeSlack) -> dict[str, str]:
    return base_env | {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": p.SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.base_url,
        "SCHEDULER_ENABLED": "false",
    }


def send(bot: BotProcess, event: dict[str, Any], *, retry: int | None = None) -> int:
    body, headers = p.json_request(p.envelope(event))
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10).status_code


def stop(bot: BotProcess) -> None:
    bot.proc.send_signal(signal.SIGTERM)
    assert bot.finish(timeout=60) == 0, bot.stderr


def test_kill_9_during_the_model_call_the_mention_is_answered_once_after_a_restart(
    base_env: dict[str, str],
    fake_openai: FakeOpenAI,
    fake_slack: FakeSlack,
    spawn: Callable[..., BotProcess],
) -> None:
    env = slack_env(base_env, fake_slack)
    fake_openai.state.reply = lambda messages: ANSWER
    held = fake_openai.hold("chat", timeout=60)  # the first answer never comes back to process 1
    first = spawn([], env)
    first.wait_healthy()
    mention = p.app_mention("where should my basil go?")
    assert send(first, mention) == 200
    wait_until(lambda: fake_openai.count("chat") == 1)  # the model is answering: now die

    first.proc.send_signal(signal.SIGKILL)
    first.finish(timeout=30)
    held.release()
    assert fake_slack.posted(p.GENERAL) == []

    second = spawn([], env | {"PORT": str(free_port())})
    second.wait_healthy()
    # The dead process's lease expires within seconds; the new process takes the mention over.
    wait_until(lambda: len(fake_slack.posted(p.GENERAL)) >= 1, timeout=40)
    # Slack's own retry of the acknowledged event reaches the new process: nothing more is posted.
    assert send(second, mention, retry=1) == 200
    stop(second)

    posted = fake_slack.posted(p.GENERAL)
    assert [m.text for m in posted] == [ANSWER]
    assert posted[0].thread_ts == mention["ts"]  # in the thread of the mention
    assert fake_openai.count("chat") == 2  # the killed attempt, and the one that answered


def test_a_restart_drains_queued_work_in_order_per_conversation(
    base_env: dict[str, str],
    fake_openai: FakeOpenAI,
    fake_slack: FakeSlack,
    spawn: Callable[..., BotProcess],
) -> None:
    env = slack_env(base_env, fake_slack)
    fake_openai.state.reply = lambda messages: f"reply to: {str(messages[-1]['content']).split()[-1]}"
    held = fake_openai.hold("chat", times=2, timeout=60)  # each conversation's first answer
    first = spawn([], env)
    first.wait_healthy()
    garden = p.app_mention("tomatoes")
    kitchen = p.app_mention("soup", channel=p.GENERAL)
    assert send(first, garden) == 200
    assert send(first, kitchen) == 200
    wait_until(lambda: fake_openai.count("chat") == 2)  # both first answers are being written
    for word in ("peppers", "beans"):
        assert send(first, p.app_mention(f"and {word}", thread_ts=garden["ts"])) == 200
    assert send(first, p.app_mention("and bread", thread_ts=kitchen["ts"])) == 200

    first.proc.send_signal(signal.SIGKILL)
    first.finish(timeout=30)
    held.release()
    assert fake_slack.posted(p.GENERAL) == []

    second = spawn([], env | {"PORT": str(free_port())})
    second.wait_healthy()
    wait_until(lambda: len(fake_slack.posted(p.GENERAL)) == 5, timeout=40)
    stop(second)

    def thread(root: dict[str, Any]) -> list[str]:
        return [m.text for m in fake_slack.posted(p.GENERAL) if m.thread_ts == root["ts"]]

    assert thread(garden) == ["reply to: tomatoes", "reply to: peppers", "reply to: beans"]
    assert thread(kitchen) == ["reply to: soup", "reply to: bread"]
    assert len(fake_slack.posted(p.GENERAL)) == 5


JWT_SECRET = "jwt-secret-for-the-http-api-0123456789"


def test_kill_9_during_an_api_chat_a_worker_answers_it_into_the_session(
    base_env: dict[str, str],
    fake_openai: FakeOpenAI,
    spawn: Callable[..., BotProcess],
) -> None:
    env = base_env | {
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "SCHEDULER_ENABLED": "false",
        # The test polls the session until the worker has answered: not a client to rate-limit.
        "API_RATE_LIMIT_PER_MINUTE": "100000",
    }
    auth = {"Authorization": f"Bearer {mint(JWT_SECRET, sub='alice-web')}"}
    fake_openai.state.reply = lambda messages: f"noted: {str(messages[-1]['content']).split()[-1]}"
    first = spawn([], env)
    first.wait_healthy()
    opened = httpx.post(f"{first.url}/v1/chat", json={"message": "hello"}, headers=auth, timeout=30)
    assert opened.status_code == 200, opened.text
    session = opened.json()["session_id"]
    held = fake_openai.hold("chat", timeout=60)

    def ask() -> None:
        with contextlib.suppress(httpx.TransportError):  # the process dies under it
            httpx.post(
                f"{first.url}/v1/chat",
                json={"message": "my cat is Miso", "session_id": session},
                headers=auth,
                timeout=30,
            )

    with ThreadPoolExecutor(max_workers=1) as pool:
        asking = pool.submit(ask)
        wait_until(lambda: fake_openai.count("chat") == 2)  # the second answer is being written
        first.proc.send_signal(signal.SIGKILL)
        first.finish(timeout=30)
        asking.result(timeout=30)
    held.release()

    second = spawn([], env | {"PORT": str(free_port())})
    second.wait_healthy()

    def texts() -> list[str]:
        page = httpx.get(f"{second.url}/v1/sessions/{session}/messages", headers=auth, timeout=10)
        assert page.status_code == 200, page.text
        return [item["text"] for item in page.json()["items"]]

    wait_until(lambda: len(texts()) >= 4, timeout=40)
    assert texts() == ["hello", "noted: hello", "my cat is Miso", "noted: Miso"]
    stop(second)
    assert fake_openai.count("chat") == 3  # the killed attempt, then the worker's


def test_web_without_a_front_door_says_what_to_set(base_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["web"], base_env, tmp_path)
    assert result.returncode == 2
    assert "no chat platform configured" in result.stderr
    assert "Traceback" not in result.stderr
