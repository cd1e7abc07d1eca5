"""Message shortcuts (a message's "More actions" menu), answered privately (ephemeral, through
the shortcut's response_url):

- "Remember this": stores the message's text as a memory of the person who clicked, with the
  privacy of the channel it was said in (queued like every memory write: the Home tab shows it
  once written). Only the clicker's own messages: someone else's words
  would become a memory filed under the clicker, which the author could neither see nor erase
  (their /memory forget all cannot reach another account). For another person's message, Mnemo
  says so and suggests telling it in your own words.
- "Forget what was learned" ("Forget what Mnemo learned from this"): mem0 does not record which
  message a memory came from, so Mnemo shows the clicker's own memories learned in that channel
  that are closest to the message, each with a Delete button: the person confirms what goes.
  Works on anyone's message (it only ever touches the clicker's memories).

Recorded by the front door and answered by a worker (adapters/slack/interactions.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from adapters.slack.directory import SlackDirectory
from adapters.slack.render import render_candidates, render_text
from adapters.slack.translate import SlackMessage, action_identity, clean_user_text
from adapters.slack.web_api import BotIdentity
from core.assistant import Assistant
from core.errors import BotError
from core.models import MAX_MESSAGE_CHARS, IdentityKey, MemoryOrigin, Platform
from core.replies import COMMAND_FAILED_REPLY

log = logging.getLogger(__name__)

REMEMBER_CALLBACK = "mnemo_remember_message"
FORGET_CALLBACK = "mnemo_forget_message"
Respond = Callable[..., Awaitable[Any]]

NOT_YOURS = (
    "I only remember your own messages this way, so that what someone else wrote is not filed "
    "under your name. Tell me in your own words instead, and I'll remember it."
)
ASKED_BEFORE_ERASURE = "You erased everything after asking me to remember this, so I did not keep it."


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class SlackShortcuts:
    def __init__(
        self,
        *,
        assistant: Assistant,
        identity: BotIdentity,
        directory: SlackDirectory,
    ) -> None:
        self._assistant = assistant
        self._identity = identity
        self._directory = directory

    async def remember(
        self, body: Mapping[str, Any], respond: Respond, *, received_at: datetime | None = None
    ) -> None:
        """`received_at`: when Slack delivered the click. One made before the clicker erased
        everything is not kept (a worker may get it after the erasure), as a message is not."""
        clicker, channel, message = (
            action_identity(body),
            _dict(body.get("channel")),
            _dict(body.get("message")),
        )
        channel_id, text = str(channel.get("id") or ""), self._text(message)
        if not clicker.user or not clicker.workspace or not channel_id:
            await _respond(respond, "I couldn't tell who asked, or where.")
            return
        if message.get("user") != clicker.user or message.get("bot_id"):
            await _respond(respond, NOT_YOURS)
            return
        if not text:
            await _respond(respond, "That message has no text I could remember.")
            return
        if len(text) > MAX_MESSAGE_CHARS:
            await _respond(
                respond, f"That message is too long to remember (over {MAX_MESSAGE_CHARS} characters)."
            )
            return
        private = await self._is_private(clicker, channel_id)
        try:
            if received_at is not None:
                erased_at = (await self._assistant.account(clicker)).erased_at
                if erased_at is not None and received_at < erased_at:
                    await _respond(respond, ASKED_BEFORE_ERASURE)
                    return
            name = await self._directory.user_name(clicker.workspace, clicker.user)
            queued = await self._assistant.remember_text(
                clicker, text, MemoryOrigin(Platform.SLACK, channel_id, private), display_name=name
            )
        except BotError as exc:
            log.warning("remember shortcut failed: %s", type(exc).__name__)
            await _respond(respond, COMMAND_FAILED_REPLY)
            return
        if not queued:
            await _respond(respond, "Your memory is paused, so I didn't keep it. /memory resume to resume.")
            return
        where = "I'll only bring it up in private" if private else "from a public channel"
        await _respond(respond, f"I'll remember that ({where}). /memory show or the Home tab lists it.")

    async def forget(self, body: Mapping[str, Any], respond: Respond) -> None:
        clicker, channel, message = (
            action_identity(body),
            _dict(body.get("channel")),
            _dict(body.get("message")),
        )
        channel_id, text = str(channel.get("id") or ""), self._text(message)
        if not clicker.user or not clicker.workspace or not channel_id:
            await _respond(respond, "I couldn't tell who asked, or where.")
            return
        if not text:
            await _respond(respond, "That message has no text, so I learned nothing from it.")
            return
        try:
            found = await self._assistant.memories_like(clicker, text[:MAX_MESSAGE_CHARS], channel=channel_id)
        except BotError as exc:
            log.warning("forget shortcut failed: %s", type(exc).__name__)
            await _respond(respond, COMMAND_FAILED_REPLY)
            return
        if not found:
            await _respond(respond, "I have no memories of yours from this channel that match this message.")
            return
        heading = (
            "These memories of yours, learned in this channel, are the closest to that message. "
            "Delete the ones that came from it:"
        )
        await _send(respond, render_candidates(found, heading=heading))

    def _text(self, message: Mapping[str, Any]) -> str:
        raw = message.get("text")
        if not isinstance(raw, str):
            return ""
        return clean_user_text(raw, bot_user_id=self._identity.user_id, bot_name=self._identity.name).strip()

    async def _is_private(self, clicker: IdentityKey, channel_id: str) -> bool:
        probe = SlackMessage(
            workspace=clicker.workspace,
            user=clicker.user,
            channel=channel_id,
            ts="",
            thread="",
            text="",
            channel_type="im" if channel_id.startswith("D") else None,
            mentions_bot=False,
            needs_thread_check=False,
        )
        return await self._directory.is_private(probe)


async def _respond(respond: Respond, text: str) -> None:
    await _send(respond, render_text(text))


async def _send(respond: Respond, payload: Mapping[str, Any]) -> None:
    """Ephemeral, through the shortcut's response_url; failures are logged, never raised."""
    try:
        await respond(text=payload["text"], blocks=payload.get("blocks"), response_type="ephemeral")
    except Exception as exc:  # aiohttp and SDK errors alike: the person just sees nothing
        log.warning("respond() failed: %s", type(exc).__name__)
