"""Slack's surfaces beyond messages and /memory: the assistant pane (assistant.py), the App Home
tab (home.py) and the message shortcuts (shortcuts.py), built together for the service."""

from __future__ import annotations

import functools
from collections.abc import Callable

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.reply_writer import Pacing
from adapters.common.tasks import TaskTracker
from adapters.slack.assistant import SlackAssistantPane
from adapters.slack.commands import SlackCommands
from adapters.slack.directory import SlackDirectory
from adapters.slack.home import SlackHome
from adapters.slack.shortcuts import SlackShortcuts
from adapters.slack.translate import MESSAGE_LIMIT, reply_messages
from adapters.slack.web_api import BotIdentity
from core.assistant import Assistant


def build_surfaces(
    *,
    assistant: Assistant,
    client: AsyncWebClient,
    identity: BotIdentity,
    tracker: TaskTracker,
    directory: SlackDirectory,
    commands: SlackCommands,
    stream_interval: float,
    native_stream: bool = True,
) -> list[Callable[[AsyncApp], None]]:
    """The `register` of each surface, for listeners.build_app."""
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
    shortcuts = SlackShortcuts(assistant=assistant, identity=identity, tracker=tracker, directory=directory)
    return [pane.register, home.register, shortcuts.register]
