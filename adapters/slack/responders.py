"""The worker side of Slack: answer a message the front door accepted into the durable intake.

The front door (adapters/slack/listeners.py) records each person's message as a "slack.message"
delivery and acknowledges it; a worker (this process or another, core.intake) gets the delivery
and answers it here, through the Web API only: no Socket Mode connection or HTTP route is needed.

A retry (the first worker died mid-answer, or Slack did not take a post) continues the messages
the earlier attempt posted (adapters/common/resume.py), so the answer shows once. A delivery that
waited past the intake's bound gets LATE_REPLY in its thread instead of an answer.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.reply_writer import DeliveryFailed, Layout, Pacing, ReplyWriter, Sent
from adapters.common.resume import ResumingTarget
from adapters.slack.directory import SlackDirectory
from adapters.slack.translate import (
    MESSAGE_LIMIT,
    SlackMessage,
    message_arguments,
    parse_message_event,
    reply_messages,
    to_incoming,
)
from adapters.slack.web_api import BotIdentity, slack_error
from core.assistant import Assistant
from core.intake.dispatch import Dispatcher, NoteReply
from core.intake.model import Delivery, HandBack, JsonObject, NewDelivery
from core.models import IncomingMessage

log = logging.getLogger(__name__)

SLACK_MESSAGE = "slack.message"
SLACK_PANE = "slack.pane"  # a person's message in the assistant pane (adapters/slack/pane_intake.py)
LATE_REPLY = (
    "Sorry, I could not get to this message in time (I was down or very busy). "
    "Please ask me again if you still need an answer."
)
# Web API errors that say "not now" rather than "no" (the SDK's retry handlers already waited).
_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class ShuttingDown(Exception):
    """Slack is not connected in this process (not configured here, or already closed): this
    attempt fails and the delivery comes back after the intake's backoff, for a process that is.
    Not a HandBack: a process without Slack would take it again at once, over and over."""


def message_delivery(message: SlackMessage, *, received_at: Any) -> NewDelivery:
    """What the front door records: keyed on the message itself (team, channel, ts), so the
    app_mention and message.* events of one message, and Slack's retries, are one delivery; one lane
    per conversation (answered one at a time, in order). Only the event is kept, not the envelope."""
    return NewDelivery(
        key=f"msg:slack:{message.workspace}:{message.channel}:{message.ts}",
        kind=SLACK_MESSAGE,
        lane=message.conversation.as_string(),
        payload={"team_id": message.workspace, "event": dict(message.raw.get("event") or {})},
        received_at=received_at,
    )


def pane_delivery(message: SlackMessage, body: JsonObject, *, received_at: Any) -> NewDelivery:
    """A message in the assistant pane: keyed and laned like any message (one key per message, so
    no route answers it twice), answered by the pane's responder. Also kept: the team the stream
    is addressed to (chat.startStream's recipient_team_id, as bolt's say_stream takes it)."""
    base = message_delivery(message, received_at=received_at)
    recipient_team = body.get("team_id") or body.get("enterprise_id") or message.workspace
    return replace(base, kind=SLACK_PANE, payload={**base.payload, "recipient_team_id": recipient_team})


class SlackThread:
    """A ReplyTarget: the answer's messages in the conversation's thread (or the DM)."""

    def __init__(self, client: AsyncWebClient, *, channel: str, thread_ts: str | None) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts

    async def post(self, text: str, *, index: int) -> Sent[str]:
        arguments = message_arguments(text, channel=self._channel, thread_ts=self._thread_ts)
        try:
            response = await self._client.chat_postMessage(**arguments)
        except SlackClientError as exc:
            raise self._failed("chat.postMessage", exc) from None
        return Sent(str(response["ts"]), text)

    async def edit(self, handle: str, text: str) -> None:
        try:
            await self._client.chat_update(**message_arguments(text, channel=self._channel, edit_ts=handle))
        except SlackClientError as exc:
            raise self._failed("chat.update", exc) from None

    async def delete(self, handle: str) -> None:
        try:
            await self._client.chat_delete(channel=self._channel, ts=handle)
        except SlackClientError as exc:
            raise self._failed("chat.delete", exc) from None

    def _failed(self, method: str, exc: SlackClientError) -> DeliveryFailed:
        # Slack said no (no such channel, not in it, archived...): another attempt would hear the
        # same. Its own trouble and unreachable networks are worth another attempt.
        refused = isinstance(exc, SlackApiError) and exc.response.get("error") not in _TRANSIENT_ERRORS
        return DeliveryFailed(f"{method} channel={self._channel}: {slack_error(exc)}", permanent=refused)


class SlackResponder:
    """Registered on the worker's Dispatcher when the process is built; `connect` gives it the Web
    API client once Slack said who the bot is (SlackService.start)."""

    def __init__(
        self,
        *,
        assistant: Assistant,
        stream_interval: float = 1.0,
        message_limit: int = MESSAGE_LIMIT,
    ) -> None:
        self._assistant = assistant
        self._pacing = Pacing(interval=stream_interval)
        self._layout: Layout = functools.partial(reply_messages, limit=message_limit)
        self._client: AsyncWebClient | None = None
        self._identity: BotIdentity | None = None
        self._directory: SlackDirectory | None = None

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.register(SLACK_MESSAGE, self.answer, on_late=self.apologise)

    def connect(self, client: AsyncWebClient, identity: BotIdentity, directory: SlackDirectory) -> None:
        self._client, self._identity, self._directory = client, identity, directory

    def disconnect(self) -> None:
        self._client = self._identity = self._directory = None

    def _connected(self) -> tuple[AsyncWebClient, BotIdentity, SlackDirectory]:
        if self._client is None or self._identity is None or self._directory is None:
            raise ShuttingDown("Slack is not connected in this process")
        return self._client, self._identity, self._directory

    # -- a delivery ----------------------------------------------------------------------------------
    async def answer(self, delivery: Delivery, note_reply: NoteReply) -> None:
        client, identity, directory = self._connected()
        earlier = _earlier(delivery.reply_ref)
        if earlier is None:
            return  # an earlier attempt finished the answer and died before marking it done
        message = parse_message_event(dict(delivery.payload), bot_user_id=identity.user_id)
        if message is None:
            log.warning("a slack.message delivery without a message; dropped")
            return

        async def complete(incoming: IncomingMessage) -> IncomingMessage:
            # Only for messages that are answered, in their conversation's turn (core.orchestrator).
            return replace(
                incoming,
                is_private=await directory.is_private(message),
                user_name=await directory.user_name(message.workspace, message.user),
            )

        async def note(posted: list[str]) -> None:
            await note_reply({"posted": posted})

        incoming = to_incoming(
            message,
            is_private=True,  # until `complete` knows better
            user_name=None,
            bot_user_id=identity.user_id,
            bot_name=identity.name,
            received_at=delivery.received_at,
        )
        thread = SlackThread(client, channel=message.channel, thread_ts=message.reply_thread_ts)
        target = ResumingTarget(thread, earlier=earlier, note=note)
        async with ReplyWriter(target, layout=self._layout, pacing=self._pacing) as writer:
            # The first attempt claims the message (a message answered before the intake existed,
            # or by a process without it, stays answered once); a retry must answer: its first
            # attempt claimed it and died.
            reply = await self._assistant.handle(
                incoming,
                on_delta=writer.on_delta,
                complete=complete,
                already_claimed=delivery.attempt > 1,
            )
            if reply is None:
                if not self._assistant.accepting:
                    raise HandBack("stopping: the next worker answers it")
                return  # a duplicate, or thread chatter in a conversation Mnemo is not part of
            try:
                await writer.finish(reply.text)
            except DeliveryFailed as exc:
                log.warning("could not post the reply session=%s: %s", reply.session_id, exc.reason)
                if not exc.permanent:
                    raise  # another attempt continues the messages posted so far
                return
        await target.remove_leftovers(len(target.handles))
        await note_reply({"posted": target.handles, "final": True})

    async def apologise(self, delivery: Delivery, note_reply: NoteReply) -> None:
        """Waited past the bound: say so in the thread (once), rather than answer a stale question."""
        client, identity, _ = self._connected()
        if _earlier(delivery.reply_ref) is None:
            return
        message = parse_message_event(dict(delivery.payload), bot_user_id=identity.user_id)
        if message is None:
            return
        if message.needs_thread_check and not await self._assistant.follows(message.conversation):
            log.info("late thread reply in a conversation Mnemo does not follow; dropped")
            return
        thread = SlackThread(client, channel=message.channel, thread_ts=message.reply_thread_ts)
        try:
            sent = await thread.post(LATE_REPLY, index=0)
        except DeliveryFailed as exc:
            log.warning("could not post the late-message apology: %s", exc.reason)
            return
        await note_reply({"posted": [sent.handle], "final": True})


def _earlier(ref: JsonObject | None) -> list[str] | None:
    """The messages an earlier attempt posted ([] for none); None if it finished the answer."""
    if not ref:
        return []
    if ref.get("final"):
        return None
    return [str(handle) for handle in ref.get("posted", [])]


__all__ = [
    "LATE_REPLY",
    "SLACK_MESSAGE",
    "SLACK_PANE",
    "ShuttingDown",
    "SlackResponder",
    "SlackThread",
    "message_delivery",
    "pane_delivery",
]
