"""Slack's surfaces beyond messages: /memory (commands.py), the assistant pane (assistant.py), the
App Home tab (home.py) and the message shortcuts (shortcuts.py), built once per process.

Both sides of the process use them: the front door registers what is answered where it is received
(`registrations`), and the worker answers the recorded commands, clicks and shortcuts with them
(`handlers`, adapters/slack/interactions.py).

Answered where received, not through the durable intake:
- app_home_opened (home.py): views.publish of the viewer's own tab is idempotent and holds no one's
  words; a lost one is redone at the next opening.
- the assistant pane's thread started (a greeting and suggested prompts) and context changed
  (bolt's thread-context store): no one's words, and nothing that cannot be redone; a person's
  message in the pane is recorded and answered by a worker (pane_intake.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.reply_writer import Pacing
from adapters.common.tasks import TaskTracker
from adapters.slack.assistant import SlackAssistantPane
from adapters.slack.commands import SlackCommands
from adapters.slack.directory import SlackDirectory
from adapters.slack.home import SlackHome
from adapters.slack.interactions import InteractionHandlers
from adapters.slack.shortcuts import SlackShortcuts
from adapters.slack.translate import MESSAGE_LIMIT, reply_messages
from adapters.slack.web_api import BotIdentity
from core.assistant import Assistant


@dataclass(frozen=True, slots=True)
class SlackSurfaces:
    handlers: InteractionHandlers

    @property
    def registrations(self) -> list[Callable[[AsyncApp], None]]:
        """The `register` of each surface with listeners of its own, for listeners.build_app."""
        return [self.handlers.pane.register, self.handlers.home.register]


def build_surfaces(
    *,
    assistant: Assistant,
    client: AsyncWebClient,
    identity: BotIdentity,
    tracker: TaskTracker,
    directory: SlackDirectory,
    stream_interval: float,
    native_stream: bool = True,
) -> SlackSurfaces:
    commands = SlackCommands(assistant=assistant, client=client, directory=directory)
    pane = SlackAssistantPane(
        assistant=assistant,
        identity=identity,
        tracker=tracker,
        directory=directory,
        layout=functools.partial(reply_messages, limit=MESSAGE_LIMIT),
        pacing=Pacing(interval=stream_interval),
        native_stream=native_stream,
    )
    home = SlackHome(
        assistant=assistant,
        client=client,
        tracker=tracker,
        commands=commands,
        workspace=identity.enterprise_id or identity.team_id or "",
    )
    shortcuts = SlackShortcuts(assistant=assistant, identity=identity, directory=directory)
    return SlackSurfaces(InteractionHandlers(commands=commands, home=home, shortcuts=shortcuts, pane=pane))
