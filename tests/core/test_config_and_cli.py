"""Settings validation and the `python -m bot` entry point, as a person meets them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]


def run_bot(
    args: list[str], env: dict[str, str], *, stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": env.get("HOME", "/nonexistent"), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        env={**base, **env},
        cwd=env.get("CWD", str(ROOT)),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PORT": "eighty"}, "PORT: Input should be a valid integer"),
        (
            {"OPENAI_BASE_URL": "localhost:11434"},
            "OPENAI_BASE_URL: expected a URL starting with http:// or https://",
        ),
        ({}, "OPENAI_API_KEY is required for api.openai.com"),
        ({"OPENAI_API_KEY": "your-openai-key"}, "OPENAI_API_KEY: looks like a placeholder"),
        ({"OPENAI_API_KEY": "k", "SLACK_BOT_TOKEN": "xoxb-1"}, "neither SLACK_APP_TOKEN"),
        (
            {"OPENAI_API_KEY": "k", "SLACK_BOT_TOKEN": "abc", "SLACK_APP_TOKEN": "xapp-1"},
            "starting with xoxb-",
        ),
        ({"OPENAI_API_KEY": "k", "SUPABASE_URL": "https://x.supabase.co"}, "must be set together"),
        ({"OPENAI_API_KEY": "k", "LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"OPENAI_API_KEY": "k", "DISCORD_SHARD_IDS": "0,x", "DISCORD_SHARD_COUNT": "2"}, "comma-separated"),
        ({"OPENAI_API_KEY": "k", "EMBEDDING_DIMS": "0"}, "EMBEDDING_DIMS"),
    ],
)
def test_bad_settings_give_one_clear_line(
    env: dict[str, str], needle: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")) as caught:
        load_settings()
    assert "\n" not in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_cli_reports_bad_settings_without_a_traceback(tmp_path: Path) -> None:
    result = run_bot([], {"PORT": "eighty", "CWD": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("Configuration error: PORT: Input should be a valid integer")
    assert "Traceback" not in result.stderr


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "OPENAI_BASE_URL=http://127.0.0.1:1/v1\nDISCORD_GUILD_ID=\nSLACK_BOT_TOKEN=\nPORT=9000\n"
    )
    settings = load_settings()
    assert settings.port == 9000
    assert settings.discord_guild_id is None
    assert settings.slack_enabled is False


def test_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-value")
    settings = load_settings()
    assert "sk-very-secret-value" not in repr(settings)
    assert "sk-very-secret-value" not in str(settings.model_dump())


def test_without_a_terminal_and_nothing_configured_it_explains_and_exits(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "DATA_DIR": str(tmp_path / "data"), "CWD": str(tmp_path)}
    result = run_bot([], env)
    assert result.returncode == 2
    assert "no chat platform configured" in result.stderr
    assert "SLACK_BOT_TOKEN" in result.stderr


def test_console_subprocess_chats_and_keeps_files_in_data_dir(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.state.reply = lambda messages: "Hello from the fake model."
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "OPENAI_BASE_URL": fake_openai.base_url,
        "EMBEDDING_DIMS": "64",
        "DATA_DIR": str(tmp_path / "data"),
        "HOME": str(home),
        "CWD": str(tmp_path),
    }
    result = run_bot(["console", "--user", "zoe"], env, stdin="I grow tomatoes\n/memory help\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "mnemo> Hello from the fake model." in result.stdout
    assert "/memory forget all" in result.stdout
    assert " INFO " not in result.stderr  # a terminal chat is not interleaved with INFO logs
    assert "spaCy" not in result.stderr
    # The memory write ran before exit (shutdown drains the queue), and mem0 wrote nothing to $HOME.
    result = run_bot(["console", "--user", "zoe"], env, stdin="/memory show\n")
    assert "I grow tomatoes" in result.stdout
    assert list(home.iterdir()) == []
    assert fake_openai.count("extract") == 1
