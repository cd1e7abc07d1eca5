"""The assistant pane: Slack's split view for AI apps, on bolt's own `AsyncAssistant` middleware
and the helpers it hands each listener (`say`, `set_status`, `set_title`,
`set_suggested_prompts`, `say_stream`, `save_thread_context`).

- Thread started: a greeting, and suggested prompts that fit a memory assistant.
- Context changed (the person looks at another channel): kept with bolt's own thread-context
  store (in the greeting's message metadata). Mnemo does not answer from it: what decides privacy
  is the pane itself, which only the person sees, so it counts as a DM (memories learned there are
  private; private memories may be recalled there).
- A message: status "is thinking...", a title from the thread's first question, the answer
  streamed natively (pane_reply.PaneReply, with the post-then-edit fallback), and feedback
  buttons under it whose clicks are kept per answer for the clicker (Assistant.record_feedback).

A person's message is recorded in the durable intake before the ack, like every message
("slack.pane"), and answered by a worker (`answer`, called by adapters/slack/pane_intake.py) with
helpers built on the Web API there (bolt's own AsyncSetStatus, AsyncSetTitle, AsyncSayStream):
the same status, title and stream, from any process. The greeting and the context store stay in the receiving
process, in tracked tasks: they hold no one's words, and a greeting lost with a process only
leaves the new thread without a hello. The middleware takes a DM's thread messages before the
app's own `message` listener sees them; other events pass through to it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.assistant.async_assistant import AsyncAssistant
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.reply_writer import DeliveryFailed, Layout, Pacing
from adapters.common.tasks import TaskTracker
from adapters.slack.directory import SlackDirectory
from adapters.slack.pane_reply import STREAM_BUFFER_CHARS, PaneReply
from adapters.slack.render import feedback_blocks
from adapters.slack.responders import SlackThread, pane_delivery
from adapters.slack.translate import action_identity, parse_message_event, to_incoming, workspace_of
from adapters.slack.web_api import BotIdentity, slack_error
from core.admission import SwampedError
from core.assistant import Assistant
from core.errors import BotError
from core.intake.model import HandBack
from core.models import IncomingMessage, Rating, ReplyKind
from core.replies import SWAMPED_REPLY

log = logging.getLogger(__name__)

GREETING = "Hi! I remember what you tell me, for you only. Ask me anything, or pick a suggestion."
SUGGESTED_PROMPTS: tuple[dict[str, str], ...] = (
    {"title": "What do you remember?", "message": "What do you remember about me?"},
    {"title": "What did I tell you lately?", "message": "What have I told you recently?"},
    {"title": "Seeing and deleting", "message": "How do I see or delete what you remember about me?"},
)
PROMPTS_TITLE = "Try asking:"
THINKING = "is thinking..."
TITLE_CHARS = 60
Helper = Callable[..., Awaitable[Any]]


def title_from(question: str) -> str:
    """A thread title from its first question: its first line, cut at a word."""
    line = " ".join(question.split())
    if len(line) <= TITLE_CHARS:
        return line or "New chat"
    cut = line[: TITLE_CHARS - 1].rsplit(" ", 1)[0] or line[: TITLE_CHARS - 1]
    return cut + "…"


def answer_id(workspace: str, channel: str, ts: str) -> str:
    """The id feedback is kept under: the message that holds the buttons."""
    return f"slack:{workspace}:{channel}:{ts}"


class SlackAssistantPane:
    def __init__(
        self,
        *,
        assistant: Assistant,
        identity: BotIdentity,
        tracker: TaskTracker,
        directory: SlackDirectory,
        layout: Layout,
        pacing: Pacing,
        native_stream: bool = True,
        stream_buffer_chars: int = STREAM_BUFFER_CHARS,
    ) -> None:
        self._assistant = assistant
        self._identity = identity
        self._tracker = tracker
        self._directory = directory
        self._layout = layout
        self._pacing = pacing
        self._native_stream = native_stream
        self._stream_buffer_chars = stream_buffer_chars

    def register(self, app: AsyncApp) -> None:
        pane = AsyncAssistant(logger=logging.getLogger("adapters.slack.bolt"))
        pane.thread_started(self.on_thread_started)
        pane.thread_context_changed(self.on_context_changed)
        pane.user_message(self.on_user_message)
        app.assistant(pane)
        # Feedback clicks are recorded by the front door and answered by a worker
        # (adapters/slack/interactions.py calls record_feedback).

    # -- listeners (bolt calls them by parameter name; each only starts a tracked task) -----------
    async def on_thread_started(self, say: Helper, set_suggested_prompts: Helper) -> None:
        self._tracker.spawn(self._greet(say, set_suggested_prompts), name="assistant-thread")

    async def on_context_changed(self, save_thread_context: Helper, payload: dict[str, Any]) -> None:
        thread = payload.get("assistant_thread")
        context = thread.get("context") if isinstance(thread, Mapping) else None
        if isinstance(context, Mapping):
            self._tracker.spawn(
                _quietly("save the thread context", save_thread_context(dict(context))),
                name="assistant-context",
            )

    async def on_user_message(self, body: dict[str, Any]) -> None:
        """Recorded before bolt acknowledges it; a worker answers (pane_intake.py). Raises when the
        intake cannot record it: not acknowledged, Slack delivers it again."""
        message = parse_message_event(body, bot_user_id=self._identity.user_id)
        if message is None or not message.thread:
            return
        await self._assistant.accept(pane_delivery(message, body, received_at=self._assistant.clock()))

    # -- the work ----------------------------------------------------------------------------------
    async def _greet(self, say: Helper, set_suggested_prompts: Helper) -> None:
        await _quietly("greet", say(GREETING))
        await _quietly(
            "suggest prompts", set_suggested_prompts(prompts=list(SUGGESTED_PROMPTS), title=PROMPTS_TITLE)
        )

    async def answer(
        self,
        body: dict[str, Any],
        *,
        client: AsyncWebClient,
        say: Helper,
        set_status: Helper,
        set_title: Helper,
        say_stream: Helper,
        received_at: datetime | None = None,
        already_claimed: bool = False,
    ) -> None:
        """`received_at`: when Slack delivered it (a message from before an erasure is withdrawn);
        `already_claimed`: a retry, whose first attempt claimed the message and died."""
        message = parse_message_event(body, bot_user_id=self._identity.user_id)
        if message is None or not message.thread:
            return
        incoming = to_incoming(
            message,
            is_private=True,  # the pane is the person's own, like a DM
            user_name=None,
            bot_user_id=self._identity.user_id,
            bot_name=self._identity.name,
            received_at=received_at or self._assistant.clock(),
        )
        first_question = not await self._has_conversation(incoming)
        await _quietly("set the status", set_status(THINKING))
        if first_question:
            await _quietly("set the title", set_title(title_from(incoming.text)))

        async def complete(ready: IncomingMessage) -> IncomingMessage:
            name = await self._directory.user_name(message.workspace, message.user)
            return replace(ready, is_private=True, user_name=name)

        reply_to = PaneReply(
            client=client,
            channel=message.channel,
            thread_ts=message.thread,
            start_stream=say_stream if self._native_stream else None,
            fallback=SlackThread(client, channel=message.channel, thread_ts=message.thread),
            layout=self._layout,
            pacing=self._pacing,
            buffer_chars=self._stream_buffer_chars,
        )
        try:
            reply = await self._assistant.handle(
                incoming, on_delta=reply_to.on_delta, complete=complete, already_claimed=already_claimed
            )
        except SwampedError:
            await reply_to.abandon()
            await _quietly("say it is busy", say(SWAMPED_REPLY))
            return
        except BaseException:
            await reply_to.abandon()
            raise
        if reply is None:  # a duplicate delivery (the first one answers), or shutting down
            await reply_to.abandon()
            await _quietly("clear the status", set_status(""))
            if not self._assistant.accepting:
                raise HandBack("stopping: the next worker answers it")
            return
        blocks = feedback_blocks() if reply.kind is ReplyKind.ANSWER else None
        try:
            await reply_to.finish(reply.text, blocks=blocks)
        except DeliveryFailed as exc:
            log.warning("could not post the reply session=%s: %s", reply.session_id, exc.reason)
            await _quietly("clear the status", set_status(""))

    async def _has_conversation(self, incoming: IncomingMessage) -> bool:
        try:
            return await self._assistant.has_conversation(incoming.conversation)
        except BotError as exc:
            log.warning("could not tell whether the thread is new: %s", type(exc).__name__)
            return True  # no title rather than a wrong one

    async def record_feedback(self, body: Mapping[str, Any]) -> None:
        identity = action_identity(body)
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions else {}
        value = action.get("value") if isinstance(action, Mapping) else None
        container = body.get("container")
        container = container if isinstance(container, Mapping) else {}
        channel = str(container.get("channel_id") or "")
        ts = str(container.get("message_ts") or "")
        if value not in ("good", "bad") or not identity.user or not channel or not ts:
            log.warning("ignored a feedback click without a rating, person or message")
            return
        answer = answer_id(workspace_of(dict(body)), channel, ts)
        try:
            await self._assistant.record_feedback(identity, answer=answer, rating=Rating(value))
        except (BotError, ValueError) as exc:
            log.warning("could not record feedback: %s", type(exc).__name__)


async def _quietly(what: str, call: Awaitable[Any]) -> None:
    """A pane nicety (status, title, prompts, greeting) that fails is logged; the answer goes on."""
    try:
        await call
    except SlackClientError as exc:
        log.warning("assistant pane: could not %s: %s", what, slack_error(exc))
