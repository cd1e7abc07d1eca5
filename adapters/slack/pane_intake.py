"""The worker side of the assistant pane: answer a person's pane message the front door recorded
("slack.pane", adapters/slack/responders.pane_delivery).

bolt hands the pane's listener helpers bound to the request (set_status, set_title, say_stream);
a worker has no request, so it builds the same bolt helpers on the Web API (AsyncSetStatus,
AsyncSetTitle, AsyncSayStream, from the recorded event's channel, thread and person): the same
"is thinking..." status, title and natively streamed answer, from any process
(SlackAssistantPane.answer).

A retry (the first worker died mid-answer) answers again (`already_claimed`): a stream cut off by
the dead worker may stay above the new answer; nothing is lost. A message that waited past the
intake's bound gets LATE_REPLY in its thread instead of an answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.context.say_stream.async_say_stream import AsyncSayStream
from slack_bolt.context.set_status.async_set_status import AsyncSetStatus
from slack_bolt.context.set_title.async_set_title import AsyncSetTitle
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.reply_writer import DeliveryFailed
from adapters.slack.assistant import SlackAssistantPane
from adapters.slack.responders import LATE_REPLY, SLACK_PANE, ShuttingDown, SlackThread
from core.intake.dispatch import Dispatcher, NoteReply
from core.intake.model import Delivery

log = logging.getLogger(__name__)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


class SlackPaneResponder:
    """Registered on the worker's Dispatcher when the process is built; `connect` gives it the pane
    and the Web API client once Slack said who the bot is (SlackService.start)."""

    def __init__(self) -> None:
        self._pane: SlackAssistantPane | None = None
        self._client: AsyncWebClient | None = None

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.register(SLACK_PANE, self.answer, on_late=self.apologise)

    def connect(self, pane: SlackAssistantPane, client: AsyncWebClient) -> None:
        self._pane, self._client = pane, client

    def disconnect(self) -> None:
        self._pane = self._client = None

    def _connected(self) -> tuple[SlackAssistantPane, AsyncWebClient]:
        if self._pane is None or self._client is None:
            raise ShuttingDown("Slack is not connected in this process")
        return self._pane, self._client

    async def answer(self, delivery: Delivery, note_reply: NoteReply) -> None:
        pane, client = self._connected()
        body = dict(delivery.payload)
        event = body.get("event")
        event = event if isinstance(event, Mapping) else {}
        channel, thread = _str(event.get("channel")), _str(event.get("thread_ts"))
        if not channel or not thread:
            log.warning("a slack.pane delivery without its thread; dropped")
            return

        async def say(text: str, **_: Any) -> None:
            # Only the "too busy" notice goes through here (the greeting is the front door's).
            await client.chat_postMessage(channel=channel, thread_ts=thread, text=text)

        await pane.answer(
            body,
            client=client,
            say=say,
            set_status=AsyncSetStatus(client, channel, thread),
            set_title=AsyncSetTitle(client, channel, thread),
            say_stream=AsyncSayStream(
                client=client,
                channel=channel,
                recipient_team_id=_str(body.get("recipient_team_id")) or None,
                recipient_user_id=_str(event.get("user")) or None,
                thread_ts=thread,
            ),
            received_at=delivery.received_at,
            already_claimed=delivery.attempt > 1,
        )

    async def apologise(self, delivery: Delivery, note_reply: NoteReply) -> None:
        """Waited past the bound: say so in the pane's thread, once."""
        _, client = self._connected()
        if delivery.reply_ref and delivery.reply_ref.get("final"):
            return
        event = delivery.payload.get("event")
        event = event if isinstance(event, Mapping) else {}
        channel, thread = _str(event.get("channel")), _str(event.get("thread_ts"))
        if not channel or not thread:
            return
        try:
            sent = await SlackThread(client, channel=channel, thread_ts=thread).post(LATE_REPLY, index=0)
        except DeliveryFailed as exc:
            log.warning("could not post the late pane apology: %s", exc.reason)
            return
        await note_reply({"posted": [sent.handle], "final": True})


__all__ = ["SlackPaneResponder"]
