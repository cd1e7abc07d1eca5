"""One answer in the assistant pane: streamed with Slack's native AI streaming
(chat.startStream/appendStream/stopStream, through bolt's `say_stream`, i.e. slack_sdk's
AsyncChatStream), or, when the workspace refuses it, with the shared post-then-edit ReplyWriter.

The first words are streamed at once, then text goes on in pieces of at least `buffer_chars` (so
a long answer costs a few appendStream calls, not one per token), from a background task (the
model never waits for Slack; text that arrives during an append goes out in the next), and this
class keeps its own record of what it sent: the final text either continues it (an answer:
stopStream adds the rest and the feedback buttons) or replaces it (an apology, or an answer
withdrawn by an erasure: chat.update rewrites the message).
The first Web API error of the stream switches to the ReplyWriter, which shows everything written
so far and the rest; nothing is lost, at worst a cut-off streamed message stays above it.

Model text is escaped (&, <, >) before it is streamed, as in every other answer: nothing the
model writes can ping anyone or hide a link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.reply_writer import DeliveryFailed, Layout, Pacing, ReplyTarget, ReplyWriter
from adapters.slack.translate import escape_text, message_arguments, to_mrkdwn
from adapters.slack.web_api import slack_error

log = logging.getLogger(__name__)

STREAM_BUFFER_CHARS = 256  # slack_sdk's own default buffer for chat_stream
StartStream = Callable[..., Awaitable[AsyncChatStream]]
"""bolt's `say_stream` (AsyncSayStream): opens an AsyncChatStream in this thread."""


class PaneReply:
    """Use from one task: `on_delta` while the model writes, then `finish` (or `abandon`) once."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        start_stream: StartStream | None,
        fallback: ReplyTarget[str],
        layout: Layout,
        pacing: Pacing,
        buffer_chars: int = STREAM_BUFFER_CHARS,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._start_stream = start_stream
        self._fallback = fallback
        self._layout = layout
        self._pacing = pacing
        self._buffer_chars = max(1, buffer_chars)
        self._stream: AsyncChatStream | None = None
        self._writer: ReplyWriter[str] | None = None
        self._text = ""  # everything the model wrote
        self._sent = ""  # what the native stream has been given
        self._unsent = ""
        # Appends run in a background task, one at a time: the model never waits for Slack, and
        # what arrives while an append is on its way goes out in the next one.
        self._pump: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def streaming_natively(self) -> bool:
        return self._writer is None

    async def on_delta(self, piece: str) -> None:
        self._text += piece
        if self._writer is not None:
            await self._writer.on_delta(piece)
            return
        self._unsent += piece
        if self._due():
            self._wake.set()
            if self._pump is None:
                self._pump = asyncio.create_task(self._append_while_writing(), name="pane-stream")

    async def _append_while_writing(self) -> None:
        while self._writer is None:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return  # finish() sends the rest
            if not self._due():
                continue
            piece, self._unsent = self._unsent, ""
            try:
                stream = await self._open()
                await stream.append(markdown_text=escape_text(piece))
            except Exception as exc:  # Slack's refusal, or the network: the fallback takes over
                await self._fall_back(exc)
                return
            self._sent += piece

    def _due(self) -> bool:
        """The first words go out at once (the person sees Mnemo answering), then in pieces."""
        return len(self._unsent) >= (self._buffer_chars if self._sent else 1)

    async def _stop_appending(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            self._stopping = True  # the pump ends after its current append
            self._wake.set()
            await pump

    async def _open(self) -> AsyncChatStream:
        if self._stream is None:
            if self._start_stream is None:
                raise _NoStream()
            # buffer_size=1: the stream sends what it is given at once (the buffering is ours).
            self._stream = await self._start_stream(buffer_size=1)
        return self._stream

    async def _fall_back(self, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, _NoStream):
            log.warning("native streaming refused channel=%s (%s); posting instead", self._channel, _why(exc))
        writer: ReplyWriter[str] = ReplyWriter(self._fallback, layout=self._layout, pacing=self._pacing)
        self._writer = writer
        if self._text:
            await writer.on_delta(self._text)

    async def finish(self, text: str, *, blocks: list[dict[str, Any]] | None) -> str | None:
        """Show the final text, with `blocks` under it. Returns the ts of the message holding the
        blocks (the answer's id), or None if they could not be shown. Raises DeliveryFailed if the
        text could not be shown at all."""
        await self._stop_appending()
        if self._writer is None:
            try:
                return await self._finish_stream(text, blocks)
            except Exception as exc:  # Slack's refusal, or the network: the fallback takes over
                await self._fall_back(exc)
        assert self._writer is not None
        await self._writer.finish(text)
        if not blocks:
            return None
        try:  # the buttons go in a message of their own, right under the answer
            response = await self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread_ts,
                text="Was this answer helpful?",
                blocks=blocks,
            )
        except SlackClientError as exc:
            log.warning("could not post the feedback buttons channel=%s: %s", self._channel, _why(exc))
            return None
        return str(response.get("ts") or "") or None

    async def _finish_stream(self, text: str, blocks: list[dict[str, Any]] | None) -> str | None:
        stream = await self._open()
        if text.startswith(self._sent):
            rest = escape_text(text[len(self._sent) :])
            await stream.stop(markdown_text=rest or None, blocks=blocks or None)
            return stream.ts
        # The final text replaces what was streamed (an apology after a cut-off, a withdrawal:
        # neither gets feedback buttons, so the message is plain text again).
        await stream.stop()
        ts = stream.ts
        if ts is None:
            raise _NoStream()
        replaced = message_arguments(to_mrkdwn(text), channel=self._channel, edit_ts=ts)
        await self._client.chat_update(**replaced)
        return None

    async def abandon(self) -> None:
        """No answer after all (a duplicate delivery, an error): stop whatever was started."""
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        if self._writer is not None:
            await self._writer.abandon()
            return
        if self._stream is not None and self._stream.ts is not None:
            try:
                await self._stream.stop()
            except SlackClientError as exc:
                log.warning("could not close the stream channel=%s: %s", self._channel, _why(exc))


class _NoStream(Exception):
    """Native streaming is not available for this answer (off, or it never started)."""


def _why(exc: BaseException) -> str:
    return slack_error(exc) if isinstance(exc, SlackClientError) else type(exc).__name__


__all__ = ["STREAM_BUFFER_CHARS", "DeliveryFailed", "PaneReply"]
