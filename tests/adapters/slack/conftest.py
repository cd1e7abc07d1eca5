"""A real Mnemo core and the real Slack adapter (bolt AsyncApp) against a fake Slack Web API.

`slack_http` serves POST /slack/events through the real FastAPI app on an in-process ASGI
transport; `slack_server` serves it through uvicorn on a loopback port, for what only a real socket
shows (how much of a body the server reads). Requests are signed like Slack signs them.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from adapters.slack.service import SlackService
from bot.intake_worker import IntakeWorker
from bot.web import WebServer, create_web_app
from bot.wiring import Core, build_core
from config import Settings
from core.intake.dispatch import Dispatcher
from core.intake.sqlite import SQLiteIntake
from tests.adapters.slack import payloads as p
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(team_id=p.TEAM, bot_user_id=p.BOT_USER, bot_id=p.BOT_ID) as slack:
        slack.add_user(p.ALICE, "Alice")
        slack.add_user(p.BOB, "Bob")
        slack.add_channel(p.GENERAL, name="general")
        slack.add_channel(p.SECRET_CHANNEL, private=True, name="secret")
        yield slack


async def settle(service: SlackService, core: Core) -> None:
    """Wait until everything the adapter acknowledged is done (answers posted, /memory answered).
    Its listeners record messages in the intake and hand other work to the tracker before the ack
    (process_before_response), so once a request has been answered, its work is recorded or
    tracked: an empty intake and an idle tracker mean done."""
    assert isinstance(core.intake, SQLiteIntake)
    await asyncio.wait_for(core.intake.drained(), 10)
    assert await service.tracker.wait_idle(10), "Slack work still running after 10 s"


@asynccontextmanager
async def slack_answering(
    settings: Settings, core: Core, **service_options: Any
) -> AsyncIterator[SlackService]:
    """The Slack service (front door and responder) and an intake worker answering in this process,
    as `python -m bot run` wires them; started, and stopped on exit."""
    dispatcher = Dispatcher(intake=core.intake, clock=core.clock)
    service = SlackService(
        settings, core.assistant, dispatcher=dispatcher, **({"stream_interval": 0.0} | service_options)
    )
    worker = IntakeWorker(
        intake=core.intake, dispatcher=dispatcher, concurrency=settings.max_concurrent_replies, grace=5
    )
    await service.start()
    try:
        await worker.start()
        try:
            yield service
        finally:
            await worker.stop()
    finally:
        await service.stop()


def slack_settings(
    data_dir: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": p.SIGNING_SECRET,
        "slack_api_url": fake_slack.base_url,
        "scheduler_enabled": False,
    }
    values.update(overrides)
    return make_settings(data_dir, fake_openai, **values)


@dataclass
class SlackHarness:
    core: Core
    service: SlackService
    slack: FakeSlack
    model: FakeOpenAI
    http: httpx.AsyncClient

    async def post(self, body: bytes, headers: Mapping[str, str | bytes]) -> httpx.Response:
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def event(self, event: dict[str, Any], *, retry: int | None = None, **kw: Any) -> httpx.Response:
        body, headers = p.json_request(p.envelope(event, **kw))
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(body, headers)

    async def command(self, text: str, *, name: str, user: str = p.ALICE) -> httpx.Response:
        fields = p.slash_command(text, user=user, response_url=self.slack.response_url(name))
        return await self.post(*p.form_request(fields))

    async def click(self, action_id: str, value: str, *, name: str, user: str = p.ALICE) -> httpx.Response:
        payload = p.block_action(action_id, value, user=user, response_url=self.slack.response_url(name))
        return await self.post(*p.interactive_request(payload))

    async def settle(self) -> None:
        await settle(self.service, self.core)

    async def response(self, name: str, *, count: int = 1) -> dict[str, Any]:
        await self.slack.wait_for(lambda: len(self.slack.responses(name)) >= count)
        return self.slack.responses(name)[count - 1]


def blocks_text(response: dict[str, Any]) -> str:
    """Every piece of text in a Block Kit message, for assertions."""
    return json.dumps(response.get("blocks", []), ensure_ascii=False) + response.get("text", "")


# Raw `<` in mrkdwn starts Slack syntax: a mention or special command (pings), or a link.
_PING = re.compile(r"<[!@]|<mailto:")
_TOKEN = re.compile(r"<([^<>]*)>")


def assert_safe_mrkdwn(text: str) -> None:
    """Nothing in `text` can ping anyone, and every link says which host it goes to. Channel
    links (<#C...>) are allowed here: tests of model output check that those are escaped."""
    assert not _PING.search(text), text
    for token in _TOKEN.findall(text):
        if token.startswith("#C"):
            continue
        target, _, label = token.partition("|")
        host = urlsplit(target).hostname
        assert host is not None, token
        assert label.endswith(f"({host})") or label.lower().startswith((host, f"https://{host}")), token


@asynccontextmanager
async def running_slack(
    settings: Settings,
    fake_openai: FakeOpenAI,
    fake_slack: FakeSlack,
    *,
    over_socket: bool = False,
    **service_options: Any,
) -> AsyncIterator[SlackHarness]:
    """One Mnemo process: a core, the Slack service in HTTP mode, and the web app serving it
    (in-process, or through uvicorn on a loopback port with `over_socket`)."""
    async with build_core(settings) as core, slack_answering(settings, core, **service_options) as service:
        app = create_web_app(core, routers=[service.router()])
        server = WebServer(app, host="127.0.0.1", port=0, graceful_seconds=1) if over_socket else None
        try:
            if server is not None:
                await server.start()
                client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}")
            else:
                transport = httpx.ASGITransport(app=app)
                client = httpx.AsyncClient(transport=transport, base_url="http://mnemo.test")
            async with client as http:
                yield SlackHarness(core, service, fake_slack, fake_openai, http)
        finally:
            if server is not None:
                await server.stop()


@pytest.fixture
async def slack_http(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> AsyncIterator[SlackHarness]:
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    async with running_slack(settings, fake_openai, fake_slack) as harness:
        yield harness


@pytest.fixture
async def slack_server(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> AsyncIterator[SlackHarness]:
    settings = slack_settings(tmp_path / "data", fake_openai, fake_slack)
    async with running_slack(settings, fake_openai, fake_slack, over_socket=True) as harness:
        yield harness


# -- web and worker processes apart (the durable intake between them) ---------------------------


def deliveries(settings: Settings) -> list[sqlite3.Row]:
    with sqlite3.connect(Path(settings.data_dir) / "intake.db") as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM deliveries ORDER BY seq").fetchall()


@asynccontextmanager
async def front_door(settings: Settings, model: FakeOpenAI, slack: FakeSlack) -> AsyncIterator[SlackHarness]:
    """A `python -m bot web` process: Slack's front door, no worker."""
    async with build_core(settings) as core:
        service = SlackService(settings, core.assistant, front_door=True, stream_interval=0.0)
        await service.start()
        try:
            transport = httpx.ASGITransport(app=create_web_app(core, routers=[service.router()]))
            async with httpx.AsyncClient(transport=transport, base_url="http://mnemo.test") as http:
                yield SlackHarness(core, service, slack, model, http)
        finally:
            await service.stop()


@asynccontextmanager
async def worker(settings: Settings) -> AsyncIterator[Core]:
    """A `python -m bot worker` process: Slack's responders and an intake worker, no front door."""
    async with build_core(settings) as core:
        dispatcher = Dispatcher(intake=core.intake, clock=core.clock)
        service = SlackService(
            settings, core.assistant, dispatcher=dispatcher, front_door=False, stream_interval=0.0
        )
        serving = IntakeWorker(intake=core.intake, dispatcher=dispatcher, concurrency=4, grace=0)
        await service.start()
        try:
            await serving.start()
            try:
                yield core
            finally:
                await serving.stop()
        finally:
            await service.stop()


async def drained(core: Core) -> None:
    assert isinstance(core.intake, SQLiteIntake)
    await asyncio.wait_for(core.intake.drained(), 15)
