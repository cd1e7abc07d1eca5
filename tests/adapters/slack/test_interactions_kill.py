"""A /memory command across real process deaths: `python -m bot web` and `python -m bot worker` as
subprocesses on one DATA_DIR (the embedded intake), Slack in HTTP mode fed signed commands on PORT.

The worker is killed (-9) while it answers: a worker started later answers the acknowledged command
exactly once, through its response_url, from a process that never saw the request."""

# The fixtures are test_sigterm's, imported by name (so arguments "redefine" them).
# ruff: noqa: F811
from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.adapters.slack import payloads as p
from tests.bot.test_sigterm import (  # noqa: F401 (fixtures)
    BotProcess,
    base_env,
    fake_slack,
    free_port,
    spawn,
    wait_until,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack


def test_kill_9_while_a_worker_answers_a_command_the_next_worker_answers_it_once(
    base_env: dict[str, str],
    fake_openai: FakeOpenAI,
    fake_slack: FakeSlack,
    spawn: Callable[..., BotProcess],
) -> None:
    env = base_env | {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": p.SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.base_url,
        "SCHEDULER_ENABLED": "false",
    }
    web = spawn(["web"], env)
    web.wait_healthy()
    held = fake_slack.hold("users.info", timeout=60)  # the first worker never hears back
    first = spawn(["worker"], env | {"PORT": str(free_port())})
    first.wait_healthy()

    fields = p.slash_command("help", response_url=fake_slack.response_url("help"))
    body, headers = p.form_request(fields)
    acked = httpx.post(f"{web.url}/slack/events", content=body, headers=headers, timeout=10)
    assert (acked.status_code, acked.text) == (200, "")
    wait_until(lambda: held.held == 1)  # the worker is answering: now it dies
    first.proc.send_signal(signal.SIGKILL)
    first.finish(timeout=30)
    held.release()
    assert fake_slack.responses("help") == []

    second = spawn(["worker"], env | {"PORT": str(free_port())})
    second.wait_healthy()
    # The dead worker's lease expires within seconds; the new worker takes the command over.
    wait_until(lambda: len(fake_slack.responses("help")) >= 1, timeout=40)
    # The same command delivered again (Socket Mode redelivers; a second front door): nothing more.
    assert httpx.post(f"{web.url}/slack/events", content=body, headers=headers, timeout=10).status_code == 200

    def done() -> bool:
        with sqlite3.connect(Path(env["DATA_DIR"]) / "intake.db") as conn:
            return conn.execute("SELECT count(*) FROM deliveries WHERE done_at IS NULL").fetchone()[0] == 0

    wait_until(done, timeout=20)
    for process in (second, web):
        process.proc.send_signal(signal.SIGTERM)
        assert process.finish(timeout=60) == 0, process.stderr

    [answer] = fake_slack.responses("help")
    assert answer["response_type"] == "ephemeral"
    assert "/memory" in json.dumps(answer)
    with sqlite3.connect(Path(env["DATA_DIR"]) / "intake.db") as conn:
        [(kind, attempts)] = conn.execute("SELECT kind, attempts FROM deliveries").fetchall()
    assert (kind, attempts) == ("slack.command", 2)
