"""One answer on its way to Discord: the typing indicator while Mnemo thinks, and the writer that
posts the answer (streamed edits at a bounded rate, split into Discord-sized messages).

Self-contained on purpose: a shared streamed-reply writer for every front door is on its way
(adapters/common); this module is what the Discord side of it has to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import discord

from adapters.discord.options import NO_MENTIONS
from adapters.discord.render import nonce_for, split_message

log = logging.getLogger(__name__)


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


class ReplyWriter:
    """Posts one answer: streamed edits at most every `interval` seconds, split into 2,000-char
    messages, the first as a reply (or in a new thread), every send without pings and with a nonce.

    Fast answers (done within one interval) are posted once, never edited.
    """

    def __init__(
        self,
        *,
        source: discord.Message,
        open_thread: bool,
        reference: bool,
        interval: float,
        thread_title: str,
        on_first_post: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._source = source
        self._open_thread = open_thread
        self._reference = reference
        self._interval = interval
        self._thread_title = thread_title
        self._on_first_post = on_first_post
        self._text = ""
        self._posted: list[discord.Message] = []
        self._shown: list[str] = []
        self._destination: discord.abc.Messageable | None = None
        self._pump: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._failed = False
        self.edits = 0

    @property
    def posted(self) -> list[discord.Message]:
        return list(self._posted)

    @property
    def destination(self) -> discord.abc.Messageable | None:
        return self._destination

    @property
    def streamed_text(self) -> str:
        return self._text

    async def feed(self, piece: str) -> None:
        """The model's next piece of text (the orchestrator's on_delta)."""
        self._text += piece
        if self._pump is None:
            self._pump = asyncio.create_task(self._run_pump(), name="discord-stream")

    async def _run_pump(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=self._interval)
            if self._closing.is_set() or self._failed:
                return
            await self._render(self._text, final=False)

    async def finish(self, text: str) -> None:
        """Show the final text: the last edit of a stream, or the whole answer at once."""
        self._closing.set()
        if self._pump is not None:
            # Never cancel a send half-way: a cancelled POST may still create the message.
            await self._pump
        if not self._failed:
            await self._render(text, final=True)

    async def abandon(self) -> None:
        self._closing.set()
        if self._pump is not None:
            await self._pump

    async def _render(self, text: str, *, final: bool) -> None:
        chunks = split_message(text)
        if not final and chunks and len(chunks) > len(self._posted) + 1:
            # A burst of text: post what is complete, the tail follows at the next tick.
            chunks = chunks[: len(self._posted) + 1]
        try:
            for index, chunk in enumerate(chunks):
                if index < len(self._posted):
                    if self._shown[index] != chunk:
                        await self._posted[index].edit(content=chunk, allowed_mentions=NO_MENTIONS)
                        self._shown[index] = chunk
                        self.edits += 1
                else:
                    posted = await self._send(chunk, index)
                    self._posted.append(posted)
                    self._shown.append(posted.content)
                    if index == 0 and self._on_first_post is not None:
                        await self._on_first_post()
                    if posted.content != chunk:
                        # The nonce matched a message sent before (a retried send whose first try
                        # did reach Discord): it holds older text, so bring it up to date.
                        await posted.edit(content=chunk, allowed_mentions=NO_MENTIONS)
                        self._shown[index] = chunk
            if final:
                # The final text can be shorter than the stream (an apology after a model failure).
                for extra in self._posted[len(chunks) :]:
                    with contextlib.suppress(discord.HTTPException):
                        await extra.delete()
                del self._posted[len(chunks) :]
                del self._shown[len(chunks) :]
        except discord.Forbidden:
            self._failed = True
            log.warning(
                "no permission to answer in channel %s (needs Send Messages%s)",
                self._source.channel.id,
                ", Create Public Threads" if self._open_thread else "",
            )
        except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError) as exc:
            # A server error, a rate limit longer than max_ratelimit_timeout, or Discord unreachable
            # after discord.py's retries. Mid-stream the final render tries again: the nonce makes a
            # repeated send safe (Discord returns the message it already created).
            self._failed = final
            log.warning(
                "could not post an answer in channel %s (%s)%s",
                self._source.channel.id,
                getattr(exc, "status", type(exc).__name__),
                "" if final else "; will retry with the final text",
            )

    async def _where(self) -> discord.abc.Messageable:
        if self._destination is not None:
            return self._destination
        destination: discord.abc.Messageable = self._source.channel
        if self._open_thread:
            try:
                destination = await self._source.create_thread(
                    name=self._thread_title, auto_archive_duration=1440
                )
            except discord.HTTPException as exc:
                # No permission or a thread already exists: answer in the channel instead.
                log.warning("could not open a thread (%s %s); replying in the channel", exc.status, exc.code)
                self._open_thread = False
                self._reference = True
        self._destination = destination
        return destination

    async def _send(self, chunk: str, index: int) -> discord.Message:
        destination = await self._where()
        reference = None
        if index == 0 and self._reference:
            reference = self._source.to_reference(fail_if_not_exists=False)
        return await destination.send(
            content=chunk,
            nonce=nonce_for(self._source.id, index),
            allowed_mentions=NO_MENTIONS,
            reference=reference,  # type: ignore[arg-type]
            mention_author=False,
        )
