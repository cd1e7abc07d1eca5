"""Replies per second with an instant model: one `python -m bot worker` process vs two.

One `python -m bot web` process (Slack HTTP mode) acknowledges and records signed mentions in the
embedded inbox (DATA_DIR/intake.db); `--workers` worker processes on the same DATA_DIR answer them
through the fake Slack Web API. The fake model answers at once, so what is measured is Mnemo's own
work per reply (claim, account, session, recall, prompt, the answer's post, the memory write).
Each run sends MENTIONS mentions from 50 people in 50 threads as fast as the web process takes them,
then times from the first send until the last reply is posted. Runs alternate 1 and 2 workers.
Printed: replies/s per run and the medians, and the ratio two/one (issue 13's target: about 1.8x
on two cores; the web process, the fakes and this process share those cores too).
Run: python bench/worker_scaling.py [--mentions 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.adapters.slack import payloads as p  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(role: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", role],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_healthy(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a process's start-up: nothing to wait on but its port
    raise SystemExit(f"a process on port {port} did not start")


def one_run(workers: int, mentions: int, model: FakeOpenAI, slack: FakeSlack) -> float:
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-workers-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "SUPABASE_"))}
        env.update(
            PYTHONPATH=str(ROOT),
            OPENAI_BASE_URL=model.base_url,
            OPENAI_API_KEY="sk-bench",
            CHAT_MODEL="fake-chat",
            EMBEDDING_MODEL="fake-embed",
            EMBEDDING_DIMS="64",
            LLM_MAX_RETRIES="0",
            DATA_DIR=str(Path(tmp) / "data"),
            HOST="127.0.0.1",
            LOG_LEVEL="WARNING",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=p.SIGNING_SECRET,
            SLACK_API_URL=slack.base_url,
            SCHEDULER_ENABLED="false",
        )
        web_port = free_port()
        processes = [start("web", env | {"PORT": str(web_port)}, Path(tmp))]
        ports = [free_port() for _ in range(workers)]
        processes += [start("worker", env | {"PORT": str(port)}, Path(tmp)) for port in ports]
        try:
            for port in (web_port, *ports):
                wait_healthy(port)
            posted_before = len(slack.posted(p.GENERAL))
            events = [
                p.app_mention(f"note {i}: my number is {i}", user=f"UBENCH{i % 50:03d}")
                for i in range(mentions)
            ]

            def send(event: dict[str, object]) -> int:
                body, headers = p.json_request(p.envelope(event))
                url = f"http://127.0.0.1:{web_port}/slack/events"
                return httpx.post(url, content=body, headers=headers, timeout=30).status_code

            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=16) as pool:
                if any(status != 200 for status in pool.map(send, events)):
                    raise SystemExit("a mention was not acknowledged")
            deadline = started + 300
            while len(slack.posted(p.GENERAL)) - posted_before < mentions:
                if time.monotonic() > deadline:
                    raise SystemExit("not every mention was answered within 300 s")
                time.sleep(0.01)  # polling the fake's record of posts
            return mentions / (time.monotonic() - started)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mentions", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates: dict[int, list[float]] = {1: [], 2: []}
    with FakeOpenAI() as model, FakeSlack(team_id=p.TEAM, bot_user_id=p.BOT_USER, bot_id=p.BOT_ID) as slack:
        model.state.reply = lambda messages: "Noted."
        slack.add_channel(p.GENERAL, name="general")
        for run in range(args.runs):
            for workers in (1, 2):
                rate = one_run(workers, args.mentions, model, slack)
                rates[workers].append(rate)
                print(f"run {run + 1}, {workers} worker(s): {rate:6.1f} replies/s")
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(
        f"\n{args.mentions} mentions, instant model, medians of {args.runs} runs:\n"
        f"  one worker   {one:6.1f} replies/s\n"
        f"  two workers  {two:6.1f} replies/s   ({two / one:.2f}x; target about 1.8x on two cores)"
    )


if __name__ == "__main__":
    main()
