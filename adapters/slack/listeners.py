"""The bolt app's listeners: every event, command and click is acknowledged at once and its work
handed to the tracker (adapters.common.tasks); a person's message is answered here.

The app runs with `process_before_response`: a listener does nothing but start a tracked task, so
running it before the ack costs microseconds, and whatever was acknowledged is then already
tracked (a clean shutdown waits for it; a test can wait for it). Bolt's default would run each
listener in an untracked task after the ack, and poll every 10 ms for a command's ack().

An answer: the payload becomes an IncomingMessage (translate), the core answers it
(Assistant.handle), and the reply is streamed into the thread by the shared ReplyWriter. The
look-ups that need the network (privacy, display name) run in the core's `complete` hook: only
for messages that are answered, in their conversation's turn.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.reply_writer import DeliveryFailed, Layout, Pacing, ReplyWriter, Sent
from adapters.common.tasks import TaskTracker
from adapters.slack.commands import Respond, SlackCommands
from adapters.slack.directory import SlackDirectory
from adapters.slack.render import (
    ACTION_DELETE,
    ACTION_FORGET_ALL_CANCEL,
    ACTION_FORGET_ALL_CONFIRM,
    ACTION_NEWER,
    ACTION_OLDER,
)
from adapters.slack.translate import (
    MESSAGE_LIMIT,
    SlackMessage,
    message_arguments,
    parse_message_event,
    reply_messages,
    to_incoming,
)
from adapters.slack.web_api import BotIdentity, slack_error
from core.admission import SwampedError
from core.assistant import Assistant
from core.errors import StorageError
from core.models import IncomingMessage
from core.replies import SWAMPED_REPLY

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Respond], Coroutine[Any, Any, None]]


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
        return DeliveryFailed(f"{method} channel={self._channel}: {slack_error(exc)}")


class SlackListeners:
    """What the bolt app does with each event, command and click. `register(app)` attaches it."""

    def __init__(
        self,
        *,
        assistant: Assistant,
        client: AsyncWebClient,
        identity: BotIdentity,
        tracker: TaskTracker,
        directory: SlackDirectory,
        commands: SlackCommands,
        stream_interval: float = 1.0,
        message_limit: int = MESSAGE_LIMIT,
    ) -> None:
        self._assistant = assistant
        self._client = client
        self.identity = identity
        self._tracker = tracker
        self._directory = directory
        self._commands = commands
        self._pacing = Pacing(interval=stream_interval)
        self._layout: Layout = functools.partial(reply_messages, limit=message_limit)

    def register(self, app: AsyncApp) -> None:
        app.event("app_mention")(self.on_message_event)
        app.event("message")(self.on_message_event)
        app.event(re.compile(r".*"))(self.on_other_event)
        app.command("/memory")(self.on_memory_command)
        for action, handler in (
            (ACTION_DELETE, self._commands.delete_clicked),
            (ACTION_NEWER, self._commands.page_clicked),
            (ACTION_OLDER, self._commands.page_clicked),
            (ACTION_FORGET_ALL_CONFIRM, self._commands.forget_all_confirmed),
            (ACTION_FORGET_ALL_CANCEL, self._commands.forget_all_cancelled),
        ):
            app.action(action)(self._button_listener(handler))
        app.error(self.on_error)

    # -- listeners (bolt calls them by parameter name) --------------------------------------------
    async def on_message_event(self, body: dict[str, Any]) -> None:
        # Events are acknowledged by bolt itself, as soon as this returns.
        self._tracker.spawn(self.answer(body, received_at=self._assistant.clock()), name="message")

    async def on_other_event(self, body: dict[str, Any]) -> None:
        return None  # acked; an unanswered event would otherwise be retried by Slack

    async def on_memory_command(self, ack: Any, body: dict[str, Any], respond: Respond) -> None:
        await ack()
        self._tracker.spawn(self._commands.run_command(body, respond), name="command")

    def _button_listener(self, handler: Handler) -> Callable[..., Coroutine[Any, Any, None]]:
        async def on_button(ack: Any, body: dict[str, Any], respond: Respond) -> None:
            await ack()
            self._tracker.spawn(handler(body, respond), name="button")

        return on_button

    async def on_error(self, error: Exception) -> None:
        # Payloads are not logged: they hold people's messages.
        log.error("slack listener error: %s", type(error).__name__, exc_info=error)

    # -- answering a message ---------------------------------------------------------------------
    async def answer(self, body: dict[str, Any], *, received_at: datetime) -> None:
        message = parse_message_event(body, bot_user_id=self.identity.user_id)
        if message is None:
            return  # not a person speaking to Mnemo
        try:
            await self._answer(message, received_at=received_at)
        except SwampedError:
            await self._too_busy(message, received_at=received_at)

    async def _answer(self, message: SlackMessage, *, received_at: datetime) -> None:
        async def complete(incoming: IncomingMessage) -> IncomingMessage:
            # Only for messages that are answered, in their conversation's turn (core.orchestrator).
            return replace(
                incoming,
                is_private=await self._directory.is_private(message),
                user_name=await self._directory.user_name(message.workspace, message.user),
            )

        incoming = self._incoming(message, received_at=received_at)
        target = SlackThread(self._client, channel=message.channel, thread_ts=message.reply_thread_ts)
        async with ReplyWriter(target, layout=self._layout, pacing=self._pacing) as writer:
            reply = await self._assistant.handle(incoming, on_delta=writer.on_delta, complete=complete)
            if reply is None:
                return  # a duplicate delivery (retry, or the same message as another event type)
            try:
                await writer.finish(reply.text)
            except DeliveryFailed as exc:
                log.warning("could not post the reply session=%s: %s", reply.session_id, exc.reason)

    async def _too_busy(self, message: SlackMessage, *, received_at: datetime) -> None:
        """Overloaded: say so at once instead of queueing without bound. The message is claimed,
        so its other deliveries (the app_mention/message twin, retries) stay silent."""
        if message.needs_thread_check and not await self._assistant.follows(message.conversation):
            return
        log.warning("too many replies waiting; asking to retry later")
        try:
            if not await self._assistant.claim_delivery(self._incoming(message, received_at=received_at)):
                return
            await self._client.chat_postMessage(
                **message_arguments(SWAMPED_REPLY, channel=message.channel, thread_ts=message.reply_thread_ts)
            )
        except (StorageError, SlackClientError) as exc:
            log.warning("could not send the busy reply: %s", type(exc).__name__)

    def _incoming(self, message: SlackMessage, *, received_at: datetime) -> IncomingMessage:
        return to_incoming(
            message,
            is_private=True,  # until `complete` knows better
            user_name=None,
            bot_user_id=self.identity.user_id,
            bot_name=self.identity.name,
            received_at=received_at,
        )


class _EnvTokenNotice(logging.Filter):
    """AsyncApp reads SLACK_BOT_TOKEN from the environment by itself and then warns that it will not
    use it (we pass a client and `authorize`, on purpose): a misleading line at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("As you gave `client` as well")


def build_app(
    *,
    listeners: SlackListeners,
    client: AsyncWebClient,
    authorization: AuthorizeResult,
    signing_secret: str | None,
    surfaces: Sequence[Callable[[AsyncApp], None]] = (),
) -> AsyncApp:
    """A bolt AsyncApp that never calls auth.test on a request (authorization is known from start-up)
    and verifies signatures in HTTP mode. `client` (no token) carries the base URL, session and retry
    handlers bolt copies into its per-request clients. `surfaces` register first (the assistant
    pane, App Home, shortcuts: adapters/slack/surfaces.py), ahead of the catch-all event listener."""

    async def authorize(**_: Any) -> AuthorizeResult:
        return authorization

    bolt_log = logging.getLogger("adapters.slack.bolt")
    if not any(isinstance(f, _EnvTokenNotice) for f in bolt_log.filters):
        bolt_log.addFilter(_EnvTokenNotice())
    app = AsyncApp(
        name="mnemo",
        client=client,
        authorize=authorize,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        process_before_response=True,
        logger=bolt_log,
    )
    for register_surface in surfaces:
        register_surface(app)
    listeners.register(app)
    return app
