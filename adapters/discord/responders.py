"""The worker side of Discord: answer a message the gateway front door accepted into the intake.

The front door (client.py, with `intake=True`) learns who can read the place while discord.py's
cache is at hand, and records the message as a "discord.message" delivery: the neutral message
for the core, and where the answer goes. A worker answers it here through Discord's REST API
only: a discord.py client that logs in (REST) and never opens a gateway connection.

A retry after a worker died posts with the same nonces (render.nonce_for), so Discord returns the
messages created the first time instead of new ones, and the writer brings them up to date; a
thread the first attempt opened is found again (a thread opened on a message has its id).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

import discord

from adapters.common.reply_writer import DeliveryFailed
from adapters.discord.options import NO_MENTIONS
from adapters.discord.replies import DiscordReplyTarget, TypingIndicator, discord_reply_writer
from adapters.discord.sdk import apply_endpoint_overrides
from config import Settings
from core.assistant import Assistant
from core.intake.dispatch import Dispatcher, NoteReply
from core.intake.model import Delivery, HandBack, NewDelivery
from core.models import IncomingMessage, Platform, ReplyKind

log = logging.getLogger(__name__)

DISCORD_MESSAGE = "discord.message"
LATE_REPLY = (
    "Sorry, I could not get to this message in time (I was down or very busy). "
    "Please ask me again if you still need an answer."
)
_FIELDS = (
    "workspace",
    "user",
    "channel",
    "text",
    "message_id",
    "is_private",
    "thread",
    "is_direct",
    "mentions_bot",
    "only_if_following",
    "user_name",
)


def message_delivery(
    incoming: IncomingMessage,
    *,
    source_id: int,
    channel_id: int,
    guild_id: int | None,
    open_thread: bool,
    quote: bool,
    thread_title: str,
    received_at: datetime,
) -> NewDelivery:
    fields = asdict(incoming)
    return NewDelivery(
        key=incoming.event_key,
        kind=DISCORD_MESSAGE,
        lane=incoming.conversation.as_string(),
        payload={
            "message": {name: fields[name] for name in _FIELDS},
            "source_id": source_id,
            "channel_id": channel_id,
            "guild_id": guild_id,
            "open_thread": open_thread,
            "quote": quote,
            "thread_title": thread_title,
        },
        received_at=received_at,
    )


class DiscordResponder:
    """A Service of the worker: logs in to Discord's REST API (no gateway) and answers deliveries."""

    name = "discord-answers"

    def __init__(
        self,
        *,
        settings: Settings,
        assistant: Assistant,
        dispatcher: Dispatcher,
        edit_interval: float = 1.0,
        typing_interval: float = 8.0,
    ) -> None:
        if settings.discord_bot_token is None:
            raise ValueError("DiscordResponder needs DISCORD_BOT_TOKEN")
        self._token = settings.discord_bot_token
        self._settings = settings
        self._assistant = assistant
        self._edit_interval = edit_interval
        self._typing_interval = typing_interval
        self._client: discord.Client | None = None
        # Registered now, before any worker serves the intake (an unregistered kind is dropped).
        dispatcher.register(DISCORD_MESSAGE, self.answer, on_late=self.apologise)

    async def start(self) -> None:
        apply_endpoint_overrides(
            api_url=self._settings.discord_api_url, gateway_url=self._settings.discord_gateway_url
        )
        client = discord.Client(intents=discord.Intents.none(), allowed_mentions=NO_MENTIONS)
        await client.login(self._token.get_secret_value().strip().removeprefix("Bot ").strip())
        self._client = client

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def rest(self) -> discord.Client:
        """The logged-in REST client (no gateway), also for the interaction responder's webhooks."""
        if self._client is None:
            raise RuntimeError("Discord is not connected in this process")
        return self._client

    def _partial(self, channel_id: int, guild_id: int | None) -> discord.PartialMessageable:
        return self.rest().get_partial_messageable(channel_id, guild_id=guild_id)

    async def _start_thread(self, payload: Any, name: str) -> discord.abc.Messageable:
        if self._client is None:
            raise RuntimeError("Discord is not connected in this process")
        created = await self._client.http.start_thread_with_message(
            int(payload["channel_id"]), int(payload["source_id"]), name=name, auto_archive_duration=1440
        )
        return self._partial(int(created["id"]), payload["guild_id"])

    def _source(self, payload: Any) -> discord.PartialMessage:
        channel = self._partial(int(payload["channel_id"]), payload["guild_id"])
        return channel.get_partial_message(int(payload["source_id"]))

    async def answer(self, delivery: Delivery, note_reply: NoteReply) -> None:
        payload = delivery.payload
        source = self._source(payload)
        incoming = IncomingMessage(
            platform=Platform.DISCORD, received_at=delivery.received_at, **dict(payload["message"])
        )
        target = DiscordReplyTarget(
            source,  # type: ignore[arg-type]  # a PartialMessage does what the target needs
            open_thread=bool(payload["open_thread"]),
            quote=bool(payload["quote"]),
            thread_title=str(payload["thread_title"]),
            existing_thread=lambda thread_id: self._partial(thread_id, payload["guild_id"]),
            start_thread=lambda name: self._start_thread(payload, name),
        )
        typing = TypingIndicator(source.channel, interval=self._typing_interval, delay=self._edit_interval)

        async def started(message: IncomingMessage) -> IncomingMessage:
            typing.start()
            return message

        try:
            async with discord_reply_writer(
                target, interval=self._edit_interval, on_first_post=typing.stop
            ) as writer:
                reply = await self._assistant.handle(
                    incoming,
                    on_delta=writer.on_delta,
                    complete=started,
                    already_claimed=delivery.attempt > 1,
                )
                if reply is None:
                    if not self._assistant.accepting:
                        raise HandBack("stopping: the next worker answers it")
                    return
                text = reply.text
                if reply.kind is ReplyKind.APOLOGY and writer.posted:
                    text = f"{writer.streamed_text}\n\n{reply.text}"
                try:
                    await writer.finish(text)
                except DeliveryFailed as exc:
                    log.warning("%s", exc.reason)
                    if not exc.permanent:
                        raise  # another attempt: the nonces make the resent messages the same ones
        finally:
            await typing.stop()

    async def apologise(self, delivery: Delivery, note_reply: NoteReply) -> None:
        payload = delivery.payload
        message = dict(payload["message"])
        if message.get("only_if_following") and not await self._assistant.follows(
            IncomingMessage(platform=Platform.DISCORD, **message).conversation
        ):
            log.info("late thread message in a conversation Mnemo does not follow; dropped")
            return
        source = self._source(payload)
        try:
            await source.channel.send(
                LATE_REPLY,
                reference=source.to_reference(fail_if_not_exists=False),
                allowed_mentions=NO_MENTIONS,
                mention_author=False,
            )
        except (discord.HTTPException, OSError) as exc:
            log.warning("could not post the late-message apology (%s)", type(exc).__name__)


__all__ = ["DISCORD_MESSAGE", "LATE_REPLY", "DiscordResponder", "message_delivery"]
