"""The bolt app's listeners: every event, command, click and shortcut is acknowledged at once.

A person's message is recorded in the durable intake before the ack (`accept`), and answered by a
worker (adapters/slack/responders.py, in this process or another); so are /memory commands, button
clicks (the /memory answers', the Home tab's, the pane's feedback) and message shortcuts
(`record`, answered by adapters/slack/interactions.py): a process that dies after the ack loses
nothing. If the intake cannot record, nothing is acknowledged (HTTP 500): Slack redelivers an event,
and tells the person a command or click failed, rather than it vanishing after an ack.

What stays in the receiving process, in tracked tasks (adapters/slack/surfaces.py says why):
app_home_opened (views.publish of the viewer's own tab, idempotent, no one's words to lose) and
the assistant pane's greeting and context store (the pane's messages go through the intake).

The app runs with `process_before_response`: a listener only records, so running it before the
ack costs one local write at most, and whatever was acknowledged is then durable. Bolt's default
would run each listener in an untracked task after the ack, and poll every 10 ms for a command's
ack().
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.interactions import (
    ACTIONS,
    MEMORY_COMMAND,
    SHORTCUTS,
    SLACK_ACTION,
    SLACK_COMMAND,
    SLACK_SHORTCUT,
    interaction_delivery,
)
from adapters.slack.responders import message_delivery
from adapters.slack.translate import parse_message_event
from adapters.slack.web_api import BotIdentity
from core.assistant import Assistant

log = logging.getLogger(__name__)

Listener = Callable[..., Coroutine[Any, Any, None]]


class SlackListeners:
    """What the bolt app does with each event, command and click. `register(app)` attaches it."""

    def __init__(self, *, assistant: Assistant, identity: BotIdentity) -> None:
        self._assistant = assistant
        self.identity = identity

    def register(self, app: AsyncApp) -> None:
        app.event("app_mention")(self.on_message_event)
        app.event("message")(self.on_message_event)
        app.event(re.compile(r".*"))(self.on_other_event)
        app.command(MEMORY_COMMAND)(self._recorder(SLACK_COMMAND))
        for action in ACTIONS:
            app.action(action)(self._recorder(SLACK_ACTION))
        for callback in SHORTCUTS:
            app.message_shortcut(callback)(self._recorder(SLACK_SHORTCUT))
        app.error(self.on_error)

    # -- listeners (bolt calls them by parameter name) --------------------------------------------
    async def on_message_event(self, body: dict[str, Any]) -> None:
        # Events are acknowledged by bolt itself, as soon as this returns: after the intake has
        # recorded the message (process_before_response).
        await self.accept(body)

    async def on_other_event(self, body: dict[str, Any]) -> None:
        return None  # acked; an unanswered event would otherwise be retried by Slack

    def _recorder(self, kind: str) -> Listener:
        async def record(ack: Any, body: dict[str, Any]) -> None:
            await self.record(kind, body)
            await ack()  # empty: the answer comes from a worker, through the response_url

        return record

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

    async def record(self, kind: str, body: dict[str, Any]) -> None:
        """A command, click or shortcut: recorded before the ack (a duplicate is acknowledged and
        dropped); a worker answers it (adapters/slack/interactions.py). Raises when the intake
        cannot record it: then it is not acknowledged."""
        await self._assistant.accept(interaction_delivery(kind, body, received_at=self._assistant.clock()))


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
