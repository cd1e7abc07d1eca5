"""`python -m bot` as a real subprocess: health endpoints, and SIGTERM while a slow reply is in flight.

Remote services are the loopback fakes (the model, Slack's Web API); the front door is Slack in HTTP
mode, fed a correctly signed event on PORT, exactly as Slack would send it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.adapters.slack import payloads as p
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack

ROOT = Path(__file__).resolve().parents[2]
OPENAI_KEY = "sk-process-test-key-7f3a9c"
SLOW_ANSWER = "Tomatoes on a balcony need six hours of sun."


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


class BotProcess:
    """One `python -m bot ...` child; always killed in teardown."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.stdout = ""
        self.stderr = ""

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.finish(0)
                raise AssertionError(f"bot exited early ({self.proc.returncode}):\n{self.stderr}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("bot never became healthy")

    def finish(self, timeout: float) -> int:
        out, err = self.proc.communicate(timeout=timeout)
        self.stdout, self.stderr = out.decode(), err.decode()
        return self.proc.returncode

    def log_entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(team_id=p.TEAM, bot_user_id=p.BOT_USER, bot_id=p.BOT_ID) as slack:
        slack.add_user(p.ALICE, "Alice")
        slack.add_channel(p.GENERAL, name="general")
        yield slack


@pytest.fixture
def base_env(tmp_path: Path, fake_openai: FakeOpenAI) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "SUPABASE_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_API_KEY=OPENAI_KEY,
        CHAT_MODEL="fake-chat",
        EMBEDDING_MODEL="fake-embed",
        EMBEDDING_DIMS="64",
        LLM_MAX_RETRIES="0",
        DATA_DIR=str(tmp_path / "data"),
        HOST="127.0.0.1",
        PORT=str(free_port()),
        LOG_FORMAT="json",
        SHUTDOWN_GRACE_SECONDS="15",
    )
    return env


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., BotProcess]]:
    started: list[BotProcess] = []

    def start(args: list[str], env: dict[str, str]) -> BotProcess:
        # cwd is an empty directory, so no developer .env is read.
        bot = BotProcess(args, env, cwd=tmp_path)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.kill()


def stored_memories(data_dir: Path) -> list[str]:
    conn = sqlite3.connect(data_dir / "memory_vectors.db")
    try:
        rows = conn.execute("SELECT payload FROM vectors WHERE collection = 'mnemo'").fetchall()
    finally:
        conn.close()
    return [json.loads(row[0])["data"] for row in rows]


def pending_writes(data_dir: Path) -> int:
    conn = sqlite3.connect(data_dir / "mnemo.db")
    try:
        return int(conn.execute("SELECT count(*) FROM pending_memory_writes").fetchone()[0])
    finally:
        conn.close()


def test_sigterm_during_a_slow_reply_delivers_it_flushes_memory_and_exits_0(
    base_env: dict[str, str],
    fake_openai: FakeOpenAI,
    fake_slack: FakeSlack,
    spawn: Callable[..., BotProcess],
) -> None:
    env = base_env | {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": p.SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.base_url,
    }
    fake_openai.state.reply = lambda messages: SLOW_ANSWER
    fake_openai.state.delay_chat = 3.0
    bot = spawn([], env)
    bot.wait_healthy()

    ready = httpx.get(f"{bot.url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert {name: c["status"] for name, c in ready.json()["checks"].items()} == {
        "storage": "ok",
        "memory": "ok",
        "model": "ok",
    }

    body, headers = p.json_request(p.envelope(p.app_mention("I grow tomatoes on my balcony")))
    ack = httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)
    assert ack.status_code == 200
    wait_until(lambda: fake_openai.count("chat") >= 1)  # the slow reply is now in flight

    bot.proc.send_signal(signal.SIGTERM)
    # While it drains, the process still serves health checks and says it is going away.
    draining = httpx.get(f"{bot.url}/readyz", timeout=10)
    assert draining.status_code == 503
    assert draining.json()["status"] == "draining"
    assert httpx.get(f"{bot.url}/healthz", timeout=10).status_code == 200

    code = bot.finish(timeout=60)
    assert code == 0, bot.stderr
    # The reply that was in flight was delivered to Slack.
    assert [m.text for m in fake_slack.posted(p.GENERAL)] == [SLOW_ANSWER]
    # Its memory write, queued after the reply, was flushed to the vector store before exit.
    data_dir = Path(env["DATA_DIR"])
    assert stored_memories(data_dir) == ["I grow tomatoes on my balcony"]
    assert pending_writes(data_dir) == 0
    messages = [e["msg"] for e in bot.log_entries()]
    assert any("shutting down" in m for m in messages)
    assert messages[-1] == "stopped cleanly"
    # Nothing secret in any log line; no message text at INFO.
    for secret in (OPENAI_KEY, BOT_TOKEN, p.SIGNING_SECRET):
        assert secret not in bot.stderr
    assert "tomatoes" not in bot.stderr
    # Libraries that log each request URL at INFO are kept at WARNING.
    assert not [e for e in bot.log_entries() if e["logger"].startswith(("httpx", "openai", "slack"))]


def test_a_second_sigterm_skips_the_grace_period(
    base_env: dict[str, str],
    fake_openai: FakeOpenAI,
    fake_slack: FakeSlack,
    spawn: Callable[..., BotProcess],
) -> None:
    env = base_env | {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": p.SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.base_url,
        "SHUTDOWN_GRACE_SECONDS": "60",
    }
    fake_openai.state.delay_chat = 30.0
    bot = spawn([], env)
    bot.wait_healthy()
    body, headers = p.json_request(p.envelope(p.app_mention("a question that takes forever")))
    assert httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10).status_code == 200
    wait_until(lambda: fake_openai.count("chat") >= 1)

    bot.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: httpx.get(f"{bot.url}/readyz", timeout=10).status_code == 503)
    begin = time.monotonic()
    bot.proc.send_signal(signal.SIGTERM)
    code = bot.finish(timeout=30)
    assert time.monotonic() - begin < 15  # not the 60 s grace, nor the 30 s model call
    assert code == 1, bot.stderr
    assert any("skipping the grace period" in e["msg"] for e in bot.log_entries())


def test_sigterm_with_nothing_in_flight_stops_quickly(
    base_env: dict[str, str], spawn: Callable[..., BotProcess]
) -> None:
    env = base_env | {"SUPABASE_JWT_SECRET": "jwt-secret-for-the-http-api-0123456789"}
    bot = spawn([], env)
    bot.wait_healthy()
    begin = time.monotonic()
    bot.proc.send_signal(signal.SIGTERM)
    assert bot.finish(timeout=30) == 0, bot.stderr
    assert time.monotonic() - begin < 5
    started = [e["msg"] for e in bot.log_entries() if e["msg"].startswith("started ")]
    assert started == ["started web", "started scheduler", "started intake-worker"]
    assert "jwt-secret-for-the-http-api-0123456789" not in bot.stderr


def test_worker_answers_and_runs_the_scheduler_with_health_only_on_port(
    base_env: dict[str, str], spawn: Callable[..., BotProcess]
) -> None:
    bot = spawn(["worker"], base_env)  # no front door needed
    bot.wait_healthy()
    assert httpx.get(f"{bot.url}/readyz", timeout=10).status_code == 200
    assert httpx.post(f"{bot.url}/slack/events", content=b"{}", timeout=10).status_code == 404
    bot.proc.send_signal(signal.SIGINT)
    assert bot.finish(timeout=30) == 0, bot.stderr
    started = [e["msg"] for e in bot.log_entries() if e["msg"].startswith("started ")]
    assert started == ["started web", "started scheduler", "started intake-worker"]


def test_run_without_scheduler(base_env: dict[str, str], spawn: Callable[..., BotProcess]) -> None:
    env = base_env | {"SUPABASE_JWT_SECRET": "jwt-secret-for-the-http-api-0123456789"}
    bot = spawn(["run", "--no-scheduler"], env)
    bot.wait_healthy()
    bot.proc.send_signal(signal.SIGTERM)
    assert bot.finish(timeout=30) == 0, bot.stderr
    started = [e["msg"] for e in bot.log_entries() if e["msg"].startswith("started ")]
    assert started == ["started web", "started intake-worker"]


def test_a_taken_port_is_one_clear_line_and_exit_1(
    base_env: dict[str, str], spawn: Callable[..., BotProcess]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        env = base_env | {"PORT": str(taken.getsockname()[1])}
        bot = spawn(["worker"], env)
        code = bot.finish(timeout=60)
    assert code == 1
    assert f"Could not start: could not listen on 127.0.0.1:{env['PORT']}" in bot.stderr
    assert "Traceback" not in bot.stderr


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_jobs_list_shows_the_schedule(base_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["jobs", "list"], base_env | {"MESSAGE_RETENTION_DAYS": "30"}, tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("close-idle-sessions", "purge-old-messages", "retry-memory-writes", "memory-housekeeping"):
        assert name in result.stdout
    assert "message retention: 30 days" in result.stdout

    # `jobs` is `jobs list` (the next-run times may differ: the two runs can straddle a minute).
    def schedule(args: list[str]) -> str:
        return re.sub(r"\d\d-\d\d \d\d:\d\d(:\d\d)?", "<when>", run_cli(args, base_env, tmp_path).stdout)

    assert schedule(["jobs"]) == schedule(["jobs", "list"])


def test_jobs_run_runs_one_job_now(base_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["jobs", "run", "retry-memory-writes"], base_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "retry-memory-writes: written=0 failed=0 expired=0 dropped_paused=0"


def test_jobs_run_with_an_unknown_name_lists_the_jobs(base_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["jobs", "run", "defrag"], base_env, tmp_path)
    assert result.returncode == 2
    assert "No job called 'defrag'. Jobs: close-idle-sessions, purge-old-messages" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before opening anything


def test_jobs_run_without_a_name_is_a_usage_error(base_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["jobs", "run"], base_env, tmp_path)
    assert result.returncode == 2
    assert "the following arguments are required: name" in result.stderr
