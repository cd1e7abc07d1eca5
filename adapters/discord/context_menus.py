"""Message context menus (right-click a message -> Apps): "Remember this" and "Ask Mnemo about
this", answered only to the person who clicked (ephemeral).

"Remember this" takes only the clicker's own messages: remembering someone else's words as a fact
about the clicker would file another person's words (and maybe their secrets) under the wrong
account. The memory keeps the privacy of the place the message was said in, decided the same way
as for a mention (`places` + `privacy`).

"Ask Mnemo about this" answers a question about the message from the clicker's memories, in a
conversation of its own (one per click), with the recall that place allows.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from adapters.discord.commands import EphemeralAnswer
from adapters.discord.interactions import MemoryInteractions
from adapters.discord.privacy import Privacy
from adapters.discord.translate import WORKSPACE, identity_of
from core.access import ACCESS_NOTE
from core.assistant import Assistant
from core.errors import BotError
from core.models import IncomingMessage, MemoryOrigin, Platform, ReplyKind
from core.replies import COMMAND_FAILED_REPLY

log = logging.getLogger(__name__)

REMEMBER = "Remember this"
ASK = "Ask Mnemo about this"
# Where the menus may be used: servers, DMs with the bot, group DMs; installed on a server or by a person.
CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)
INSTALLS = app_commands.AppInstallationType(guild=True, user=True)

PrivacyOf = Callable[[Any], Awaitable[Privacy]]


def server_and_roles(interaction: discord.Interaction[Any]) -> dict[str, Any]:
    """Where and who, for the access lists (core.access): the server, and the member's roles there."""
    user = interaction.user
    roles = (
        frozenset(str(role.id) for role in user.roles) if isinstance(user, discord.Member) else frozenset()
    )
    return {"server": str(interaction.guild_id) if interaction.guild_id is not None else "", "roles": roles}


class MessageMenus:
    def __init__(
        self, *, assistant: Assistant, interactions: MemoryInteractions, privacy_of: PrivacyOf
    ) -> None:
        self._assistant = assistant
        self._interactions = interactions
        self._privacy_of = privacy_of

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
        await self._interactions.answer_interaction(interaction, self._remember(interaction, message))

    async def ask_about_this(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        await self._interactions.answer_interaction(interaction, self._ask(interaction, message))

    async def _place_privacy(self, channel: Any) -> Privacy:
        try:
            return await self._privacy_of(channel)
        except (discord.HTTPException, OSError) as exc:  # unknown place: treat it as private
            log.warning(
                "could not tell who can read a place (%s); treating it as private", type(exc).__name__
            )
            return Privacy(True, False, "look-up failed")

    async def _remember(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> EphemeralAnswer:
        user = interaction.user
        if message.author.id != user.id:
            return EphemeralAnswer(
                content="I only remember your own messages this way. Tell me about it yourself instead."
            )
        text = message.clean_content.strip()
        if not text:
            return EphemeralAnswer(content="That message has no text for me to remember.")
        probe = IncomingMessage(
            platform=Platform.DISCORD,
            workspace=WORKSPACE,
            user=str(user.id),
            channel=str(message.channel.id),
            text=text,
            message_id=f"remember-{interaction.id}",
            is_private=True,
            **server_and_roles(interaction),
        )
        if not self._assistant.may_answer(probe):  # outside the access lists: no memory write
            return EphemeralAnswer(content=ACCESS_NOTE)
        privacy = await self._place_privacy(message.channel)
        origin = MemoryOrigin(Platform.DISCORD, str(message.channel.id), privacy.is_private)
        try:
            queued = await self._assistant.remember_text(
                identity_of(user.id), text, origin, display_name=user.display_name
            )
        except BotError:
            log.exception("remember-this failed")
            return EphemeralAnswer(content=COMMAND_FAILED_REPLY)
        if not queued:
            return EphemeralAnswer(
                content="Your memory is paused, so I didn't keep it. /memory resume to resume."
            )
        where = "private: I'll only bring it up in private" if privacy.is_private else "from a public place"
        return EphemeralAnswer(content=f"I'll remember that ({where}). /memory show lists what I remember.")

    async def _ask(self, interaction: discord.Interaction[Any], message: discord.Message) -> EphemeralAnswer:
        user = interaction.user
        text = message.clean_content.strip()
        if not text:
            return EphemeralAnswer(content="That message has no text for me to read.")
        privacy = await self._place_privacy(message.channel)
        author = message.author.display_name
        question = IncomingMessage(
            platform=Platform.DISCORD,
            workspace=WORKSPACE,
            user=str(user.id),
            channel=str(message.channel.id),
            thread=f"ask-{interaction.id}",  # a conversation of its own: nothing else is in it
            text=f"About this message from {author}:\n> {text}\n\nWhat do you know of it?",
            message_id=f"ask-{interaction.id}",
            is_private=privacy.is_private,
            is_direct=privacy.is_direct,
            mentions_bot=True,
            user_name=user.display_name,
            **server_and_roles(interaction),
        )
        try:
            reply = await self._assistant.handle(question)
        except BotError:
            log.exception("ask-about-this failed")
            return EphemeralAnswer(content=COMMAND_FAILED_REPLY)
        if reply is None:
            return EphemeralAnswer(content="I can't answer that right now; try again in a moment.")
        if reply.kind is not ReplyKind.ANSWER:
            return EphemeralAnswer(content=reply.text)
        return EphemeralAnswer(content=reply.text[:2000])
