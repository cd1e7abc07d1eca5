"""One answer on its way to Discord: the typing indicator while Mnemo thinks, and where the answer
goes (`DiscordReplyTarget`, the ReplyTarget the shared writer in adapters.common posts through).

The writer (adapters.common.reply_writer) decides what to send when; this module says how Discord
takes it: the first message opens a thread or quotes the question, every send carries a nonce and
pings nobody, and Discord's errors become DeliveryFailed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import discord

from adapters.common.reply_writer import DeliveryFailed, Pacing, ReplyWriter, Sent
from adapters.discord.options import NO_MENTIONS
from adapters.discord.render import nonce_for, reply_messages

log = logging.getLogger(__name__)

# A server error, a rate limit longer than max_ratelimit_timeout, or Discord unreachable after
# discord.py's retries. The final text tries again: the nonce makes a repeated send safe.
# Discord's error code for "a thread has already been created for this message".
THREAD_ALREADY_CREATED = 160004

_TRANSIENT = (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError)


class TypingIndicator:
    """The typing indicator while Mnemo thinks; it expires on its own ~10 s after the last trigger.

    The client starts it once the core has taken the message for an answer (the `complete` hook),
    so a duplicate delivery never shows it; it waits `delay` first, so a quick answer costs no
    typing request.
    """

    def __init__(self, channel: discord.abc.Messageable, *, interval: float, delay: float) -> None:
        self._channel = channel
        self._interval = interval
        self._delay = delay
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="discord-typing")

    async def _run(self) -> None:
        await asyncio.sleep(self._delay)
        while True:
            try:
                await self._channel.typing()
            except discord.HTTPException as exc:
                log.debug("typing indicator refused (%s); answering without it", exc.status)
                return
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class DiscordReplyTarget:
    """A ReplyTarget: the answer to one Discord message, in a new thread on it (`open_thread`) or
    in its channel (quoting it when `quote`). Every send pings nobody and carries the nonce of
    (message, chunk), so a resent chunk returns the message Discord created the first time."""

    def __init__(
        self,
        source: discord.Message,
        *,
        open_thread: bool,
        quote: bool,
        thread_title: str,
        existing_thread: Callable[[int], discord.abc.Messageable] | None = None,
        start_thread: Callable[[str], Awaitable[discord.abc.Messageable]] | None = None,
    ) -> None:
        self._source = source
        # A client without a gateway cache (a worker) opens threads through REST itself: discord.py
        # needs the guild in its cache for Message.create_thread.
        self._start_thread = start_thread
        # A retry (adapters/discord/responders.py) finds the thread its first attempt opened: a
        # thread opened on a message has that message's id.
        self._existing_thread = existing_thread
        self._open_thread = open_thread
        self._quote = quote
        self._thread_title = thread_title
        self._destination: discord.abc.Messageable | None = None

    async def post(self, text: str, *, index: int) -> Sent[discord.Message]:
        try:
            destination = await self._where()
            reference = None
            if index == 0 and self._quote:
                reference = self._source.to_reference(fail_if_not_exists=False)
            message = await destination.send(
                content=text,
                nonce=nonce_for(self._source.id, index),
                allowed_mentions=NO_MENTIONS,
                reference=reference,  # type: ignore[arg-type]
                mention_author=False,
            )
        except _TRANSIENT as exc:
            raise self._failed("post an answer", exc) from None
        return Sent(message, message.content)

    async def edit(self, handle: discord.Message, text: str) -> None:
        try:
            await handle.edit(content=text, allowed_mentions=NO_MENTIONS)
        except _TRANSIENT as exc:
            raise self._failed("update an answer", exc) from None

    async def delete(self, handle: discord.Message) -> None:
        try:
            await handle.delete()
        except _TRANSIENT as exc:
            raise self._failed("delete a leftover message", exc) from None

    async def _where(self) -> discord.abc.Messageable:
        if self._destination is not None:
            return self._destination
        destination: discord.abc.Messageable = self._source.channel
        if self._open_thread:
            try:
                if self._start_thread is not None:
                    destination = await self._start_thread(self._thread_title)
                else:
                    destination = await self._source.create_thread(
                        name=self._thread_title, auto_archive_duration=1440
                    )
            except discord.HTTPException as exc:
                if exc.code == THREAD_ALREADY_CREATED and self._existing_thread is not None:
                    self._destination = self._existing_thread(self._source.id)
                    return self._destination
                # No permission or a thread already exists: answer in the channel instead.
                log.warning("could not open a thread (%s %s); replying in the channel", exc.status, exc.code)
                self._open_thread = False
                self._quote = True
        self._destination = destination
        return destination

    def _failed(self, action: str, exc: BaseException) -> DeliveryFailed:
        channel = self._source.channel.id
        if isinstance(exc, discord.Forbidden):
            needs = "Send Messages, Create Public Threads" if self._open_thread else "Send Messages"
            return DeliveryFailed(
                f"no permission to answer in channel {channel} (needs {needs})", permanent=True
            )
        status = getattr(exc, "status", type(exc).__name__)
        return DeliveryFailed(f"could not {action} in channel {channel} ({status})")


def discord_reply_writer(
    target: DiscordReplyTarget,
    *,
    interval: float,
    on_first_post: Callable[[], Awaitable[None]] | None = None,
) -> ReplyWriter[discord.Message]:
    """The shared writer, paced as Discord wants it: edits at most every `interval` seconds; the
    first words wait one interval, so an answer done by then is posted once and never edited; a
    burst past 2,000 units adds one new message per update instead of flooding the channel."""
    pacing = Pacing(interval=interval, first_post_delay=interval, new_messages_per_update=1)
    return ReplyWriter(target, layout=reply_messages, pacing=pacing, on_first_post=on_first_post)
