"""Shows an answer while the model writes it, on any chat platform: one writer, a small protocol.

The platform supplies a `ReplyTarget` (post, edit, delete: three calls) and a `layout` (the text
as that platform's messages); the writer decides what to send when:

- the first words are posted as soon as they come (after `Pacing.first_post_delay`: Discord waits
  one interval, so a fast answer is posted once and never edited, while "typing" shows);
- then the messages are edited at most once per `Pacing.interval`, and only when the text changed;
- text past the platform's limit continues in new messages (the layout splits it);
- `finish(final_text)` shows the final text and deletes messages a shorter final text no longer
  needs (an apology replacing a cut-off stream);
- updates run in a background task: the model stream never waits for the platform (its latency,
  a 429's Retry-After). A failed update is logged and the final text tries again; a permanent
  failure (no permission) stops all further attempts.

Usage (the target and the layout are the platform's):

    async with ReplyWriter(target, layout=layout, pacing=Pacing(interval=1.0)) as writer:
        reply = await assistant.handle(message, on_delta=writer.on_delta)
        if reply is not None:
            await writer.finish(reply.text)     # raises DeliveryFailed if it could not be shown
    # leaving the block without finish() (a duplicate delivery, an error) stops the updates:
    # the same as `await writer.abandon()`.

A target that must open a thread or quote the question does so in `post(index=0)`; `index` also
makes idempotency keys (Discord's nonce: a resent chunk returns the message created before, whose
text `Sent.text` reports, and the writer brings it up to date). `on_first_post` runs once the first
message is up (Discord stops its typing indicator there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

H = TypeVar("H")
Layout = Callable[[str, bool], list[str]]
"""(text, final) -> the messages that show it; final=False while the model is still writing."""


class DeliveryFailed(Exception):
    """The platform did not take a post, edit or delete. `permanent`: trying again is pointless
    (no permission to write there). The message is for logs: no tokens, no message text."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Sent(Generic[H]):
    """A posted message: the platform's handle for it, and the text it shows now (normally what was
    posted; an older text when an idempotent resend returned the message created before)."""

    handle: H
    text: str


class ReplyTarget(Protocol[H]):
    """Where one answer goes. Each method raises DeliveryFailed, and nothing else for a platform
    failure."""

    async def post(self, text: str, *, index: int) -> Sent[H]:
        """Post the `index`-th message of the answer (0 first: it may open a thread or quote the
        question; messages are posted in index order)."""
        ...

    async def edit(self, handle: H, text: str) -> None:
        """Replace a posted message's text."""
        ...

    async def delete(self, handle: H) -> None:
        """Remove a posted message the final text no longer needs."""
        ...


@dataclass(frozen=True, slots=True)
class Pacing:
    """`interval`: at least this long (seconds) between two updates. `first_post_delay`: how long
    the first words wait. `new_messages_per_update`: how many new messages one streamed update
    may add (None: all; Discord adds one per update so a burst does not flood the channel)."""

    interval: float = 1.0
    first_post_delay: float = 0.0
    new_messages_per_update: int | None = None


class ReplyWriter(Generic[H]):
    """One answer being written to one place. Use it from one task: `on_delta` while the model
    streams, then `finish` (or `abandon`) once."""

    def __init__(
        self,
        target: ReplyTarget[H],
        *,
        layout: Layout,
        pacing: Pacing | None = None,
        on_first_post: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._target = target
        self._layout = layout
        self._pacing = pacing if pacing is not None else Pacing()
        self._on_first_post = on_first_post
        self._clock = clock
        self._sleep = sleep
        self._text = ""
        self._version = 0  # bumped by every piece; `_shown_version` is the one last rendered
        self._shown_version = 0
        self._posted: list[H] = []
        self._shown: list[str] = []
        self._next_update = 0.0
        self._updating = False
        self._failure: DeliveryFailed | None = None
        self._pump: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # new text, or closing
        self._closing = asyncio.Event()
        self._progress = asyncio.Event()  # an update ended (for `flushed`)
        self._done = False

    @property
    def streamed_text(self) -> str:
        """Everything the model has written so far."""
        return self._text

    @property
    def posted(self) -> list[H]:
        """Handles of the messages showing the answer, in order."""
        return list(self._posted)

    async def __aenter__(self) -> ReplyWriter[H]:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.abandon()

    async def on_delta(self, piece: str) -> None:
        """The model's next piece of text (the core's on_delta). Never waits for the platform."""
        if self._closing.is_set():
            return
        self._text += piece
        self._version += 1
        self._wake.set()
        if self._pump is None:
            self._next_update = self._clock() + self._pacing.first_post_delay
            self._pump = asyncio.create_task(self._run_updates(), name="reply-updates")

    async def flushed(self) -> None:
        """Until no streamed update is running or due now: every update the pacing allows so far
        has been sent (or has failed). For tests with a hand-driven clock, and for callers that
        want the screen current before doing something else."""
        while self._update_due():
            self._progress.clear()
            await self._progress.wait()

    async def finish(self, text: str) -> None:
        """Show `text` as the final answer. Raises DeliveryFailed when it could not be shown (or
        a permanent failure already stopped the stream)."""
        await self._stop_updates()
        if self._done:
            raise RuntimeError("finish() called twice")
        self._done = True
        if self._failure is not None:
            raise self._failure
        await self._render(text, final=True)

    async def abandon(self) -> None:
        """Stop streaming without a final text (a duplicate delivery, a failure elsewhere). What
        was posted stays. Safe to call at any time, and after finish(); never raises (it runs
        while another error may be on its way out)."""
        self._done = True
        try:
            await self._stop_updates()
        except Exception:
            log.exception("streamed updates failed")

    # -- the background updates --------------------------------------------------------------
    def _update_due(self) -> bool:
        if self._updating:
            return True
        if self._pump is None or self._pump.done() or self._closing.is_set():
            return False
        return self._version != self._shown_version and self._clock() >= self._next_update

    async def _stop_updates(self) -> None:
        self._closing.set()
        self._wake.set()
        pump, self._pump = self._pump, None
        if pump is not None:
            # Never cancel an update half-way: a cancelled post may still create the message.
            await pump

    async def _run_updates(self) -> None:
        try:
            while await self._wait_for_update():
                version, shown = self._version, self._version
                self._updating = True
                try:
                    if not await self._render(self._text, final=False):
                        shown = version - 1  # messages held back: the next update is due as well
                except DeliveryFailed as exc:
                    if exc.permanent:
                        self._failure = exc
                        return
                    log.warning("a streamed update failed (%s); the final text will try again", exc.reason)
                finally:
                    self._updating = False
                    self._shown_version = shown
                    self._next_update = self._clock() + self._pacing.interval
                    self._progress.set()
        finally:
            self._progress.set()

    async def _wait_for_update(self) -> bool:
        """True when the next update is due; False once the writer closes."""
        while not self._closing.is_set():
            if self._version == self._shown_version:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = self._next_update - self._clock()
            if delay <= 0:
                return True
            await self._sleep_unless_closing(delay)
        return False

    async def _sleep_unless_closing(self, delay: float) -> None:
        sleeper = asyncio.ensure_future(self._sleep(delay))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({sleeper, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (sleeper, closing):
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    async def _render(self, text: str, *, final: bool) -> bool:
        """Show `text`; False if messages were held back for the next update."""
        chunks = self._layout(text, final)
        room = self._pacing.new_messages_per_update
        complete = True
        if not final and room is not None and len(chunks) > len(self._posted) + room:
            chunks = chunks[: len(self._posted) + room]  # the rest follows at the next update
            complete = False
        for index, chunk in enumerate(chunks):
            if index < len(self._posted):
                if self._shown[index] != chunk:
                    await self._target.edit(self._posted[index], chunk)
                    self._shown[index] = chunk
                continue
            sent = await self._target.post(chunk, index=index)
            self._posted.append(sent.handle)
            self._shown.append(sent.text)
            if index == 0 and self._on_first_post is not None:
                await self._on_first_post()
            if sent.text != chunk:
                await self._target.edit(sent.handle, chunk)
                self._shown[index] = chunk
        if final:
            for handle in self._posted[len(chunks) :]:
                try:
                    await self._target.delete(handle)
                except DeliveryFailed as exc:
                    log.warning("could not delete a leftover message (%s)", exc.reason)
            del self._posted[len(chunks) :]
            del self._shown[len(chunks) :]
        return complete
