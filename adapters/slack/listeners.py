"""The bolt app's listeners: every event, command and click is acknowledged at once.

A person's message is recorded in the durable intake before the ack (`accept`), and answered by a
worker (adapters/slack/responders.py, in this process or another): a process that dies after the
ack loses nothing. /memory commands and button clicks are still answered here, in a task handed to
the tracker (adapters.common.tasks) before the ack.

The app runs with `process_before_response`: a listener only records the message or starts a
tracked task, so running it before the ack costs one local write at most, and whatever was
acknowledged is then durable or tracked. Bolt's default would run each listener in an untracked task
after the ack, and poll every 10 ms for a command's ack().
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.tasks import TaskTracker
from adapters.slack.commands import Respond, SlackCommands
from adapters.slack.render import (
    ACTION_DELETE,
    ACTION_FORGET_ALL_CANCEL,
    ACTION_FORGET_ALL_CONFIRM,
    ACTION_NEWER,
    ACTION_OLDER,
)
from adapters.slack.responders import message_delivery
from adapters.slack.translate import parse_message_event
from adapters.slack.web_api import BotIdentity
from core.assistant import Assistant

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Respond], Coroutine[Any, Any, None]]


class SlackListeners:
    """What the bolt app does with each event, command and click. `register(app)` attaches it."""

    def __init__(
        self,
        *,
        assistant: Assistant,
        identity: BotIdentity,
        tracker: TaskTracker,
        commands: SlackCommands,
    ) -> None:
        self._assistant = assistant
        self.identity = identity
        self._tracker = tracker
        self._commands = commands

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
        # Events are acknowledged by bolt itself, as soon as this returns: after the intake has
        # recorded the message (process_before_response).
        await self.accept(body)

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

    # -- a person's message ------------------------------------------------------------------------
    async def accept(self, body: dict[str, Any]) -> None:
        """Record the message in the durable intake; bolt acknowledges once this returns. A worker
        answers it (adapters/slack/responders.py). If the intake cannot record it, this raises:
        bolt answers 500 (HTTP) or does not acknowledge (Socket Mode), and Slack delivers it again."""
        message = parse_message_event(body, bot_user_id=self.identity.user_id)
        if message is None:
            return  # not a person speaking to Mnemo
        await self._assistant.accept(message_delivery(message, received_at=self._assistant.clock()))


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
