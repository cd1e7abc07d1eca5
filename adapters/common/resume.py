"""An answer that survives its worker: the messages posted so far are noted in the intake
(core.intake `note_reply`), and a retry (the worker died, or a post failed) continues those
messages instead of posting the answer a second time.

Wrap the platform's ReplyTarget:

    target = ResumingTarget(SlackThread(...), earlier=ref_posted, note=save_posted)
    async with ReplyWriter(target, layout=...) as writer: ...
    await target.remove_leftovers(len(writer.posted))   # a shorter answer than last time

`earlier` are the handles the earlier attempt noted (JSON values: Slack ts, Discord ids); the
writer edits them to the new text (a post of index i returns the earlier message i as Sent with an
empty text, which the writer then brings up to date). Each new message's handle is noted right
after the platform took it; only a crash between those two steps can show a message twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from adapters.common.reply_writer import DeliveryFailed, ReplyTarget, Sent

log = logging.getLogger(__name__)

H = TypeVar("H")


class ResumingTarget(Generic[H]):
    def __init__(
        self,
        target: ReplyTarget[H],
        *,
        earlier: Sequence[H],
        note: Callable[[list[H]], Awaitable[None]],
    ) -> None:
        self._target = target
        self._earlier = list(earlier)
        self._note = note
        self._handles: list[H] = []

    @property
    def handles(self) -> list[H]:
        """Every message of this answer so far: the earlier attempt's, then the new ones."""
        return list(self._handles)

    async def post(self, text: str, *, index: int) -> Sent[H]:
        if index < len(self._earlier):
            handle = self._earlier[index]
            if index >= len(self._handles):
                self._handles.append(handle)
            return Sent(handle, "")  # the writer edits it to `text`
        sent = await self._target.post(text, index=index)
        self._handles.append(sent.handle)
        await self._note(list(self._handles))
        return sent

    async def edit(self, handle: H, text: str) -> None:
        await self._target.edit(handle, text)

    async def delete(self, handle: H) -> None:
        await self._target.delete(handle)

    async def remove_leftovers(self, used: int) -> None:
        """Delete the earlier attempt's messages past the first `used` (this answer is shorter)."""
        for handle in self._earlier[used:]:
            try:
                await self._target.delete(handle)
            except DeliveryFailed as exc:
                log.warning("could not delete a message of an earlier attempt (%s)", exc.reason)


__all__ = ["ResumingTarget"]
