"""The Dockerfile, compose.yaml and render.yaml: what can be checked without a Docker engine (none
runs on these machines, and images cannot be pulled). `docker compose config` validates the compose
file (the Compose CLI needs no engine for that); the image's start command is the Procfile's and the
README's, and it is run here, with the image's environment, the way the container would run it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from honcho.environ import parse_procfile

from bot.__main__ import _parser
from config import Settings
from tests.bot.test_procfile import bot_argv
from tests.bot.test_sigterm import free_port
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = pending + line
        pending = ""
        keyword, _, rest = whole.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile(keyword: str) -> list[str]:
    return [rest for kw, rest in dockerfile_instructions() if kw == keyword]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in dockerfile("ENV"):
        for pair in shlex.split(rest):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def image_command() -> list[str]:
    (cmd,) = dockerfile("CMD")
    argv = json.loads(cmd)  # exec form: Python is PID 1 and gets SIGTERM itself
    assert isinstance(argv, list)
    return [str(part) for part in argv]


def production_section() -> str:
    return (ROOT / "README.md").read_text().split("## Running in production", 1)[1].split("\n## ", 1)[0]


def compose_cli() -> list[str]:
    """`docker compose` (the v2 plugin) or, where only it is installed, `docker-compose`. Fails, not
    skips, when neither is there: CI installs one (scripts/ensure-compose.sh)."""
    if shutil.which("docker") is not None:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose") is not None:
        return ["docker-compose"]
    pytest.fail(
        "neither `docker compose` nor `docker-compose` is installed: the compose file cannot be "
        "validated. Run scripts/ensure-compose.sh (apt-get install docker-compose)."
    )


# -- Dockerfile ------------------------------------------------------------------------------------
def test_the_image_is_slim_python_311_with_pinned_requirements_and_a_non_root_user() -> None:
    assert dockerfile("FROM") == ["python:3.11-slim"]
    installs = [run for run in dockerfile("RUN") if "pip install" in run]
    assert installs == ["pip install --no-deps -r requirements.txt"]  # exactly the pinned set
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, f"not pinned: {line}"
    (user,) = dockerfile("USER")
    assert user not in {"root", "0"}
    assert any("useradd --system --uid 10001" in run and user in run for run in dockerfile("RUN"))


def test_data_dir_is_the_volume_and_the_port_is_exposed() -> None:
    env = dockerfile_env()
    assert env["DATA_DIR"] == "/data"
    assert json.loads(dockerfile("VOLUME")[0]) == [env["DATA_DIR"]]
    assert dockerfile("EXPOSE") == [env["PORT"]]
    assert env["HOST"] == "0.0.0.0"
    Settings(_env_file=None, openai_api_key="sk-test", **{k.lower(): v for k, v in env.items()})  # type: ignore[call-arg]


def test_the_image_runs_the_procfile_command_which_the_readme_documents() -> None:
    procfile = parse_procfile((ROOT / "Procfile").read_text())
    # One container runs the one-process layout (front doors, answers and jobs); the Procfile's
    # web and worker types are the same work split for platforms that scale process types.
    assert image_command() == ["python", "-m", "bot", "run"]
    assert {name: bot_argv(line)[0] for name, line in procfile.processes.items()} == {
        "web": "web",
        "worker": "worker",
    }
    args = _parser().parse_args(image_command()[3:])
    assert (args.command, args.no_scheduler) == ("run", False)
    section = production_section()
    assert "python -m bot run" in section
    for command in ("docker build -t mnemo .", "docker compose up --build"):
        assert command in section, command
    run = next(line for line in section.splitlines() if line.startswith("docker run "))
    argv = shlex.split(run)
    assert argv[-1] == "mnemo"  # the image built above
    volume = argv[argv.index("-v") + 1]
    assert volume.split(":")[1] == dockerfile_env()["DATA_DIR"]
    published = argv[argv.index("-p") + 1]
    assert published.split(":")[1] == dockerfile_env()["PORT"]
    assert "--env-file" in argv


def test_the_image_start_command_serves_and_stops_cleanly(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    """The CMD, with the image's environment, run here with this Python: the entry point the
    tests run, started the way the container starts it."""
    port = free_port()
    env = {
        **dockerfile_env(),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        # What differs here: no /data volume and a loopback port; the rest is the image's.
        "DATA_DIR": str(tmp_path / "data"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-container-test",
        "EMBEDDING_DIMS": "64",
        "SUPABASE_JWT_SECRET": "jwt-secret-for-the-http-api-0123456789",
    }
    proc = subprocess.Popen(
        image_command(), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"{url}/readyz", timeout=5)
            except httpx.TransportError:
                ready = None
            if ready is not None and ready.status_code == 200:
                break
            time.sleep(0.2)
        assert ready is not None, "the container command never served /readyz"
        assert ready.json()["status"] == "ok"
        metrics = httpx.get(f"{url}/metrics", timeout=5)
        assert "mnemo_replies_total" in metrics.text
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]  # LOG_FORMAT=json
    assert any(line["msg"] == "stopped cleanly" for line in lines)


# -- compose.yaml ----------------------------------------------------------------------------------
def compose_config(tmp_path: Path) -> dict[str, Any]:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("compose.yaml", "Dockerfile"):
        shutil.copy(ROOT / name, project / name)
    shutil.copy(ROOT / ".env.example", project / ".env")  # as the README says: cp .env.example .env
    result = subprocess.run(
        [*compose_cli(), "-f", "compose.yaml", "config"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert isinstance(config, dict)
    return config


def test_docker_compose_config_validates_mnemo_and_postgres_with_pgvector(tmp_path: Path) -> None:
    config = compose_config(tmp_path)
    services = config["services"]
    assert set(services) == {"mnemo", "postgres"}
    mnemo, postgres = services["mnemo"], services["postgres"]
    assert postgres["image"] == "pgvector/pgvector:pg16"
    assert "command" not in mnemo  # the image's CMD: python -m bot run
    assert mnemo["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = {k: v for k, v in mnemo["environment"].items() if v not in ("", None)}
    assert env["DATA_DIR"] == "/data"
    assert env["SUPABASE_DB_URL"].startswith("postgresql://mnemo:")
    assert env["SUPABASE_DB_URL"].endswith("@postgres:5432/mnemo")
    volumes = mnemo["volumes"]
    assert any((v["target"] if isinstance(v, dict) else v.split(":")[1]) == "/data" for v in volumes), volumes
    # The service's environment, as compose resolves it, is a valid Mnemo configuration.
    values = {k.lower(): v for k, v in env.items()}
    values["openai_api_key"] = "sk-compose-test"
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    assert settings.supabase_db_url is not None


# -- render.yaml -----------------------------------------------------------------------------------
def test_render_blueprint_builds_the_dockerfile_with_a_disk_for_data_dir() -> None:
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    (service,) = blueprint["services"]
    assert service["type"] == "web"
    assert service["runtime"] == "docker"
    assert (ROOT / service["dockerfilePath"]).resolve() == (ROOT / "Dockerfile").resolve()
    assert service["healthCheckPath"] == "/readyz"
    assert service["disk"]["mountPath"] == dockerfile_env()["DATA_DIR"]
    env = {item["key"]: item for item in service["envVars"]}
    assert env["DATA_DIR"]["value"] == service["disk"]["mountPath"]
    for key, item in env.items():
        assert key.lower() in Settings.model_fields, key
        if key.startswith(("OPENAI_API", "SLACK_", "DISCORD_")):
            assert item.get("sync") is False, key  # secrets are asked for, never committed
