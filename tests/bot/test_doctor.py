"""`python -m bot doctor`: one line per configured dependency against the loopback fakes, exit 0 only
when all pass; each dependency down in turn is named on its own FAIL line."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.doctor import SLACK_SCOPES, run_doctor
from config import Settings
from tests.conftest import make_settings
from tests.core.memory import pgdb
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.postgrest import PostgrestShim
from tests.fakes.slack_api import FakeSlack
from tests.supabase.fixtures import jwt_secret, postgrest_shim, shared_shim, supabase_dsn

__all__ = ["jwt_secret", "postgrest_shim", "shared_shim", "supabase_dsn"]  # fixtures used here

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    # socket_url: what apps.connections.open hands out (doctor never connects to it).
    with FakeSlack(scopes=",".join(SLACK_SCOPES), socket_url="ws://127.0.0.1:9/link") as fake:
        yield fake


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def every(tmp_path: Path, fake_openai: FakeOpenAI, slack: FakeSlack, discord: FakeDiscord) -> dict[str, Any]:
    """Settings with everything doctor checks configured: Slack in Socket Mode, Discord."""
    return {
        "slack_bot_token": slack.state.bot_token,
        "slack_app_token": slack.state.app_token,
        "slack_api_url": slack.base_url,
        "discord_bot_token": discord.token,
        "discord_api_url": discord.api_url,
        "discord_gateway_url": discord.gateway_url,
    }


async def doctor(settings: Settings) -> tuple[int, dict[str, str]]:
    out = io.StringIO()
    code = await run_doctor(settings, out=out)
    lines = out.getvalue().splitlines()
    assert lines[-1].endswith("checks passed")
    by_name = {}
    for line in lines[:-1]:
        status, rest = line.split(maxsplit=1)
        name, _, detail = rest.partition("  ")
        by_name[name.strip()] = f"{status} {detail.strip()}"
    return code, by_name


def failing(results: dict[str, str]) -> dict[str, str]:
    return {name: line for name, line in results.items() if line.startswith("FAIL")}


@pytest.fixture
def vector_database() -> Iterator[str]:
    name = pgdb.create_database()
    try:
        yield name
    finally:
        pgdb.drop_database(name)


async def test_everything_up_is_one_ok_line_each_and_exit_0(
    tmp_path: Path, fake_openai: FakeOpenAI, every: dict[str, Any], vector_database: str
) -> None:
    url = pgdb.url(vector_database)
    code, results = await doctor(make_settings(tmp_path / "data", fake_openai, supabase_db_url=url, **every))
    assert failing(results) == {}
    assert code == 0
    assert list(results) == [
        "model chat",
        "embeddings",
        "storage",
        "postgres vectors",
        "memory vectors",
        "slack",
        "slack scopes",
        "slack socket",
        "discord",
        "discord intents",
    ]
    assert results["embeddings"] == "ok fake-embed, 64 dims (EMBEDDING_DIMS=64)"
    assert results["memory vectors"] == "ok none stored yet; settings match"
    assert results["slack scopes"] == f"ok all {len(SLACK_SCOPES)} scopes of slack-manifest.yaml"
    assert results["discord intents"] == "ok Message Content intent enabled"


async def test_supabase_store_url_key_and_migrations(
    tmp_path: Path, fake_openai: FakeOpenAI, postgrest_shim: PostgrestShim
) -> None:
    key = postgrest_shim.key()
    ok = make_settings(tmp_path, fake_openai, supabase_url=postgrest_shim.url, supabase_service_role_key=key)
    code, results = await doctor(ok)
    assert code == 0, results
    assert results["supabase"].startswith(f"ok {postgrest_shim.url}: key accepted, migrations applied")

    down = make_settings(
        tmp_path,
        fake_openai,
        supabase_url=f"http://127.0.0.1:{pgdb.free_port()}",
        supabase_service_role_key=postgrest_shim.key(),
    )
    code, results = await doctor(down)
    assert code == 1
    assert list(failing(results)) == ["supabase"]
    assert postgrest_shim.key() not in str(results)


@pytest.mark.parametrize(
    ("break_it", "name", "needle"),
    [
        (lambda f: f["openai"].fail(503, times=5, endpoint="chat"), "model chat", "check OPENAI_BASE_URL"),
        (lambda f: f["openai"].fail(401, times=5, endpoint="embeddings"), "embeddings", "EMBEDDING_MODEL"),
        (lambda f: setattr(f["slack"].state, "bot_token", "xoxb-other"), "slack", "refused SLACK_BOT_TOKEN"),
        (
            lambda f: setattr(f["slack"].state, "scopes", "chat:write,commands"),
            "slack scopes",
            "missing app_mentions:read, assistant:write, channels:history",
        ),
        (lambda f: setattr(f["slack"].state, "app_token", "xapp-other"), "slack socket", "connections:write"),
        (lambda f: setattr(f["discord"], "token", "other"), "discord", "rejected DISCORD_BOT_TOKEN (401)"),
        (
            lambda f: setattr(f["discord"], "application_flags", 0),
            "discord intents",
            "Message Content intent is off",
        ),
    ],
)
async def test_each_dependency_down_is_named_and_exit_1(  # noqa: PLR0917 (pytest passes fixtures so)
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    slack: FakeSlack,
    discord: FakeDiscord,
    every: dict[str, Any],
    break_it: Any,
    name: str,
    needle: str,
) -> None:
    break_it({"openai": fake_openai, "slack": slack, "discord": discord})
    code, results = await doctor(make_settings(tmp_path / "data", fake_openai, **every))
    assert code == 1
    assert list(failing(results)) == [name]
    assert needle in results[name]
    assert "xoxb-other" not in str(results)
    assert slack.state.app_token not in str(results)


async def test_unreachable_platforms_and_databases_are_named(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    port = pgdb.free_port()
    settings = make_settings(
        tmp_path / "data",
        fake_openai,
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        slack_api_url=f"http://127.0.0.1:{port}/api/",
        discord_bot_token="t",
        discord_api_url=f"http://127.0.0.1:{port}/api/v10",
        supabase_db_url=f"postgresql://postgres:{pgdb.PASSWORD}@127.0.0.1:{port}/x",
    )
    code, results = await doctor(settings)
    assert code == 1
    assert failing(results) == {
        "postgres vectors": "FAIL cannot connect (OperationalError); check SUPABASE_DB_URL",
        "slack": results["slack"],
        "discord": results["discord"],
    }
    assert results["slack"].endswith("check SLACK_API_URL")
    assert results["discord"].endswith("check DISCORD_API_URL")
    assert pgdb.PASSWORD not in str(results)


async def test_an_embedding_model_of_another_size_and_mismatched_memories_fail(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / "memory_vectors.db")  # as an older Mnemo left it, with 32 dims
    conn.execute("create table vectors (collection, id, user_id, created_at, vector blob, payload)")
    conn.execute("insert into vectors values ('mnemo', '1', 'u', null, zeroblob(128), '{}')")
    conn.commit()
    conn.close()
    fake_openai.state.embed = lambda texts: [[1.0] * 48 for _ in texts]
    code, results = await doctor(make_settings(data, fake_openai))
    assert code == 1
    assert set(failing(results)) == {"embeddings", "memory vectors"}
    assert "48" in results["embeddings"]
    assert "EMBEDDING_DIMS=64" in results["memory vectors"]
    assert "python -m bot admin reembed" in results["memory vectors"]


def test_the_scopes_checked_are_the_manifests() -> None:
    for manifest in ("slack-manifest.yaml", "slack-manifest.http.yaml"):
        scopes = yaml.safe_load((ROOT / manifest).read_text())["oauth_config"]["scopes"]["bot"]
        assert sorted(scopes) == sorted(SLACK_SCOPES), manifest


def test_doctor_runs_as_a_command(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "OPENAI_BASE_URL": fake_openai.base_url,
        "EMBEDDING_MODEL": "fake-embed",
        "EMBEDDING_DIMS": "64",
        "DATA_DIR": str(tmp_path / "data"),
    }
    command = [sys.executable, "-m", "bot", "doctor"]
    ok = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1] == "4 of 4 checks passed"
    fake_openai.fail(503, times=5, endpoint="chat")
    down = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert down.returncode == 1
    assert down.stdout.splitlines()[0].startswith("FAIL  model chat")
    assert "Traceback" not in down.stderr
