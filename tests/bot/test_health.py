"""/healthz and /readyz through the real WebServer (uvicorn on a loopback port) and the real core."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.web import WebServer, WebStartError, create_web_app
from bot.wiring import Core, build_core
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI

API_KEY = "sk-readyz-test-key-0123456789"
URL_PASSWORD = "hunter2-url-password"


class SilentServer:
    """Accepts TCP connections and never answers: a model endpoint that hangs."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)

    def close(self) -> None:
        self._sock.close()
        for conn in self._conns:
            conn.close()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


async def serve(core: Core, **app_options: Any) -> tuple[WebServer, str]:
    options: dict[str, Any] = {"readiness_cache_seconds": 0.0, **app_options}
    web = WebServer(create_web_app(core, **options), host="127.0.0.1", port=0)
    await web.start()
    return web, f"http://127.0.0.1:{web.port}"


@pytest.fixture
async def served(core: Core) -> AsyncIterator[tuple[Core, str]]:
    web, url = await serve(core)
    yield core, url
    await web.stop()


async def test_healthz_answers_get_and_head(served: tuple[Core, str]) -> None:
    _, url = served
    async with httpx.AsyncClient() as http:
        got = await http.get(f"{url}/healthz")
        head = await http.head(f"{url}/healthz")
    assert got.status_code == 200
    assert got.json() == {"status": "ok"}
    assert head.status_code == 200


async def test_readyz_is_200_with_one_entry_per_dependency(served: tuple[Core, str]) -> None:
    _, url = served
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"storage", "memory", "model"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert isinstance(check["latency_ms"], float)


async def test_readyz_is_degraded_not_unready_when_the_model_is_unreachable_and_leaks_nothing(
    tmp_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    base = f"http://mnemo:{URL_PASSWORD}@127.0.0.1:{closed_port()}/v1"
    settings = make_settings(tmp_path / "data", fake_openai, openai_base_url=base, openai_api_key=API_KEY)
    async with build_core(settings) as core:
        web, url = await serve(core)
        try:
            async with httpx.AsyncClient() as http:
                response = await http.get(f"{url}/readyz")
        finally:
            await web.stop()
    # Mnemo still answers (with an apology): taking every replica out of the load balancer would
    # turn a model outage into a total one.
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["failing"] == ["model"]
    assert body["checks"]["model"] == {"status": "fail", "error": "ModelError"}
    assert body["checks"]["storage"]["status"] == "ok"
    assert body["checks"]["memory"]["status"] == "ok"
    for secret in (API_KEY, URL_PASSWORD, "127.0.0.1", "Connection"):
        assert secret not in response.text
    assert any("readiness: model failed" in r.getMessage() for r in caplog.records)


async def test_readyz_times_out_a_hanging_model_quickly(
    tmp_path: Path, fake_openai: FakeOpenAI, silent: SilentServer
) -> None:
    settings = make_settings(
        tmp_path / "data",
        fake_openai,
        openai_base_url=f"http://127.0.0.1:{silent.port}/v1",
        llm_timeout_seconds=30,
    )
    async with build_core(settings) as core:
        web, url = await serve(core, readiness_timeout=0.3)
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                begin = time.monotonic()
                response = await http.get(f"{url}/readyz")
                elapsed = time.monotonic() - begin
                health = await http.get(f"{url}/healthz")
        finally:
            await web.stop()
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["model"] == {"status": "fail", "error": "timeout"}
    assert elapsed < 2.0  # not the model client's 30 s timeout
    assert health.status_code == 200  # liveness never depends on a dependency


@contextlib.contextmanager
def storage_locked(core: Core) -> Iterator[None]:
    """Another process holds the database's write lock: the store stops answering."""
    conn = sqlite3.connect(core.settings.data_dir / "mnemo.db", isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_readyz_reports_storage_that_does_not_answer(core: Core) -> None:
    web, url = await serve(core, readiness_timeout=0.3)
    try:
        async with httpx.AsyncClient() as http:
            with storage_locked(core):
                response = await http.get(f"{url}/readyz")
            await asyncio.sleep(0.1)
            recovered = await http.get(f"{url}/readyz")
    finally:
        await web.stop()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["failing"] == ["storage"]
    checks = response.json()["checks"]
    assert checks["storage"] == {"status": "fail", "error": "timeout"}
    assert checks["model"]["status"] == "ok"
    assert checks["memory"]["status"] == "ok"
    assert recovered.status_code == 200


async def test_readyz_says_draining_once_shutdown_began(served: tuple[Core, str]) -> None:
    core, url = served
    core.orchestrator.stop_accepting()
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/readyz")
        health = await http.get(f"{url}/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "draining"
    assert health.status_code == 200


async def test_readiness_is_cached_briefly(core: Core) -> None:
    web, url = await serve(core, readiness_cache_seconds=60.0, readiness_timeout=0.3)
    try:
        async with httpx.AsyncClient() as http:
            first = await http.get(f"{url}/readyz")
            with storage_locked(core):  # a fresh check would fail now; the verdict is still fresh
                second = await http.get(f"{url}/readyz")
    finally:
        await web.stop()
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()


async def test_concurrent_readiness_probes_share_one_check(core: Core) -> None:
    web, url = await serve(core, readiness_cache_seconds=5.0)
    try:
        async with httpx.AsyncClient() as http:
            responses = await asyncio.gather(*(http.get(f"{url}/readyz") for _ in range(10)))
    finally:
        await web.stop()
    bodies = {r.text for r in responses}
    assert len(bodies) == 1  # identical latencies: one check answered all ten


async def test_routers_are_mounted_next_to_the_health_endpoints(core: Core) -> None:
    from fastapi import APIRouter

    router = APIRouter()

    @router.post("/slack/events")
    async def events() -> dict[str, bool]:
        return {"ok": True}

    web, url = await serve(core, routers=[router])
    try:
        async with httpx.AsyncClient() as http:
            posted = await http.post(f"{url}/slack/events")
            health = await http.get(f"{url}/healthz")
    finally:
        await web.stop()
    assert posted.json() == {"ok": True}
    assert health.status_code == 200


async def test_a_port_in_use_fails_start_up(core: Core) -> None:
    web, _ = await serve(core)
    try:
        clash = WebServer(create_web_app(core), host="127.0.0.1", port=web.port)
        with pytest.raises(WebStartError, match=f"could not listen on 127.0.0.1:{web.port}"):
            await clash.start()
    finally:
        await web.stop()


async def test_health_endpoints_are_documented_once(core: Core) -> None:
    schema = create_web_app(core).openapi()
    assert list(schema["paths"]["/healthz"]) == ["get"]
    assert list(schema["paths"]["/readyz"]) == ["get"]


async def test_cors_allows_only_the_configured_origins(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(
        tmp_path, fake_openai, api_cors_origins="https://app.example.com/, http://localhost:3000"
    )
    assert settings.api_cors_origins == ["https://app.example.com", "http://localhost:3000"]
    async with build_core(settings) as cored:
        app = create_web_app(cored)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            preflight = {
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            }
            allowed = await http.options(
                "/healthz", headers={"Origin": "https://app.example.com", **preflight}
            )
            refused = await http.options("/healthz", headers={"Origin": "https://evil.example", **preflight})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in refused.headers


def test_cors_origins_must_be_urls(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    with pytest.raises(ValueError, match="expected a URL"):
        make_settings(tmp_path, fake_openai, api_cors_origins="app.example.com")


async def test_no_cors_headers_by_default(core: Core) -> None:
    app = create_web_app(core)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/healthz", headers={"Origin": "https://app.example.com"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
