"""Discord as a Service: log in, keep the gateway connected in the background, stop cleanly.

discord.py reconnects and resumes on its own. What it does not do is come back after its connection
loop ends with an unexpected error (it closes the client); the supervisor here then starts a fresh
client after a backoff, so one bad moment never leaves the bot silently offline. Fatal problems (a
rejected token, the message content intent not enabled) stop it with a message saying what to fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import discord
from pydantic import SecretStr

from adapters.discord.client import MnemoDiscordClient
from adapters.discord.options import DiscordOptions
from adapters.discord.sdk import apply_endpoint_overrides
from config import Settings
from core.assistant import Assistant

log = logging.getLogger(__name__)

PRIVILEGED_INTENT_HELP = (
    "Discord refused the connection: the MESSAGE CONTENT privileged intent is not enabled. "
    "Developer Portal -> your application -> Bot -> Privileged Gateway Intents -> Message Content Intent."
)
LOGIN_REJECTED_HELP = (
    "Discord rejected DISCORD_BOT_TOKEN (401). "
    "Copy the bot token from Developer Portal -> Bot -> Reset Token."
)
MAX_BACKOFF_SECONDS = 60.0
# A connection that lasted this long was healthy: the next failure starts the backoff again.
STABLE_SECONDS = 120.0


class DiscordStartError(RuntimeError):
    """Discord cannot run; the message says what to fix (it never contains the token)."""


class DiscordLoginRejectedError(DiscordStartError):
    """The token is wrong: retrying cannot help."""


class DiscordService:
    name = "discord"

    def __init__(
        self,
        *,
        settings: Settings,
        assistant: Assistant,
        options: DiscordOptions | None = None,
        intake: bool = False,
        ready_timeout: float = 60.0,
        first_backoff: float = 1.0,
    ) -> None:
        if settings.discord_bot_token is None:
            raise DiscordStartError("DISCORD_BOT_TOKEN is not set")
        self._settings = settings
        self._assistant = assistant
        self._token: SecretStr = settings.discord_bot_token
        self._options = options or DiscordOptions.from_settings(settings)
        self._ready_timeout = ready_timeout
        self._intake = intake
        self._first_backoff = first_backoff
        self._client: MnemoDiscordClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0

    @property
    def client(self) -> MnemoDiscordClient:
        """The current client (a new one after a restart)."""
        if self._client is None:
            raise RuntimeError("the Discord service is not started")
        return self._client

    def _new_client(self) -> MnemoDiscordClient:
        return MnemoDiscordClient(assistant=self._assistant, options=self._options, intake=self._intake)

    async def _login(self, client: MnemoDiscordClient, api: str) -> None:
        # People paste the header form ("Bot abc..."); discord.py adds the prefix itself.
        token = self._token.get_secret_value().strip().removeprefix("Bot ").strip()
        try:
            await client.login(token)
        except discord.LoginFailure:
            await client.close()
            raise DiscordLoginRejectedError(LOGIN_REJECTED_HELP) from None
        except (discord.HTTPException, OSError) as exc:
            await client.close()
            raise DiscordStartError(f"could not reach Discord's API at {api}: {type(exc).__name__}") from None

    async def start(self) -> None:
        """Log in (a bad token fails here), then connect; returns once the gateway is ready."""
        settings = self._settings
        api, gateway = apply_endpoint_overrides(
            api_url=settings.discord_api_url, gateway_url=settings.discord_gateway_url
        )
        log.info("Discord REST %s, gateway %s", api, gateway)
        self._stopping = False
        client = self._new_client()
        self._client = client
        await self._login(client, api)
        self._task = asyncio.create_task(self._supervise(client, api), name="discord-gateway")
        ready = asyncio.create_task(client.wait_until_ready(), name="discord-ready")
        done, _ = await asyncio.wait(
            {ready, self._task}, timeout=self._ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
        if self._task in done:
            error = self._task.exception()
            self._task = None
            await client.close()
            if isinstance(error, DiscordStartError):
                raise error
            raise DiscordStartError(f"the Discord connection ended during start-up: {error!r}")
        if ready not in done:
            log.warning(
                "Discord gateway not ready after %.0fs; still connecting in the background",
                self._ready_timeout,
            )

    async def _supervise(self, client: MnemoDiscordClient, api: str) -> None:
        backoff = self._first_backoff
        while True:
            connected_at = time.monotonic()
            try:
                await client.connect(reconnect=True)
            except discord.PrivilegedIntentsRequired:
                log.critical(PRIVILEGED_INTENT_HELP)
                raise DiscordStartError(PRIVILEGED_INTENT_HELP) from None
            except Exception as exc:
                if self._stopping:
                    return
                log.error(
                    "the Discord connection failed (%s); starting a new one", type(exc).__name__, exc_info=exc
                )
            if self._stopping:
                return
            await client.close()
            if time.monotonic() - connected_at > STABLE_SECONDS:
                backoff = self._first_backoff
            while not self._stopping:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                client = self._new_client()
                self._client = client
                try:
                    await self._login(client, api)
                    break
                except DiscordLoginRejectedError:
                    log.critical(LOGIN_REJECTED_HELP)
                    raise
                except DiscordStartError as exc:
                    log.warning("Discord login failed (%s); retrying in %.0fs", exc, backoff)
            if self._stopping:
                await client.close()
                return
            self.restarts += 1

    async def stop(self) -> None:
        self._stopping = True
        if self._client is not None:
            if not await self._client.wait_messages_handled(self._settings.shutdown_grace_seconds):
                log.warning("closing Discord with answers still being posted")
            await self._client.close()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=10)
            self._task = None
