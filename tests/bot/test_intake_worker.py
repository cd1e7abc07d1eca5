"""bot/intake_worker.py: a process that only answers (`python -m bot worker`) runs at a lower CPU
priority than one that acknowledges (`web`, `run`), so a web process's acks on the same machine get
the CPU first."""

# The fixtures are test_sigterm's, imported by name (so arguments "redefine" them).
# ruff: noqa: F811
from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from bot.intake_worker import WORKER_NICE
from tests.bot.test_intake_process import slack_env
from tests.bot.test_sigterm import (  # noqa: F401 (fixtures)
    BotProcess,
    base_env,
    fake_slack,
    free_port,
    spawn,
)
from tests.fakes.slack_api import FakeSlack


def test_a_worker_answers_at_a_lower_priority_than_the_web_process_acks(
    base_env: dict[str, str], fake_slack: FakeSlack, spawn: Callable[..., BotProcess]
) -> None:
    env = slack_env(base_env, fake_slack)
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    web = spawn(["web"], env)
    worker = spawn(["worker"], env | {"PORT": str(free_port())})
    for process in (web, worker):
        process.wait_healthy()

    # /healthz answers once the web server is up, which can be before the worker service started
    # (and lowered its priority): wait for that to happen, up to a deadline.
    lowered = min(19, ours + WORKER_NICE)
    deadline = time.monotonic() + 30
    while os.getpriority(os.PRIO_PROCESS, worker.proc.pid) != lowered and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == lowered
    assert os.getpriority(os.PRIO_PROCESS, web.proc.pid) == ours

    for process in (web, worker):
        process.proc.send_signal(signal.SIGTERM)
    for process in (web, worker):
        assert process.finish(timeout=60) == 0, process.stderr
