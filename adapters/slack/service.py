"""Slack as a Service: Socket Mode (SLACK_APP_TOKEN) or HTTP mode (POST /slack/events on PORT).

start() checks the bot token once with auth.test (so no request ever waits for it), builds the bolt
app, and then either opens the Socket Mode websocket or starts accepting HTTP requests. stop()
stops taking events, lets replies being posted finish (bounded), and closes the connections.

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
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import BotIdentity, SlackBot, build_app, slack_error
from adapters.slack.http_gate import Refused, admit
from config import Settings
from core.assistant import Assistant

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
DEFAULT_API_URL = "https://slack.com/api/"
RATE_LIMIT_RETRIES = 3
SOCKET_CONNECT_TIMEOUT_SECONDS = 30.0


class SlackStartError(RuntimeError):
    """Slack refused our tokens or could not be reached at start-up; the message says which."""


def web_api_base_url(override: str | None) -> str:
    """SLACK_API_URL (GovSlack, tests) or Slack's; the SDK needs the trailing slash."""
    return (override.rstrip("/") + "/") if override else DEFAULT_API_URL


def retry_handlers() -> list[AsyncRetryHandler]:
    # 429s are retried after Slack's Retry-After; a dropped connection is retried once.
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=1),
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
    ]


def _reject(status: int, message: str) -> Response:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


class SlackService:
    name = "slack"

    def __init__(
        self,
        settings: Settings,
        assistant: Assistant,
        *,
        stream_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if settings.slack_bot_token is None:
            raise ValueError("SlackService needs SLACK_BOT_TOKEN")
        self._settings = settings
        self._assistant = assistant
        self._stream_interval = stream_interval
        self._wall_clock = clock
        secret = settings.slack_signing_secret
        self._secret = secret.get_secret_value().encode() if secret is not None else None
        self._session: aiohttp.ClientSession | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._accepting = False
        self.bot: SlackBot | None = None
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
            identity, authorization = await self._authenticate(client, token, base_url)
            self.bot = SlackBot(
                assistant=self._assistant,
                client=client,
                identity=identity,
                stream_interval=self._stream_interval,
            )
            # Bolt copies this client's base URL, session and retry handlers into every request's
            # client; the token comes from `authorization`.
            app_client = AsyncWebClient(
                base_url=base_url, session=self._session, retry_handlers=retry_handlers()
            )
            self.app = build_app(
                bot=self.bot,
                client=app_client,
                authorization=authorization,
                signing_secret=self._secret.decode() if self._secret is not None else None,
            )
            if self.socket_mode:
                await self._connect_socket(self.app, app_client)
        except BaseException:
            if self.bot is not None:
                await self.bot.close(0)
            await self._session.close()
            self._session = None
            raise
        self._accepting = True
        log.info(
            "slack connected as %s (%s mode)",
            identity.user_id,
            "Socket" if self.socket_mode else "HTTP",
        )

    async def _authenticate(
        self, client: AsyncWebClient, token: str, base_url: str
    ) -> tuple[BotIdentity, AuthorizeResult]:
        try:
            auth = await client.auth_test()
        except SlackApiError as exc:
            raise SlackStartError(f"Slack refused SLACK_BOT_TOKEN ({slack_error(exc)})") from None
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:
            raise SlackStartError(f"could not reach the Slack Web API at {base_url} ({exc})") from None
        user_id = str(auth.get("user_id") or "")
        if not user_id:
            raise SlackStartError("auth.test did not say who the bot is; is SLACK_BOT_TOKEN a bot token?")
        identity = BotIdentity(
            user_id=user_id,
            bot_id=auth.get("bot_id"),
            team_id=auth.get("team_id"),
            enterprise_id=auth.get("enterprise_id"),
            name=self._settings.bot_name,
        )
        authorization = AuthorizeResult(
            enterprise_id=identity.enterprise_id,
            team_id=identity.team_id,
            team=auth.get("team"),
            url=auth.get("url"),
            bot_user_id=identity.user_id,
            bot_id=identity.bot_id,
            bot_token=token,
        )
        return identity, authorization

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
        if self.bot is not None:
            await self.bot.close(self._settings.shutdown_grace_seconds)
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
