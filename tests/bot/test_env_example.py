""".env.example lists and explains every setting config.py reads, and copying it as it is gives a
quiet console (no log lines in the conversation)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from config import Settings
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"
SETTING = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def explained_settings() -> dict[str, bool]:
    """Each NAME= line of .env.example, and whether a comment explains it: a comment line above it
    in its block (lines up to the previous blank line; a `# --- section ---` heading does not count)."""
    found: dict[str, bool] = {}
    block_has_comment = False
    for line in EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("# ---"):
            block_has_comment = False
        elif stripped.startswith("#"):
            block_has_comment = True
        elif match := SETTING.match(stripped):
            found[match.group(1)] = block_has_comment
    return found


def test_every_setting_is_in_the_example_with_an_explanation() -> None:
    found = explained_settings()
    names = [name.upper() for name in Settings.model_fields]
    missing = [name for name in names if name not in found]
    unexplained = [name for name in names if name in found and not found[name]]
    assert missing == [], f"settings missing from .env.example: {missing}"
    assert unexplained == [], f"settings without a comment in .env.example: {unexplained}"
    unknown = [name for name in found if name.lower() not in Settings.model_fields]
    assert unknown == [], f".env.example names settings config.py does not read: {unknown}"


def test_the_example_as_is_is_valid_and_leaves_the_log_level_to_the_console() -> None:
    settings = Settings(_env_file=EXAMPLE, openai_api_key="sk-example-test")  # type: ignore[call-arg]
    assert "log_level" not in settings.model_fields_set  # the console may then quieten it
    assert settings.log_level == "INFO"


def test_a_console_chat_with_the_example_copied_as_env_prints_no_log_lines(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    shutil.copy(EXAMPLE, tmp_path / ".env")
    fake_openai.state.reply = lambda messages: "Hi there."
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        # What a person fills in: the key, and here the fake endpoint and a small embedding size.
        "OPENAI_API_KEY": "sk-example-test",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "EMBEDDING_DIMS": "64",
        "DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input="I like sailing\n/memory help\n/quit\n",
        cwd=tmp_path,  # the .env is read from the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "mnemo> Hi there." in result.stdout
    assert result.stderr == ""
