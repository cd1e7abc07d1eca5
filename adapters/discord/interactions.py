"""`/memory` on Discord: the app commands, their autocomplete, forget-all's confirm buttons, the
answer within Discord's 3 s (or a deferral, or a record for a worker with the intake), and the
idempotent registration of the commands.

What a command means and how its result looks are pure (`commands`); what lives here needs the
live interaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable
from typing import Any, Protocol, runtime_checkable

import discord
from discord import app_commands

from adapters.discord.commands import (
    CONFIRM_TEMPLATE,
    CONFIRM_TTL_SECONDS,
    ConfirmPress,
    EphemeralAnswer,
    commands_need_sync,
    confirm_custom_id,
    confirm_problem,
    parse_confirm,
)
from adapters.discord.interaction_intake import InteractionIntake
from adapters.discord.interaction_work import Asker, InteractionWork, parse_command
from adapters.discord.options import NO_MENTIONS
from adapters.discord.translate import identity_of
from core.assistant import Assistant
from core.commands import Command, CommandName
from core.errors import BotError, UserFacingError
from core.replies import COMMAND_FAILED_REPLY

log = logging.getLogger(__name__)


class MemoryInteractions:
    """Runs `/memory` for one client: each command through the core, answered only to the person
    who asked. `defer_after`: seconds before a slow answer is deferred (Discord allows 3). With an
    `intake`, commands are deferred and recorded, and a worker answers them (interaction_intake.py);
    without one, this process answers them itself."""

    def __init__(
        self,
        *,
        assistant: Assistant,
        defer_after: float,
        autocomplete_timeout: float,
        intake: InteractionIntake | None = None,
    ) -> None:
        self._assistant = assistant
        self._defer_after = defer_after
        self._autocomplete_timeout = autocomplete_timeout
        self._work = InteractionWork(assistant)
        self.intake = intake

    async def run_memory_command(
        self,
        interaction: discord.Interaction[Any],
        subcommand: str,
        *,
        query: str | None = None,
        page: int | None = None,
        memory_id: str | None = None,
        code: str | None = None,
        platform: str | None = None,
    ) -> None:
        options = {"query": query, "page": page, "memory_id": memory_id, "code": code, "platform": platform}
        try:
            parse_command(subcommand, options)
        except UserFacingError as exc:  # bad input: told at once, nothing to record
            await self._send(interaction, EphemeralAnswer(content=str(exc)), deferred=False)
            return
        if self.intake is not None:
            await self.intake.command(interaction, subcommand, options)
            return
        await self.answer_interaction(
            interaction, self._work.command(Asker.of(interaction), subcommand, options)
        )

    async def answer_interaction(
        self, interaction: discord.Interaction[Any], answer: Awaitable[EphemeralAnswer]
    ) -> None:
        """Answer here within Discord's 3 s: directly when the answer is quick, else defer and
        follow up (without the intake)."""
        task = asyncio.ensure_future(answer)
        done, _ = await asyncio.wait({task}, timeout=self._defer_after)
        deferred = not done
        if deferred:
            try:
                await interaction.response.defer(ephemeral=True, thinking=True)
            except discord.HTTPException as exc:
                log.warning("could not defer an interaction (%s %s); it expired", exc.status, exc.code)
                await task
                return
        await self._send(interaction, await task, deferred=deferred)

    @staticmethod
    async def _send(
        interaction: discord.Interaction[Any], answer: EphemeralAnswer, *, deferred: bool
    ) -> None:
        kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS, "ephemeral": True}
        if answer.content:
            kwargs["content"] = answer.content
        if answer.embed is not None:
            kwargs["embed"] = answer.embed
        file = answer.discord_file()
        if file is not None:
            kwargs["file"] = file
        if answer.confirm_for is not None:
            kwargs["view"] = confirm_view(answer.confirm_for)
        try:
            if deferred:
                await interaction.followup.send(**kwargs)
            else:
                await interaction.response.send_message(**kwargs)
        except discord.HTTPException as exc:
            log.warning("could not answer an interaction: %s %s", exc.status, exc.code)

    async def memory_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Autocomplete for /memory forget: the person's memories matching what they typed.

        Always answered here, in the gateway process, also with the intake: Discord wants the
        choices within 3 s and takes no deferral, and a lost autocomplete loses nothing (the next
        keystroke asks again)."""
        words = " ".join(current.split())[:200]
        try:
            result = await asyncio.wait_for(
                self._assistant.run_command(
                    identity_of(interaction.user.id),
                    Command(CommandName.SHOW, argument=words),
                    display_name=interaction.user.display_name,
                ),
                timeout=self._autocomplete_timeout,
            )
        except (TimeoutError, BotError):
            log.info("memory autocomplete gave up")
            return []
        items = result.page.items if result.page is not None else []
        return [
            app_commands.Choice(
                name=(item.text if len(item.text) <= 100 else item.text[:99] + "…"), value=item.id
            )
            for item in items
            if len(item.id) <= 100
        ][:25]

    async def confirm_forget_all(self, interaction: discord.Interaction[Any], press: ConfirmPress) -> None:
        problem = confirm_problem(press, presser_id=interaction.user.id)
        if press.action == "no":
            await interaction.response.edit_message(
                content="Cancelled. I kept everything.", view=None, allowed_mentions=NO_MENTIONS
            )
            return
        if problem is not None:
            await interaction.response.edit_message(content=problem, view=None, allowed_mentions=NO_MENTIONS)
            return
        if self.intake is not None:
            await self.intake.forget_all(interaction)  # deferred (type 6); a worker erases
            return
        # Erasing rewrites files (secure delete + vacuum): always longer than Discord's 3 s.
        await interaction.response.defer()
        text = await self._work.forget_all(Asker.of(interaction))
        try:
            await interaction.edit_original_response(content=text, view=None, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("could not show the forget-all result: %s %s", exc.status, exc.code)


@runtime_checkable
class RunsMemoryInteractions(Protocol):
    """A client that answers /memory (buttons reach it through `interaction.client`)."""

    memory_interactions: MemoryInteractions


class ConfirmButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CONFIRM_TEMPLATE):
    """Forget-all's confirm / cancel buttons. The id carries owner and expiry, so a press is checked
    without server-side state (any shard or process, also after a restart)."""

    def __init__(self, *, action: str, user_id: int, expires_at: float) -> None:
        yes = action == "yes"
        super().__init__(
            discord.ui.Button(
                label="Erase everything" if yes else "Cancel",
                style=discord.ButtonStyle.danger if yes else discord.ButtonStyle.secondary,
                custom_id=confirm_custom_id(action, user_id=user_id, expires_at=expires_at),
            )
        )
        self.press = ConfirmPress(action, user_id, int(expires_at))

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ConfirmButton:
        press = parse_confirm(match)
        return cls(action=press.action, user_id=press.owner_id, expires_at=press.expires_at)

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if self.press.owner_id != interaction.user.id:
            await interaction.response.send_message(
                "Only the person who asked can confirm this.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return False
        return True

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        if isinstance(client, RunsMemoryInteractions):
            await client.memory_interactions.confirm_forget_all(interaction, self.press)


def confirm_view(user_id: int, *, now: float | None = None) -> discord.ui.View:
    expires = (time.time() if now is None else now) + CONFIRM_TTL_SECONDS
    view = discord.ui.View(timeout=None)
    view.add_item(ConfirmButton(action="yes", user_id=user_id, expires_at=expires))
    view.add_item(ConfirmButton(action="no", user_id=user_id, expires_at=expires))
    return view


class MemoryGroup(app_commands.Group):
    """`/memory ...`: the platform-neutral core commands, answered only to the person who asked."""

    def __init__(self, interactions: MemoryInteractions) -> None:
        super().__init__(
            name="memory",
            description="What I remember about you",
            # Usable wherever the person is: servers, DMs with the bot, group DMs; installed on a
            # server or by a person for themselves (a user install).
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=True, private_channel=True
            ),
            allowed_installs=app_commands.AppInstallationType(guild=True, user=True),
        )
        self._interactions = interactions

    @app_commands.command(
        name="show", description="What I remember about you (newest first, or matching words)"
    )
    @app_commands.describe(query="Only memories about these words", page="Page number (10 per page)")
    async def show(
        self,
        interaction: discord.Interaction[Any],
        query: str | None = None,
        page: app_commands.Range[int, 1, 10_000] | None = None,
    ) -> None:
        await self._interactions.run_memory_command(interaction, "show", query=query, page=page)

    @app_commands.command(name="forget", description="Forget one thing (its id is shown by /memory show)")
    @app_commands.rename(memory_id="id")
    @app_commands.describe(memory_id="The memory's id from /memory show")
    async def forget(self, interaction: discord.Interaction[Any], memory_id: str) -> None:
        await self._interactions.run_memory_command(interaction, "forget", memory_id=memory_id)

    @forget.autocomplete("memory_id")
    async def forget_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._interactions.memory_choices(interaction, current)

    @app_commands.command(name="forget-all", description="Forget everything about you (asks to confirm)")
    async def forget_all(self, interaction: discord.Interaction[Any]) -> None:
        await self._interactions.run_memory_command(interaction, "forget-all")

    @app_commands.command(name="pause", description="Stop remembering new things (I still answer)")
    async def pause(self, interaction: discord.Interaction[Any]) -> None:
        await self._interactions.run_memory_command(interaction, "pause")

    @app_commands.command(name="resume", description="Start remembering again")
    async def resume(self, interaction: discord.Interaction[Any]) -> None:
        await self._interactions.run_memory_command(interaction, "resume")

    @app_commands.command(name="export", description="Your memories as a JSON file, sent only to you")
    async def export(self, interaction: discord.Interaction[Any]) -> None:
        await self._interactions.run_memory_command(interaction, "export")

    @app_commands.command(name="why", description="Which memories my last answer to you here was based on")
    async def why(self, interaction: discord.Interaction[Any]) -> None:
        await self._interactions.run_memory_command(interaction, "why")

    @app_commands.command(name="usage", description="The model tokens you used today, and your daily limit")
    async def usage(self, interaction: discord.Interaction[Any]) -> None:
        await self._interactions.run_memory_command(interaction, "usage")

    @app_commands.command(name="link", description="Share your memory with your other platforms")
    @app_commands.describe(code="A code Mnemo gave you elsewhere (leave empty to get a code for elsewhere)")
    async def link(self, interaction: discord.Interaction[Any], code: str | None = None) -> None:
        await self._interactions.run_memory_command(interaction, "link", code=code)

    @app_commands.command(name="links", description="Which platforms share your memory")
    async def links(self, interaction: discord.Interaction[Any]) -> None:
        await self._interactions.run_memory_command(interaction, "links")

    @app_commands.command(name="unlink", description="Detach a platform from your memory")
    @app_commands.describe(platform="The platform to detach")
    @app_commands.choices(
        platform=[
            app_commands.Choice(name="Slack", value="slack"),
            app_commands.Choice(name="Discord", value="discord"),
            app_commands.Choice(name="Web", value="web"),
            app_commands.Choice(name="Terminal", value="console"),
        ]
    )
    async def unlink(self, interaction: discord.Interaction[Any], platform: app_commands.Choice[str]) -> None:
        await self._interactions.run_memory_command(interaction, "unlink", platform=platform.value)


class MemoryCommandTree(app_commands.CommandTree[discord.Client]):
    """The client's app commands; a command that fails still gets an answer."""

    async def on_error(
        self, interaction: discord.Interaction[discord.Client], error: app_commands.AppCommandError
    ) -> None:
        log.error("app command failed: %s", type(error).__name__, exc_info=error)
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(
                    COMMAND_FAILED_REPLY, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
            else:
                await interaction.response.send_message(
                    COMMAND_FAILED_REPLY, ephemeral=True, allowed_mentions=NO_MENTIONS
                )

    async def sync_memory_commands(self, *, guild_id: int | None) -> bool:
        """Register /memory (in one guild, or globally). Idempotent: nothing is sent when Discord
        already has exactly these commands (global registrations are rate limited and take time to
        spread). True when it registered them."""
        client = self.client
        guild = discord.Object(id=guild_id) if guild_id else None
        where = f"guild {guild_id}" if guild else "globally"
        if guild is not None:
            self.copy_global_to(guild=guild)
        local = [command.to_dict(self) for command in self.get_commands(guild=guild)]
        app_id = client.application_id
        if app_id is None:
            log.error("cannot sync /memory commands: the application id is unknown")
            return False
        try:
            remote = (
                await client.http.get_guild_commands(app_id, guild.id)
                if guild is not None
                else await client.http.get_global_commands(app_id)
            )
            if not commands_need_sync(local, remote):
                log.info("/memory commands already registered %s", where)
                return False
            await self.sync(guild=guild)
        except discord.Forbidden:
            log.error(
                "cannot register /memory commands %s: invite the bot with the applications.commands scope",
                where,
            )
            return False
        except discord.HTTPException as exc:
            log.error("could not register /memory commands %s: %s %s", where, exc.status, exc.text[:200])
            return False
        log.info("registered /memory commands %s", where)
        return True
