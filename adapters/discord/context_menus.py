"""Message context menus (right-click a message -> Apps): "Remember this" and "Ask Mnemo about
this", answered only to the person who clicked (ephemeral). What they do is interaction_work's.

"Remember this" takes only the clicker's own messages: remembering someone else's words as a fact
about the clicker would file another person's words (and maybe their secrets) under the wrong
account. The memory keeps the privacy of the place the message was said in, decided the same way
as for a mention (`places` + `privacy`).

"Ask Mnemo about this" answers a question about the message from the clicker's memories, in a
conversation of its own (one per click), with the recall that place allows.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from adapters.discord import interaction_intake
from adapters.discord.interaction_work import Asker, InteractionWork, PrivacyLookup, Quoted
from adapters.discord.interactions import MemoryInteractions
from adapters.discord.privacy import Privacy, PrivacyOf, privacy_or_private
from core.assistant import Assistant

log = logging.getLogger(__name__)

REMEMBER = "Remember this"
ASK = "Ask Mnemo about this"
# Where the menus may be used: servers, DMs with the bot, group DMs; installed on a server or by a person.
CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)
INSTALLS = app_commands.AppInstallationType(guild=True, user=True)


class MessageMenus:
    """Without the intake, this process answers a click (interactions.answer_interaction); with it,
    the click is deferred and recorded with its place's privacy, and a worker answers it."""

    def __init__(
        self, *, assistant: Assistant, interactions: MemoryInteractions, privacy_of: PrivacyOf
    ) -> None:
        self._interactions = interactions
        self._privacy_of = privacy_of
        self._work = InteractionWork(assistant)

    def commands(self) -> list[app_commands.ContextMenu]:
        return [
            app_commands.ContextMenu(
                name=REMEMBER,
                callback=self.remember_this,
                allowed_contexts=CONTEXTS,
                allowed_installs=INSTALLS,
            ),
            app_commands.ContextMenu(
                name=ASK, callback=self.ask_about_this, allowed_contexts=CONTEXTS, allowed_installs=INSTALLS
            ),
        ]

    async def remember_this(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        intake = self._interactions.intake
        if intake is not None:
            await intake.menu(interaction, interaction_intake.REMEMBER, message)
            return
        work = self._work.remember(Asker.of(interaction), Quoted.of(message), self._lookup(message.channel))
        await self._interactions.answer_interaction(interaction, work)

    async def ask_about_this(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        intake = self._interactions.intake
        if intake is not None:
            await intake.menu(interaction, interaction_intake.ASK, message)
            return
        work = self._work.ask(Asker.of(interaction), Quoted.of(message), self._lookup(message.channel))
        await self._interactions.answer_interaction(interaction, work)

    def _lookup(self, channel: Any) -> PrivacyLookup:
        async def privacy() -> Privacy:
            return await privacy_or_private(self._privacy_of, channel)

        return privacy
