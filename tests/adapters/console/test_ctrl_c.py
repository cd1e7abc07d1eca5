"""Ctrl-C in `python -m bot console` leaves at once: while waiting for a line, and while an answer
is being written (the fake model holds it). The process is real; its stdin is a pipe the test
keeps open, so only the signal can end it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[3]
# Bounds that only catch a hang: before the fix, the process waited for Enter forever.
EXIT_BOUND_SECONDS = 20


class Console:
    def __init__(self, tmp_path: Path, fake: FakeOpenAI) -> None:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "PYTHONPATH": str(ROOT),
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "sk-console-test",
            "EMBEDDING_DIMS": "64",
            "DATA_DIR": str(tmp_path / "data"),
            "LLM_TIMEOUT_SECONDS": "120",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", "--user", "kim"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env=env,
        )
        self._seen = b""
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := os.read(self.proc.stdout.fileno(), 4096):
            with self._changed:
                self._seen += chunk
                self._changed.notify_all()

    def wait_for(self, text: str, count: int = 1) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._seen.count(text.encode()) >= count, timeout=60):
                raise AssertionError(f"never printed {text!r}: {self._seen!r}")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def interrupt(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=EXIT_BOUND_SECONDS)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read().decode()


@pytest.fixture
def console(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[Console]:
    running = Console(tmp_path, fake_openai)
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


def test_ctrl_c_at_the_prompt_leaves_at_once(console: Console) -> None:
    console.wait_for("you> ")
    code, err = console.interrupt()
    assert code == 0
    assert "Traceback" not in err
    assert err == ""  # no log line either: the console leaves quietly


def test_ctrl_c_while_an_answer_is_being_written_leaves_at_once(
    console: Console, fake_openai: FakeOpenAI
) -> None:
    gate = fake_openai.hold("chat", timeout=120)
    console.wait_for("you> ")
    console.send("tell me a long story")
    asyncio.run(gate.arrived(timeout=60))
    code, err = console.interrupt()
    gate.release()
    assert code == 0
    assert "Traceback" not in err
    assert err == ""  # no log line either: the console leaves quietly
