"""`python -m bot web` and two `python -m bot worker` processes on one DATA_DIR (the embedded
inbox): a burst of mentions, each delivered twice (Slack's retry), is answered exactly once each,
in its own thread, by whichever worker leased it first."""

# The fixtures are test_sigterm's, imported by name (so arguments "redefine" them).
# ruff: noqa: F811
from __future__ import annotations

import signal
import sqlite3
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.adapters.slack import payloads as p
from tests.bot.test_intake_process import slack_env
from tests.bot.test_sigterm import (  # noqa: F401 (fixtures)
    BotProcess,
    base_env,
    fake_slack,
    free_port,
    spawn,
    wait_until,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

BURST = 500


def open_deliveries(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "intake.db") as conn:
        return int(conn.execute("SELECT count(*) FROM deliveries WHERE done_at IS NULL").fetchone()[0])


def test_two_workers_never_answer_one_event_twice_under_a_burst_with_retries(
    base_env: dict[str, str],
    fake_openai: FakeOpenAI,
    fake_slack: FakeSlack,
    spawn: Callable[..., BotProcess],
) -> None:
    env = slack_env(base_env, fake_slack) | {"LOG_LEVEL": "INFO"}
    fake_openai.state.reply = lambda messages: f"answer to {str(messages[-1]['content']).split()[-1]}"
    web = spawn(["web"], env)
    workers = [spawn(["worker"], env | {"PORT": str(free_port())}) for _ in range(2)]
    for process in (web, *workers):
        process.wait_healthy()

    mentions = [p.app_mention(f"question number q{i}") for i in range(BURST)]

    def deliver(job: tuple[dict[str, Any], int | None]) -> int:
        event, retry = job
        body, headers = p.json_request(p.envelope(event))
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return httpx.post(f"{web.url}/slack/events", content=body, headers=headers, timeout=30).status_code

    jobs = [(m, None) for m in mentions] + [(m, 1) for m in mentions]
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(deliver, jobs))
    assert statuses == [200] * len(jobs)

    data_dir = Path(env["DATA_DIR"])
    wait_until(lambda: len(fake_slack.posted(p.GENERAL)) >= BURST, timeout=240)
    wait_until(lambda: open_deliveries(data_dir) == 0, timeout=60)
    for process in (web, *workers):
        process.proc.send_signal(signal.SIGTERM)
    for process in (web, *workers):
        assert process.finish(timeout=60) == 0, process.stderr

    posted = fake_slack.posted(p.GENERAL)
    by_thread = Counter(m.thread_ts for m in posted)
    trouble = [
        e["msg"]
        for worker in workers
        for e in worker.log_entries()
        if (e["level"] in ("WARNING", "ERROR") and "delivery" in e["msg"]) or "lease" in e["msg"]
    ]
    assert len(posted) == BURST, trouble[:20]
    assert set(by_thread) == {m["ts"] for m in mentions}
    assert set(by_thread.values()) == {1}
    for mention in mentions:
        [answer] = [m.text for m in posted if m.thread_ts == mention["ts"]]
        assert answer == f"answer to {mention['text'].split()[-1]}"
    assert fake_openai.count("chat") == BURST  # nothing was answered twice, even unseen
    answered = [
        sum(1 for e in worker.log_entries() if e["msg"].startswith("answering platform=slack"))
        for worker in workers
    ]
    assert sum(answered) == BURST
    assert all(count > 0 for count in answered), answered  # both took part
    assert not any(e["msg"].startswith("answering") for e in web.log_entries())  # web only accepts
