"""The API as a front door of its own: `build_services` mounts /v1 when JWT verification is
configured (and only then), and `python -m bot run` with nothing but SUPABASE_JWT_SECRET serves it,
answers, stops cleanly on SIGTERM and never logs a token."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.services import build_services, front_doors_configured
from bot.web import WebServer
from bot.wiring import build_core
from tests.adapters.http.conftest import ALICE, api_settings
from tests.fakes.jwks import mint
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_api_auth_alone_is_a_front_door(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    jwks_only = api_settings(
        tmp_path, fake_openai, "", supabase_jwt_secret=None, supabase_jwks_url="http://x/y"
    )
    nothing = api_settings(tmp_path, fake_openai, "", supabase_jwt_secret=None)

    assert front_doors_configured(api_settings(tmp_path, fake_openai, "s" * 64))
    assert front_doors_configured(jwks_only)
    assert not front_doors_configured(nothing)


async def test_build_services_serves_the_api_on_port(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str
) -> None:
    settings = api_settings(tmp_path, fake_openai, jwt_secret, host="127.0.0.1", port=free_port())
    async with build_core(settings) as core:
        services = build_services(settings, core)
        # No chat platform, no scheduler: the API, and the worker that answers chats a dead
        # process held (adapters/http/responders.py).
        assert [s.name for s in services] == ["web", "intake-worker"]
        web = services[0]
        assert isinstance(web, WebServer)
        await web.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}") as client:
                token = mint(jwt_secret, sub=ALICE)
                me = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
                anonymous = await client.get("/v1/auth/me")
                docs = await client.get("/docs")
                health = await client.get("/healthz")
        finally:
            await web.stop()

    assert me.status_code == 200
    assert me.json()["subject"] == ALICE
    assert anonymous.status_code == 401
    assert docs.status_code == 200
    assert health.status_code == 200


def test_python_m_bot_serves_the_api_alone(tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str) -> None:
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "SUPABASE_", "OPENAI"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_API_KEY="sk-api-process-test-0123",
        CHAT_MODEL="fake-chat",
        EMBEDDING_MODEL="fake-embed",
        EMBEDDING_DIMS="64",
        LLM_MAX_RETRIES="0",
        DATA_DIR=str(tmp_path / "data"),
        HOST="127.0.0.1",
        PORT=str(port),
        SUPABASE_JWT_SECRET=jwt_secret,
        LOG_LEVEL="DEBUG",
        SHUTDOWN_GRACE_SECONDS="5",
    )
    token = mint(jwt_secret, sub=ALICE)
    bad = mint(jwt_secret, sub=ALICE, expires_in=-600)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,  # an empty directory: no developer .env is read
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "the bot never became healthy"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        chat = httpx.post(
            f"{url}/v1/chat",
            json={"message": "hello over HTTP"},
            headers={"Authorization": f"Bearer {token}"},
        )
        rejected = httpx.get(f"{url}/v1/sessions", headers={"Authorization": f"Bearer {bad}"})
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert chat.status_code == 200, chat.text
    assert chat.json()["kind"] == "answer"
    assert "hello over HTTP" in chat.json()["text"]
    assert rejected.status_code == 401
    assert proc.returncode == 0, err.decode()
    logs = out.decode() + err.decode()
    assert "web server listening" in logs
    for secret in (token, bad, jwt_secret, token.split(".")[2]):
        assert secret not in logs
