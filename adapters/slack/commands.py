"""`/memory` and the buttons of its answers: run the core's command for the person who typed or
clicked, answer ephemerally through the response_url (only they see it).

Runs after the ack, in a tracked task (adapters.slack.listeners). A button's value says what to
show or delete, never whose: a click always acts for the clicker (translate.action_identity).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.directory import SlackDirectory
from adapters.slack.render import ShowState, decode_state, render_result, render_text
from adapters.slack.translate import (
    action_identity,
    command_conversation,
    command_identity,
    command_text,
    escape_text,
)
from adapters.slack.web_api import slack_error
from core.assistant import Assistant
from core.commands import Command, CommandName, parse_memory_command
from core.errors import BotError, NotFoundError, UserFacingError
from core.models import ConversationKey, IdentityKey
from core.replies import COMMAND_FAILED_REPLY

log = logging.getLogger(__name__)

EXPORT_INLINE_LIMIT = 2800
Respond = Callable[..., Awaitable[Any]]
"""bolt's respond(): posts to the command's or click's response_url."""


class SlackCommands:
    def __init__(self, *, assistant: Assistant, client: AsyncWebClient, directory: SlackDirectory) -> None:
        self._assistant = assistant
        self._client = client
        self._directory = directory

    async def run_command(self, body: Mapping[str, Any], respond: Respond) -> None:
        """`/memory [subcommand]`."""
        identity = command_identity(body)
        if not identity.workspace or not identity.user:
            await _respond(respond, render_text("I couldn't tell who ran this command."))
            return
        try:
            command = parse_memory_command(command_text(body))
        except UserFacingError as exc:
            await _respond(respond, render_text(str(exc)))
            return
        where = command_conversation(body)
        await self._execute(identity, command, respond, replace=False, conversation=where)

    # -- buttons -------------------------------------------------------------------------------
    async def delete_clicked(self, body: Mapping[str, Any], respond: Respond) -> None:
        identity = action_identity(body)
        state = _button_state(body)
        if state is None or not state.memory_id or not identity.user:
            await _respond(respond, render_text("That button no longer works; run /memory again."))
            return
        try:
            # Acts for the person who clicked: forget() only finds memories of their own account.
            result = await self._assistant.run_command(
                identity, Command(CommandName.FORGET, argument=state.memory_id)
            )
            notice = result.text
        except NotFoundError:
            notice = "That memory was already gone."
        except BotError as exc:
            log.warning("delete button failed: %s", type(exc).__name__)
            await _respond(respond, render_text(COMMAND_FAILED_REPLY))
            return
        await self._execute(
            identity,
            Command(CommandName.SHOW, argument=state.query, page=state.page),
            respond,
            replace=True,
            notice=notice,
        )

    async def page_clicked(self, body: Mapping[str, Any], respond: Respond) -> None:
        identity = action_identity(body)
        state = _button_state(body)
        if state is None or not identity.user:
            await _respond(respond, render_text("That button no longer works; run /memory again."))
            return
        command = Command(CommandName.SHOW, argument=state.query, page=state.page)
        await self._execute(identity, command, respond, replace=True)

    async def forget_all_confirmed(self, body: Mapping[str, Any], respond: Respond) -> None:
        identity = action_identity(body)
        if not identity.user:
            await _respond(respond, render_text("I couldn't tell who clicked."))
            return
        await self._execute(identity, Command(CommandName.FORGET_ALL, confirmed=True), respond, replace=True)

    async def forget_all_cancelled(self, body: Mapping[str, Any], respond: Respond) -> None:
        await _respond(respond, render_text("Nothing was erased."), replace=True)

    # -- running a command -----------------------------------------------------------------------
    async def _execute(
        self,
        identity: IdentityKey,
        command: Command,
        respond: Respond,
        *,
        replace: bool,
        notice: str | None = None,
        conversation: ConversationKey | None = None,
    ) -> None:
        name = await self._directory.user_name(identity.workspace, identity.user)
        try:
            result = await self._assistant.run_command(
                identity, command, display_name=name, conversation=conversation
            )
        except UserFacingError as exc:
            await _respond(respond, render_text(str(exc)), replace=replace)
            return
        except BotError as exc:
            log.warning("/memory %s failed: %s", command.name.value, type(exc).__name__)
            await _respond(respond, render_text(COMMAND_FAILED_REPLY), replace=replace)
            return
        if result.export_json is not None:
            await _respond(respond, await self.send_export(identity, result.export_json, len(result.items)))
            return
        await _respond(respond, render_result(result, command=command, notice=notice), replace=replace)

    async def send_export(self, identity: IdentityKey, document: str, count: int) -> dict[str, Any]:
        """Upload the export into the person's DM with Mnemo: a file only they can see."""
        plural = "memory" if count == 1 else "memories"
        try:
            opened = await self._client.conversations_open(users=identity.user)
            channel = opened["channel"]["id"]
            await self._client.files_upload_v2(
                channel=channel,
                content=document,
                filename="mnemo-memories.json",
                title="What Mnemo remembers about you",
                initial_comment=f"Here is your export: {count} {plural}.",
            )
        except (SlackClientError, KeyError, TypeError) as exc:
            log.warning("export upload failed: %s", slack_error(exc))
            if len(document) <= EXPORT_INLINE_LIMIT:
                return _inline_export(document, count, plural)
            return render_text(
                f"I couldn't send your export file (Slack said: {slack_error(exc)}). "
                "Please try again later; nothing was lost."
            )
        return render_text(f"I sent your {count} {plural} as a JSON file to our direct messages.")


def _inline_export(document: str, count: int, plural: str) -> dict[str, Any]:
    # Ephemeral: still only visible to the person who asked.
    return {
        "text": f"I couldn't send a file, so here are your {count} {plural} as JSON:",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"I couldn't send a file, so here are your {count} {plural}:\n"
                    f"```{escape_text(document)}```",
                },
            }
        ],
    }


def _button_state(body: Mapping[str, Any]) -> ShowState | None:
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else None
    value = action.get("value") if isinstance(action, Mapping) else None
    if not isinstance(value, str):
        return None
    try:
        return decode_state(value)
    except ValueError:
        return None


async def _respond(respond: Respond, payload: Mapping[str, Any], *, replace: bool = False) -> None:
    """An ephemeral answer through the response_url; failures are logged, never raised."""
    try:
        response = await respond(
            text=payload["text"],
            blocks=payload.get("blocks"),
            response_type="ephemeral",
            replace_original=replace,
        )
    except Exception as exc:  # aiohttp and SDK errors alike: the person just sees nothing
        log.warning("respond() failed: %s", type(exc).__name__)
        return
    status = getattr(response, "status_code", getattr(response, "status", 200))
    if status != 200:
        log.warning("respond() answered HTTP %s (expired response_url?)", status)
