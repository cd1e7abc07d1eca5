"""The Procfile (and the split layout the README documents) agrees with what `python -m bot` offers,
and `honcho start` really runs the web process."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from honcho.environ import parse_procfile

from bot.__main__ import _parser
from tests.bot.test_sigterm import free_port
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
HONCHO = Path(sys.executable).with_name("honcho")


def bot_argv(command: str) -> list[str]:
    argv = shlex.split(command)
    # `exec`: the shell the platform runs the line in is replaced by Python, so SIGTERM reaches the
    # bot directly and the exit code is the bot's (dash, honcho's /bin/sh here, does not exec by itself).
    assert argv[0] == "exec", command
    argv = argv[1:]
    assert argv[:3] == ["python", "-m", "bot"], command
    return argv[3:]


def readme_process_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running in production", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^(?:web|worker): .+$", section, re.M)


def test_every_procfile_command_is_one_python_m_bot_offers() -> None:
    procfile = parse_procfile((ROOT / "Procfile").read_text())
    assert procfile.processes == {
        "web": "exec python -m bot web",
        "worker": "exec python -m bot worker",
    }
    for name, process in procfile.processes.items():
        args = _parser().parse_args(bot_argv(process))  # SystemExit on an unknown option
        assert args.command == name


def test_the_layouts_in_the_readme_are_valid() -> None:
    lines = readme_process_lines()
    assert "web: exec python -m bot run" in lines  # one process doing everything
    split = parse_procfile("\n".join(line for line in lines if line != "web: exec python -m bot run"))
    assert set(split.processes) == {"web", "worker"}
    web = _parser().parse_args(bot_argv(split.processes["web"]))
    worker = _parser().parse_args(bot_argv(split.processes["worker"]))
    assert (web.command, worker.command) == ("web", "worker")


def test_an_unknown_option_would_be_caught(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(bot_argv("exec python -m bot run --with-everything"))
    assert "unrecognized arguments" in capsys.readouterr().err


def test_honcho_check_accepts_the_procfile() -> None:
    result = subprocess.run(
        [str(HONCHO), "check"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert "Valid procfile detected (web, worker)" in result.stdout + result.stderr


def test_honcho_start_runs_the_web_and_worker_processes_and_stops_them_cleanly(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    port = free_port()
    env_file = tmp_path / "test.env"
    env_file.write_text("")  # never a developer's .env
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "SUPABASE_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # `python` is the venv's
        PYTHONPATH=str(ROOT),
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_API_KEY="sk-honcho-test",
        EMBEDDING_DIMS="64",
        DATA_DIR=str(tmp_path / "data"),
        HOST="127.0.0.1",
        SUPABASE_JWT_SECRET="jwt-secret-for-the-http-api-0123456789",
    )
    proc = subprocess.Popen(
        [
            str(HONCHO),
            "-f",
            str(ROOT / "Procfile"),
            "-d",
            str(ROOT),
            "-e",
            str(env_file),
            "start",
            "-p",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # honcho gives each process type its own PORT: web the base, worker the base + 100. Both
        # must be up (signal handlers installed) before the SIGTERM, or it kills one mid-start.
        deadline = time.monotonic() + 60
        waiting = {"web": port, "worker": port + 100}
        while waiting and time.monotonic() < deadline and proc.poll() is None:
            for name, its_port in list(waiting.items()):
                try:
                    if httpx.get(f"http://127.0.0.1:{its_port}/healthz", timeout=1).status_code == 200:
                        del waiting[name]
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        assert not waiting, f"never served /healthz on honcho's PORT: {sorted(waiting)}"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    log = out.decode()
    assert "web stopped cleanly" in log
    assert "worker stopped cleanly" in log
    assert "web.1 stopped (rc=0)" in log
    assert "worker.1 stopped (rc=0)" in log
