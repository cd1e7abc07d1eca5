"""`python -m bot`'s wiring: build_services runs Slack next to the web server on PORT."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from adapters.slack.service import SlackService
from bot.intake_worker import IntakeWorker
from bot.services import build_services
from bot.web import WebServer
from bot.wiring import build_core
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import settle, slack_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import APP_TOKEN, FakeSlack
from tests.fakes.slack_socket import FakeSocketMode


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_http_mode_serves_slack_events_on_port_through_uvicorn(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    port = _free_port()
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack, host="127.0.0.1", port=port)
    fake_openai.state.reply = lambda messages: "Hello from a real socket."
    async with build_core(settings) as core:
        services = build_services(settings, core)
        assert [type(s) for s in services] == [WebServer, SlackService, IntakeWorker]
        for service in services:
            await service.start()
        try:
            body, headers = p.json_request(p.envelope(p.app_mention("hi over real HTTP")))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                response = await http.post("/slack/events", content=body, headers=headers)
            slack = services[1]
            assert isinstance(slack, SlackService)
            await settle(slack, core)
        finally:
            for service in reversed(services):
                await service.stop()

    assert response.status_code == 200
    assert [m.text for m in fake_slack.posted(p.GENERAL)] == ["Hello from a real socket."]


async def test_socket_mode_adds_no_http_route(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    port = _free_port()
    async with FakeSocketMode() as fake_socket:
        fake_slack.state.socket_url = fake_socket.url
        settings = slack_settings(
            tmp_path / "data",
            fake_openai,
            fake_slack,
            host="127.0.0.1",
            port=port,
            slack_app_token=APP_TOKEN,
            slack_signing_secret=None,
        )
        async with build_core(settings) as core:
            services = build_services(settings, core)
            for service in services:
                await service.start()
            try:
                body, headers = p.json_request(p.envelope(p.app_mention("not here")))
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                    response = await http.post("/slack/events", content=body, headers=headers)
                connected = fake_socket.connected.is_set()
            finally:
                for service in reversed(services):
                    await service.stop()

    assert response.status_code == 404
    assert connected
