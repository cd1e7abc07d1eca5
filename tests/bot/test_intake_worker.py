"""bot/intake_worker.py: a process that only answers (`python -m bot worker`) runs at a lower CPU
priority than one that acknowledges (`web`, `run`), so a web process's acks on the same machine get
the CPU first."""

# The fixtures are test_sigterm's, imported by name (so arguments "redefine" them).
# ruff: noqa: F811
from __future__ import annotations

import os
import signal
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

    assert os.getpriority(os.PRIO_PROCESS, web.proc.pid) == ours
    assert os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == min(19, ours + WORKER_NICE)

    for process in (web, worker):
        process.proc.send_signal(signal.SIGTERM)
    for process in (web, worker):
        assert process.finish(timeout=60) == 0, process.stderr
