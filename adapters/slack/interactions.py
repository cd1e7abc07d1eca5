"""`/memory`, button clicks and message shortcuts through the durable intake (core/intake).

The front door (adapters/slack/listeners.py) records each as a delivery ("slack.command",
"slack.action", "slack.shortcut") holding the signed body Slack sent (who, what was typed or
clicked, and the response_url to answer through), and only then acknowledges it. A worker, in this
process or another, answers it here: through the body's response_url (bolt's AsyncRespond, which
posts with slack_sdk's AsyncWebhookClient, so any process can) and the Web API (views.publish for
the Home tab, files for an export). A process that dies after the ack loses nothing.

- Key: the interaction's trigger_id (unique per command, click or shortcut; a Socket Mode
  redelivery or a second front door carries the same one), so a redelivery is answered once.
- Lane: the person. One person's commands and clicks are answered one at a time, in the order they
  came (a delete, then the next page); different people's in parallel.
- Late (waited past the intake's bound): nothing is run; a sorry goes through the response_url
  (valid 30 minutes, longer than the bound), or, for a Home tab click (no response_url), the tab
  is republished with the sorry as its notice.
- A retry (the first worker died or failed): once the answer was posted it is noted
  ({"final": true}), so a worker that dies between posting and finishing is not answered twice.
  One that died before posting runs the command again: each is safe to repeat (a second forget of
  the same memory says it was already gone).

The payload (the command's words, a shortcut's message) lives in intake.deliveries only until the
delivery is answered (core/erasure.py lists that copy). "Remember this" checks the delivery's time
against the clicker's last erasure (adapters/slack/shortcuts.py), like a message does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond

from adapters.slack.assistant import SlackAssistantPane
from adapters.slack.commands import Respond, SlackCommands
from adapters.slack.home import SlackHome
from adapters.slack.home_view import HOME_ACTIONS
from adapters.slack.render import (
    ACTION_DELETE,
    ACTION_FEEDBACK,
    ACTION_FORGET_ALL_CANCEL,
    ACTION_FORGET_ALL_CONFIRM,
    ACTION_NEWER,
    ACTION_OLDER,
    render_text,
)
from adapters.slack.responders import ShuttingDown
from adapters.slack.shortcuts import FORGET_CALLBACK, REMEMBER_CALLBACK, SlackShortcuts
from adapters.slack.translate import action_identity, workspace_of
from core.intake.dispatch import Dispatcher, NoteReply
from core.intake.model import Delivery, JsonObject, NewDelivery

log = logging.getLogger(__name__)

SLACK_COMMAND = "slack.command"
SLACK_ACTION = "slack.action"
SLACK_SHORTCUT = "slack.shortcut"
INTERACTION_KINDS = (SLACK_COMMAND, SLACK_ACTION, SLACK_SHORTCUT)

MEMORY_COMMAND = "/memory"
MEMORY_ACTIONS = (
    ACTION_DELETE,
    ACTION_NEWER,
    ACTION_OLDER,
    ACTION_FORGET_ALL_CONFIRM,
    ACTION_FORGET_ALL_CANCEL,
)
# Every button the front door records (the pane's feedback buttons too: a rating is the person's).
ACTIONS = (*MEMORY_ACTIONS, *HOME_ACTIONS, ACTION_FEEDBACK)
SHORTCUTS = (REMEMBER_CALLBACK, FORGET_CALLBACK)

LATE_ANSWER = (
    "Sorry, I could not get to this in time (I was down or very busy), so I did nothing. Please try again."
)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def person_of(body: Mapping[str, Any]) -> str:
    """Who typed the command (`user_id`) or clicked (`user.id`)."""
    return _str(body.get("user_id")) or _str(_dict(body.get("user")).get("id"))


def action_id_of(body: Mapping[str, Any]) -> str:
    actions = body.get("actions")
    return _str(_dict(actions[0]).get("action_id")) if isinstance(actions, list) and actions else ""


def interaction_delivery(kind: str, body: Mapping[str, Any], *, received_at: datetime) -> NewDelivery:
    """What the front door records for a command, click or shortcut: the body as Slack sent it."""
    if kind not in INTERACTION_KINDS:
        raise ValueError(f"not a Slack interaction kind: {kind!r}")
    workspace = workspace_of(dict(body))
    trigger = _str(body.get("trigger_id"))
    if not trigger:  # Slack always sends one; without it, the body itself tells copies apart
        trigger = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return NewDelivery(
        key=f"{kind}:slack:{workspace}:{trigger}",
        kind=kind,
        lane=f"slack.person:{workspace}:{person_of(body)}",
        payload={"body": dict(body)},
        received_at=received_at,
    )


@dataclass(frozen=True, slots=True)
class InteractionHandlers:
    """What answers each interaction in this process (built once per process: surfaces.py)."""

    commands: SlackCommands
    home: SlackHome
    shortcuts: SlackShortcuts
    pane: SlackAssistantPane


class _NoResponseUrl:
    """respond() for a click that has no response_url (a Home tab button): nothing to post to."""

    async def __call__(self, **_: Any) -> None:
        raise ValueError("this interaction has no response_url")


def responder_for(body: Mapping[str, Any], note_reply: NoteReply) -> Respond:
    """Posts to the body's response_url from any process, and notes that the answer went out."""
    url = _str(body.get("response_url"))
    post: Respond = AsyncRespond(response_url=url) if url else _NoResponseUrl()

    async def respond(**message: Any) -> Any:
        response = await post(**message)
        await note_reply({"final": True})
        return response

    return respond


class SlackInteractionResponder:
    """Registered on the worker's Dispatcher when the process is built; `connect` gives it this
    process's handlers once Slack said who the bot is (SlackService.start)."""

    def __init__(self) -> None:
        self._handlers: InteractionHandlers | None = None

    def register(self, dispatcher: Dispatcher) -> None:
        for kind in INTERACTION_KINDS:
            dispatcher.register(kind, self.answer, on_late=self.apologise)

    def connect(self, handlers: InteractionHandlers) -> None:
        self._handlers = handlers

    def disconnect(self) -> None:
        self._handlers = None

    def _connected(self) -> InteractionHandlers:
        if self._handlers is None:
            raise ShuttingDown("Slack is not connected in this process")
        return self._handlers

    async def answer(self, delivery: Delivery, note_reply: NoteReply) -> None:
        handlers = self._connected()
        if _answered(delivery.reply_ref):
            return  # an earlier attempt posted the answer and died before marking it done
        body = _body(delivery)
        work = self._work(handlers, delivery, body, responder_for(body, note_reply))
        if work is None:
            log.warning("a %s delivery nothing here answers; dropped", delivery.kind)
            return
        await work

    def _work(
        self, handlers: InteractionHandlers, delivery: Delivery, body: Mapping[str, Any], respond: Respond
    ) -> Awaitable[None] | None:
        kind = delivery.kind
        if kind == SLACK_COMMAND and body.get("command") == MEMORY_COMMAND:
            return handlers.commands.run_command(body, respond)
        if kind == SLACK_SHORTCUT:
            callback = body.get("callback_id")
            if callback == REMEMBER_CALLBACK:
                return handlers.shortcuts.remember(body, respond, received_at=delivery.received_at)
            if callback == FORGET_CALLBACK:
                return handlers.shortcuts.forget(body, respond)
            return None
        if kind != SLACK_ACTION:
            return None
        action = action_id_of(body)
        buttons: dict[str, Callable[[Mapping[str, Any], Respond], Awaitable[None]]] = {
            ACTION_DELETE: handlers.commands.delete_clicked,
            ACTION_NEWER: handlers.commands.page_clicked,
            ACTION_OLDER: handlers.commands.page_clicked,
            ACTION_FORGET_ALL_CONFIRM: handlers.commands.forget_all_confirmed,
            ACTION_FORGET_ALL_CANCEL: handlers.commands.forget_all_cancelled,
        }
        if action in buttons:
            return buttons[action](body, respond)
        if action in HOME_ACTIONS:
            return handlers.home.clicked(body)
        if action == ACTION_FEEDBACK:
            return handlers.pane.record_feedback(body)
        return None

    async def apologise(self, delivery: Delivery, note_reply: NoteReply) -> None:
        """Waited past the bound: run nothing (a stale click may no longer mean what it meant) and
        say so where the person looks."""
        handlers = self._connected()
        if _answered(delivery.reply_ref):
            return
        body = _body(delivery)
        if _str(body.get("response_url")):
            sorry = render_text(LATE_ANSWER)
            try:
                await responder_for(body, note_reply)(
                    text=sorry["text"], blocks=sorry.get("blocks"), response_type="ephemeral"
                )
            except Exception as exc:  # aiohttp and SDK errors alike: logged, not retried
                log.warning("could not post the late-%s apology: %s", delivery.kind, type(exc).__name__)
            return
        viewer = action_identity(body)
        if delivery.kind == SLACK_ACTION and action_id_of(body) in HOME_ACTIONS and viewer.user:
            await handlers.home.publish(viewer, notice=LATE_ANSWER)
            return
        log.warning("a late %s delivery with nowhere to say sorry; dropped", delivery.kind)


def _body(delivery: Delivery) -> Mapping[str, Any]:
    return _dict(delivery.payload.get("body"))


def _answered(ref: JsonObject | None) -> bool:
    return bool(ref and ref.get("final"))


__all__ = [
    "ACTIONS",
    "INTERACTION_KINDS",
    "LATE_ANSWER",
    "MEMORY_COMMAND",
    "SHORTCUTS",
    "SLACK_ACTION",
    "SLACK_COMMAND",
    "SLACK_SHORTCUT",
    "InteractionHandlers",
    "SlackInteractionResponder",
    "interaction_delivery",
    "responder_for",
]
