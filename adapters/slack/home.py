"""The App Home tab: the viewer's own memories (newest first, paged, where and when each was
learned, a Delete button), pause/resume, export, linked accounts and forget everything.

Published with views.publish to the viewer only, for the viewer's account only. Republished after
every change the person makes anywhere: the core tells this class (Assistant.on_change) of every
change an identity makes (a /memory command on any platform, linking) and of every memory write
that added memories (a conversation, "Remember this"), and each Slack identity of that account
gets its tab refreshed, at the page it was looking at.

Clicks on the tab's buttons are recorded by the front door and answered by a worker (`clicked`,
through adapters/slack/interactions.py). app_home_opened is answered here, in the process that
received it: publishing the viewer's own tab is idempotent and holds no one's words, so an opening
lost with a process costs nothing (the next opening publishes it). Each process has one SlackHome
(it refreshes the tabs of the changes made in that process), and remembers the page each viewer
last looked at in that process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.tasks import TaskTracker
from adapters.slack.commands import SlackCommands
from adapters.slack.home_view import (
    HOME_DELETE,
    HOME_EXPORT,
    HOME_FORGET_ALL,
    HOME_NEWER,
    HOME_OLDER,
    HOME_PAGE_SIZE,
    HOME_PAUSE,
    HOME_RESUME,
    HomeData,
    HomeState,
    decode_home,
    home_error_view,
    home_view,
)
from adapters.slack.translate import action_identity, workspace_of
from adapters.slack.web_api import slack_error
from core.assistant import Assistant, DataChange
from core.cache import TTLCache
from core.commands import Command, CommandName
from core.errors import BotError, NotFoundError, UserFacingError
from core.locks import KeyedLocks
from core.models import IdentityKey, Platform
from core.redaction import short_hash
from core.replies import COMMAND_FAILED_REPLY

log = logging.getLogger(__name__)

_SIMPLE = {
    HOME_PAUSE: CommandName.PAUSE,
    HOME_RESUME: CommandName.RESUME,
}


class SlackHome:
    def __init__(
        self,
        *,
        assistant: Assistant,
        client: AsyncWebClient,
        tracker: TaskTracker,
        commands: SlackCommands,
        workspace: str,
    ) -> None:
        self._assistant = assistant
        self._client = client
        self._tracker = tracker
        self._commands = commands
        self._workspace = workspace  # the workspace (or Grid org) this bot token publishes to
        # The page each viewer looks at, so a refresh after a change keeps it (bounded, expiring).
        self._pages: TTLCache[IdentityKey, int] = TTLCache(max_size=10_000, ttl=24 * 3600)
        self._publishing = KeyedLocks()  # one publish at a time per viewer: the last one wins
        assistant.on_change(self.changed)

    def register(self, app: AsyncApp) -> None:
        app.event("app_home_opened")(self.on_home_opened)

    # -- listeners -------------------------------------------------------------------------------
    async def on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab") != "home" or not isinstance(event.get("user"), str):
            return  # the Messages tab, or no one to show
        viewer = IdentityKey(Platform.SLACK, workspace_of(body), str(event["user"]))
        self._tracker.spawn(self.publish(viewer), name="home-opened")

    def changed(self, change: DataChange) -> None:
        """Core hook: someone's data changed somewhere; refresh their account's Slack tabs."""
        self._tracker.spawn(self._refresh(change), name="home-refresh")

    # -- the work ----------------------------------------------------------------------------------
    async def clicked(self, body: Mapping[str, Any]) -> None:
        viewer = action_identity(body)
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions else {}
        action_id = action.get("action_id") if isinstance(action, Mapping) else None
        value = action.get("value") if isinstance(action, Mapping) else None
        if not viewer.user or not viewer.workspace:
            log.warning("ignored a Home click without a person")
            return
        try:
            state = decode_home(value) if isinstance(value, str) and value.startswith("{") else HomeState()
        except ValueError:
            await self.publish(viewer, notice="That button no longer works; here is your Home, refreshed.")
            return
        if action_id in (HOME_NEWER, HOME_OLDER):
            await self.publish(viewer, page=state.page)
        elif action_id == HOME_DELETE:
            await self._run(viewer, Command(CommandName.FORGET, argument=state.memory_id), page=state.page)
        elif action_id in _SIMPLE:
            await self._run(viewer, Command(_SIMPLE[action_id]))
        elif action_id == HOME_FORGET_ALL:  # the button's confirmation dialog was accepted
            await self._run(viewer, Command(CommandName.FORGET_ALL, confirmed=True), page=0)
        elif action_id == HOME_EXPORT:
            await self._export(viewer)

    async def _run(self, viewer: IdentityKey, command: Command, *, page: int | None = None) -> None:
        """Run a /memory command for the viewer. Success republishes through the core's change
        hook (`changed`); a refusal or failure republishes here, with a notice."""
        if page is not None:
            self._pages.put(viewer, page)
        try:
            await self._assistant.run_command(viewer, command)
        except NotFoundError:
            await self.publish(viewer, notice="That memory was already gone.")
        except UserFacingError as exc:
            await self.publish(viewer, notice=str(exc))
        except BotError as exc:
            log.warning("home %s failed: %s", command.name.value, type(exc).__name__)
            await self.publish(viewer, notice=COMMAND_FAILED_REPLY)

    async def _export(self, viewer: IdentityKey) -> None:
        try:
            result = await self._assistant.run_command(viewer, Command(CommandName.EXPORT))
        except BotError as exc:
            log.warning("home export failed: %s", type(exc).__name__)
            await self.publish(viewer, notice=COMMAND_FAILED_REPLY)
            return
        notice = COMMAND_FAILED_REPLY
        if result.export_json is not None:
            sent = await self._commands.send_export(viewer, result.export_json, len(result.items))
            notice = str(sent.get("text") or notice)
        await self.publish(viewer, notice=notice)

    async def _refresh(self, change: DataChange) -> None:
        """A change the person made: publish to each of their Slack identities here. Memories
        learned from a conversation: only to those who looked at their tab in the last day (not
        a views.publish per message for people who never open it)."""
        try:
            identities = await self._assistant.identities_changed(change)
        except BotError as exc:
            log.warning("home refresh: could not list linked accounts: %s", type(exc).__name__)
            return
        for identity in identities:
            if identity.platform is not Platform.SLACK or identity.workspace != self._workspace:
                continue
            if change.learned and not self._pages.get(identity)[0]:
                continue
            await self.publish(identity)

    async def publish(self, viewer: IdentityKey, *, page: int | None = None, notice: str = "") -> None:
        """Show the viewer their Home tab (page: the one they asked for, else the one they were
        looking at). Failures are logged; the tab then shows what it showed before."""
        async with self._publishing.hold(f"{viewer.workspace}:{viewer.user}"):
            if page is None:
                found, remembered = self._pages.get(viewer)
                page = remembered if found and remembered is not None else 0
            try:
                view = home_view(await self._read(viewer, page, notice))
            except BotError as exc:
                log.warning("home: could not read user=%s: %s", short_hash(viewer.user), type(exc).__name__)
                view = home_error_view("I can't show your memories right now. Please try again in a minute.")
            self._pages.put(viewer, page)
            try:
                await self._client.views_publish(user_id=viewer.user, view=view)
            except SlackClientError as exc:
                log.warning("views.publish failed user=%s: %s", short_hash(viewer.user), slack_error(exc))

    async def _read(self, viewer: IdentityKey, page: int, notice: str) -> HomeData:
        settings, memories = await self._assistant.memory_page(
            viewer, offset=page * HOME_PAGE_SIZE, limit=HOME_PAGE_SIZE
        )
        linked = await self._assistant.linked_identities(viewer)
        usage = await self._assistant.usage_line(viewer)
        return HomeData(settings, memories, page, linked, notice, usage)
