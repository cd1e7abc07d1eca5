"""Slack as a Service: Socket Mode (SLACK_APP_TOKEN) or HTTP mode (POST /slack/events on PORT).

start() checks the bot token once with auth.test (so no request ever waits for it), builds the bolt
app, and then either opens the Socket Mode websocket or starts accepting HTTP requests. stop()
stops taking events, lets /memory answers being posted finish (bounded), and closes the connections.

Two roles, one or both per process: the front door (`front_door=True`: the bolt app records each
message, /memory command, button click and message shortcut in the durable intake and acknowledges
it) and the responder (`dispatcher`: the worker's Dispatcher gets a SlackResponder for messages, a
SlackPaneResponder for the assistant pane's and a SlackInteractionResponder for the rest, which
answer through the Web API and response_urls). A
`web` process is only the front door, a `worker` only the responder; `run` is both.

HTTP requests pass adapters/slack/http_gate.py (size cap, signature, payload shape) before they
reach bolt's `AsyncApp.async_dispatch`: every bad request gets a 4xx, nothing is stored or posted,
and the process keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.tasks import TaskTracker
from adapters.slack.directory import SlackDirectory
from adapters.slack.http_gate import Refused, admit
from adapters.slack.interactions import SlackInteractionResponder
from adapters.slack.listeners import SlackListeners, build_app
from adapters.slack.pane_intake import SlackPaneResponder
from adapters.slack.responders import SlackResponder
from adapters.slack.surfaces import SlackSurfaces, build_surfaces
from adapters.slack.web_api import (
    BotIdentity,
    SlackStartError,
    authenticate,
    retry_handlers,
    slack_error,
    web_api_base_url,
)
from config import Settings
from core.assistant import Assistant
from core.intake.dispatch import Dispatcher

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
SOCKET_CONNECT_TIMEOUT_SECONDS = 30.0


def _reject(status: int, message: str) -> Response:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


class SlackService:
    name = "slack"

    def __init__(
        self,
        settings: Settings,
        assistant: Assistant,
        *,
        dispatcher: Dispatcher | None = None,
        front_door: bool = True,
        stream_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if settings.slack_bot_token is None:
            raise ValueError("SlackService needs SLACK_BOT_TOKEN")
        self._settings = settings
        self._assistant = assistant
        self._front_door = front_door
        # Registered now, before any worker serves the intake (an unregistered kind is dropped).
        self.responder: SlackResponder | None = None
        self.interactions: SlackInteractionResponder | None = None
        self.pane: SlackPaneResponder | None = None
        if dispatcher is not None:
            self.responder = SlackResponder(assistant=assistant, stream_interval=stream_interval)
            self.responder.register(dispatcher)
            self.interactions = SlackInteractionResponder()
            self.interactions.register(dispatcher)
            self.pane = SlackPaneResponder()
            self.pane.register(dispatcher)
        self._stream_interval = stream_interval
        self._wall_clock = clock
        secret = settings.slack_signing_secret
        self._secret = secret.get_secret_value().encode() if secret is not None else None
        self._session: aiohttp.ClientSession | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._accepting = False
        # Everything acknowledged and still being worked on (answers, /memory, clicks).
        self.tracker = TaskTracker("slack")
        self.listeners: SlackListeners | None = None
        self.app: AsyncApp | None = None

    @property
    def socket_mode(self) -> bool:
        return self._settings.slack_socket_mode

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        settings = self._settings
        assert settings.slack_bot_token is not None
        token = settings.slack_bot_token.get_secret_value()
        base_url = web_api_base_url(settings.slack_api_url)
        self._session = aiohttp.ClientSession()
        try:
            client = AsyncWebClient(
                token=token, base_url=base_url, session=self._session, retry_handlers=retry_handlers()
            )
            identity, authorization = await authenticate(
                client, token=token, base_url=base_url, bot_name=settings.bot_name
            )
            directory = SlackDirectory(client)
            # One per process, for both roles (one Home tab refresher per process).
            surfaces = build_surfaces(
                assistant=self._assistant,
                client=client,
                identity=identity,
                tracker=self.tracker,
                directory=directory,
                stream_interval=self._stream_interval,
            )
            if self.responder is not None:
                self.responder.connect(client, identity, directory)
            if self.interactions is not None:
                self.interactions.connect(surfaces.handlers)
            if self.pane is not None:
                self.pane.connect(surfaces.handlers.pane, client)
            if self._front_door:
                await self._open_front_door(surfaces, identity, authorization, base_url)
        except BaseException:
            await self.tracker.drain(0)
            await self._session.close()
            self._session = None
            raise
        self._accepting = True
        log.info(
            "slack connected as %s (%s)",
            identity.user_id,
            ("Socket mode" if self.socket_mode else "HTTP mode") if self._front_door else "answers only",
        )

    async def _open_front_door(
        self,
        surfaces: SlackSurfaces,
        identity: BotIdentity,
        authorization: AuthorizeResult,
        base_url: str,
    ) -> None:
        self.listeners = SlackListeners(assistant=self._assistant, identity=identity)
        # Bolt copies this client's base URL, session and retry handlers into every request's
        # client; the token comes from `authorization`.
        app_client = AsyncWebClient(base_url=base_url, session=self._session, retry_handlers=retry_handlers())
        self.app = build_app(
            listeners=self.listeners,
            client=app_client,
            authorization=authorization,
            signing_secret=self._secret.decode() if self._secret is not None else None,
            # The assistant pane's events and app_home_opened are answered in this process
            # (adapters/slack/surfaces.py says why); everything else goes through the intake.
            surfaces=surfaces.registrations,
        )
        if self.socket_mode:
            await self._connect_socket(self.app, app_client)

    async def _connect_socket(self, app: AsyncApp, app_client: AsyncWebClient) -> None:
        assert self._settings.slack_app_token is not None
        app_token = self._settings.slack_app_token.get_secret_value()
        # Open the first URL ourselves: the SDK's connect() retries a refused token forever, while
        # a wrong token should stop start-up with a clear message.
        try:
            opened = await app_client.apps_connections_open(app_token=app_token)
        except SlackApiError as exc:
            raise SlackStartError(
                f"Slack refused SLACK_APP_TOKEN ({slack_error(exc)}); "
                "it must be an app-level token with the connections:write scope"
            ) from None
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:
            raise SlackStartError(f"could not open a Socket Mode connection ({exc})") from None
        handler = AsyncSocketModeHandler(app, app_token=app_token, web_client=app_client)
        handler.client.wss_uri = str(opened["url"])
        self._socket = handler
        try:
            async with asyncio.timeout(SOCKET_CONNECT_TIMEOUT_SECONDS):
                await handler.connect_async()  # type: ignore[no-untyped-call]
        except TimeoutError:
            await handler.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
            raise SlackStartError("the Socket Mode websocket did not connect within 30 s") from None

    async def stop_intake(self) -> None:
        """Shutdown began: stop taking events so that Slack delivers them again later (HTTP mode
        answers 503; the Socket Mode connection closes, so nothing more is acknowledged). Answers
        already being written still go out through the Web API."""
        self._accepting = False
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None

    async def stop(self) -> None:
        self._accepting = False
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        await self.tracker.drain(self._settings.shutdown_grace_seconds)
        if self.responder is not None:
            self.responder.disconnect()
        if self.interactions is not None:
            self.interactions.disconnect()
        if self.pane is not None:
            self.pane.disconnect()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- HTTP mode -------------------------------------------------------------------------------
    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route(
            SLACK_EVENTS_PATH,
            self.handle_http,
            methods=["POST"],
            include_in_schema=False,
            response_model=None,
        )
        return router

    async def handle_http(self, request: Request) -> Response:
        """Events, slash commands and interactivity all arrive here."""
        if self._secret is None:
            return _reject(404, "HTTP mode is off (Socket Mode is configured)")
        app = self.app
        if app is None or self.socket_mode or not self._accepting:
            return _reject(503, "not ready")  # Slack retries events later
        try:
            bolt_request = await admit(request, secret=self._secret, clock=self._wall_clock)
        except Refused as refused:
            return _reject(refused.status, refused.reason)
        # What bolt's starlette adapter does, minus its second `await request.body()` (the stream
        # is consumed) and its OAuth routes (Mnemo has one workspace and no install flow).
        response = await app.async_dispatch(bolt_request)
        return Response(
            status_code=response.status,
            content=response.body,
            headers=response.first_headers_without_set_cookie(),
        )
