"""/readyz during start-up and a model outage, and /docs without a CDN, through the real web server
(uvicorn on loopback), the real lifecycle (bot.app.run_services) and the real core."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from bot.app import run_services
from bot.web import WebServer, create_web_app
from bot.wiring import Core, build_core
from core.models import ReplyKind
from core.replies import MODEL_DOWN_REPLY
from tests.bot.test_health import closed_port
from tests.conftest import make_settings
from tests.core.jobs.helpers import message
from tests.fakes.openai_server import FakeOpenAI


class SlowFrontDoor:
    """A front door whose start-up waits until the test lets it finish."""

    name = "slow-front-door"

    def __init__(self) -> None:
        self.starting = asyncio.Event()
        self.may_finish = asyncio.Event()

    async def start(self) -> None:
        self.starting.set()
        await self.may_finish.wait()

    async def stop(self) -> None:
        return None


async def test_readyz_is_503_starting_until_every_front_door_has_started(core: Core) -> None:
    web = WebServer(create_web_app(core, readiness_cache_seconds=0.0), host="127.0.0.1", port=0)
    door = SlowFrontDoor()
    stop = asyncio.Event()
    running = asyncio.create_task(run_services(core, [web, door], stop))
    try:
        await door.starting.wait()  # the web server is up (it starts first), the front door is not
        async with httpx.AsyncClient() as http:
            url = f"http://127.0.0.1:{web.port}"
            during = await http.get(f"{url}/readyz")
            alive = await http.get(f"{url}/healthz")
            door.may_finish.set()
            while not web.startup.done:  # run_services marks it right after the last start()
                await asyncio.sleep(0)
            after = await http.get(f"{url}/readyz")
    finally:
        door.may_finish.set()
        stop.set()
        await running
    assert during.status_code == 503
    assert during.json() == {"status": "starting", "checks": {}}
    assert alive.status_code == 200  # liveness: the process is up, just not ready
    assert after.status_code == 200
    assert after.json()["status"] == "ok"


async def test_during_a_model_outage_readyz_is_degraded_and_mnemo_answers_with_an_apology(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    # The whole model endpoint is down: nothing listens where OPENAI_BASE_URL points.
    down = f"http://127.0.0.1:{closed_port()}/v1"
    settings = make_settings(tmp_path / "data", fake_openai, openai_base_url=down)
    async with build_core(settings) as core:
        app = create_web_app(core, readiness_cache_seconds=0.0)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            ready = await http.get("/readyz")
        reply = await core.orchestrator.handle(message("are you there?"))
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert "model" in ready.json()["failing"]
    assert "storage" not in ready.json()["failing"]
    assert ready.json()["checks"]["storage"]["status"] == "ok"
    assert reply is not None
    assert reply.kind is ReplyKind.APOLOGY
    assert reply.text == MODEL_DOWN_REPLY


EXTERNAL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.I)


async def test_docs_pages_reference_no_external_host_and_their_assets_are_served(core: Core) -> None:
    app = create_web_app(core)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        pages = {path: await http.get(path) for path in ("/docs", "/redoc")}
        for path, page in pages.items():
            assert page.status_code == 200, path
            assert "text/html" in page.headers["content-type"]
            assert EXTERNAL.findall(page.text) == [], path
            assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
            assert assets, path
            for asset in assets:
                assert asset.startswith("/"), asset  # served by this process
                fetched = await http.get(asset)
                assert fetched.status_code == 200, asset
                assert len(fetched.content) > 1000, asset
        spec = await http.get(app.openapi_url or "/openapi.json")
    assert "/readyz" in spec.json()["paths"]
    assert "/metrics" not in spec.json()["paths"]  # an operations endpoint, not part of the API
