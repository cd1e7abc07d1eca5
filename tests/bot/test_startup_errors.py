"""A chat platform that refuses Mnemo, or cannot be reached, at start-up: `python -m bot run` (a real
process) ends with one line naming the setting and what to do, exit code 2, and no traceback."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import start_error_line
from tests.bot.test_sigterm import ROOT, free_port
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def env(tmp_path: Path, fake_openai: FakeOpenAI) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "SUPABASE_"))}
    return base | {
        "PYTHONPATH": str(ROOT),
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-test",
        "EMBEDDING_DIMS": "64",
        "LLM_MAX_RETRIES": "0",
        "DATA_DIR": str(tmp_path / "data"),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "SCHEDULER_ENABLED": "false",
    }


async def run(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


def last_line(output: str) -> str:
    assert "Traceback" not in output, output
    return output.strip().splitlines()[-1]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


async def test_a_refused_slack_bot_token_is_one_line_and_exit_2(
    env: dict[str, str], slack: FakeSlack, tmp_path: Path
) -> None:
    env |= {
        "SLACK_BOT_TOKEN": "xoxb-1-revoked-token",
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_API_URL": slack.base_url,
    }
    code, output = await run(env, tmp_path)
    assert code == 2, output
    assert last_line(output) == (
        "Slack could not start: Slack refused SLACK_BOT_TOKEN (invalid_auth); copy OAuth & Permissions "
        "-> Bot User OAuth Token (xoxb-...) into SLACK_BOT_TOKEN"
    )
    assert "xoxb-1-revoked-token" not in output


async def test_a_refused_slack_app_token_is_one_line_and_exit_2(
    env: dict[str, str], slack: FakeSlack, tmp_path: Path
) -> None:
    env |= {
        "SLACK_BOT_TOKEN": slack.state.bot_token,
        "SLACK_APP_TOKEN": "xapp-1-wrong",
        "SLACK_API_URL": slack.base_url,
    }
    code, output = await run(env, tmp_path)
    assert code == 2, output
    line = last_line(output)
    assert line.startswith("Slack could not start: Slack refused SLACK_APP_TOKEN (invalid_auth)")
    assert "connections:write" in line


async def test_an_unreachable_slack_is_one_line_and_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    env |= {
        "SLACK_BOT_TOKEN": "xoxb-1-token",
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",
    }
    code, output = await run(env, tmp_path)
    assert code == 2, output
    line = last_line(output)
    assert line.startswith("Slack could not start: could not reach the Slack Web API")
    assert line.endswith("check this host's network, or SLACK_API_URL")


async def test_a_refused_discord_token_is_one_line_and_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    async with FakeDiscord(token="the-right-token") as discord:
        env |= {
            "DISCORD_BOT_TOKEN": "a-revoked-token",
            "DISCORD_API_URL": discord.api_url,
            "DISCORD_GATEWAY_URL": discord.gateway_url,
        }
        code, output = await run(env, tmp_path)
    assert code == 2, output
    assert last_line(output) == (
        "Discord could not start: Discord rejected DISCORD_BOT_TOKEN (401). "
        "Copy the bot token from Developer Portal -> Bot -> Reset Token"
    )
    assert "a-revoked-token" not in output


async def test_discord_without_the_message_content_intent_is_one_line_and_exit_2(
    env: dict[str, str], tmp_path: Path
) -> None:
    async with FakeDiscord() as discord:
        discord.identify_close_code = 4014
        env |= {
            "DISCORD_BOT_TOKEN": discord.token,
            "DISCORD_API_URL": discord.api_url,
            "DISCORD_GATEWAY_URL": discord.gateway_url,
        }
        code, output = await run(env, tmp_path)
    assert code == 2, output
    assert "Message Content Intent" in last_line(output)


async def test_an_unreachable_discord_is_one_line_and_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env |= {
        "DISCORD_BOT_TOKEN": "some-token",
        "DISCORD_API_URL": f"http://127.0.0.1:{port}/api/v10",
        "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{port}/gateway",
    }
    code, output = await run(env, tmp_path)
    assert code == 2, output
    line = last_line(output)
    assert line.startswith("Discord could not start: could not reach Discord's API")
    assert line.endswith("check this host's network, or DISCORD_API_URL")


def test_errors_that_are_not_a_platform_refusal_are_not_disguised() -> None:
    assert start_error_line("slack", ValueError("a bug")) is None
    assert start_error_line("web", RuntimeError("port in use")) is None
