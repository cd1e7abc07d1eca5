"""What an interaction asks of the core, from plain facts rather than a live `discord.Interaction`:
`/memory` commands, forget-all's confirmation, "Remember this" and "Ask Mnemo about this".

Plain facts, so the same work runs where the interaction arrived (a client without the intake) and
in a worker that answers it later from the intake, where only what the front door recorded is left
(`Asker`, `Quoted`, as JSON).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import discord

from adapters.discord.commands import EphemeralAnswer, memory_command, render_result
from adapters.discord.privacy import Privacy
from adapters.discord.translate import WORKSPACE, command_conversation, identity_of
from core.access import ACCESS_NOTE
from core.assistant import Assistant
from core.commands import Command
from core.errors import BotError, UserFacingError
from core.models import IncomingMessage, MemoryOrigin, Platform, ReplyKind
from core.replies import COMMAND_FAILED_REPLY

log = logging.getLogger(__name__)

ERASED_SINCE = "You erased everything after you asked, so I didn't keep it."

PrivacyLookup = Callable[[], Awaitable[Privacy]]


@dataclass(frozen=True, slots=True)
class Asker:
    """Who used an interaction, and where: what the answer needs of the live interaction."""

    interaction_id: int
    user_id: int
    display_name: str
    guild_id: int | None
    role_ids: tuple[str, ...]  # the person's roles in that server (access lists may name roles)
    channel_id: int | None
    thread_parent_id: int | None
    filesize_limit: int

    @classmethod
    def of(cls, interaction: discord.Interaction[Any]) -> Asker:
        user, channel = interaction.user, interaction.channel
        roles = tuple(str(role.id) for role in user.roles) if isinstance(user, discord.Member) else ()
        return cls(
            interaction_id=interaction.id,
            user_id=user.id,
            display_name=user.display_name,
            guild_id=interaction.guild_id,
            role_ids=roles,
            channel_id=interaction.channel_id,
            thread_parent_id=channel.parent_id if isinstance(channel, discord.Thread) else None,
            filesize_limit=interaction.filesize_limit,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Asker:
        return cls(
            interaction_id=int(data["interaction_id"]),
            user_id=int(data["user_id"]),
            display_name=str(data["display_name"]),
            guild_id=_optional_int(data["guild_id"]),
            role_ids=tuple(str(role) for role in data["role_ids"]),
            channel_id=_optional_int(data["channel_id"]),
            thread_parent_id=_optional_int(data["thread_parent_id"]),
            filesize_limit=int(data["filesize_limit"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "role_ids": list(self.role_ids)}

    @property
    def access(self) -> dict[str, Any]:
        """Where and who, for the access lists (core.access): the server, and the roles there."""
        return {
            "server": str(self.guild_id) if self.guild_id is not None else "",
            "roles": frozenset(self.role_ids),
        }


@dataclass(frozen=True, slots=True)
class Quoted:
    """The message a context menu was used on."""

    message_id: int
    channel_id: int
    author_id: int
    author_name: str
    text: str

    @classmethod
    def of(cls, message: discord.Message) -> Quoted:
        return cls(
            message_id=message.id,
            channel_id=message.channel.id,
            author_id=message.author.id,
            author_name=message.author.display_name,
            text=message.clean_content.strip(),
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Quoted:
        return cls(
            message_id=int(data["message_id"]),
            channel_id=int(data["channel_id"]),
            author_id=int(data["author_id"]),
            author_name=str(data["author_name"]),
            text=str(data["text"]),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def parse_command(subcommand: str, options: Mapping[str, Any]) -> Command:
    """The core command for a `/memory` subcommand and its options (as recorded: JSON values).
    Raises UserFacingError for bad input."""

    def text(name: str) -> str | None:
        value = options.get(name)
        return None if value is None else str(value)

    return memory_command(
        subcommand,
        query=text("query"),
        page=_optional_int(options.get("page")),
        memory_id=text("memory_id"),
        code=text("code"),
        platform=text("platform"),
    )


class InteractionWork:
    def __init__(self, assistant: Assistant) -> None:
        self._assistant = assistant

    async def command(self, asker: Asker, subcommand: str, options: Mapping[str, Any]) -> EphemeralAnswer:
        """`/memory <subcommand>`: bad options are told, not run."""
        try:
            command = parse_command(subcommand, options)
            result = await self._assistant.run_command(
                identity_of(asker.user_id),
                command,
                display_name=asker.display_name,
                conversation=command_conversation(asker.channel_id, thread_parent_id=asker.thread_parent_id),
            )
        except UserFacingError as exc:
            return EphemeralAnswer(content=str(exc))
        except BotError:
            log.exception("/memory %s failed", subcommand[:40])
            return EphemeralAnswer(content=COMMAND_FAILED_REPLY)
        return render_result(result, user_id=asker.user_id, size_limit=asker.filesize_limit)

    async def forget_all(self, asker: Asker) -> str:
        """Forget-all, confirmed by the person who asked (the button press was checked)."""
        try:
            result = await self._assistant.run_command(
                identity_of(asker.user_id),
                memory_command("forget-all", confirmed=True),
                display_name=asker.display_name,
            )
        except BotError:
            log.exception("forget-all failed")
            return COMMAND_FAILED_REPLY
        return result.text

    async def remember(
        self,
        asker: Asker,
        quoted: Quoted,
        privacy_of_place: PrivacyLookup,
        *,
        received_at: datetime | None = None,
    ) -> EphemeralAnswer:
        """ "Remember this": only the person's own message, kept with its place's privacy."""
        if quoted.author_id != asker.user_id:
            return EphemeralAnswer(
                content="I only remember your own messages this way. Tell me about it yourself instead."
            )
        if not quoted.text:
            return EphemeralAnswer(content="That message has no text for me to remember.")
        probe = IncomingMessage(
            platform=Platform.DISCORD,
            workspace=WORKSPACE,
            user=str(asker.user_id),
            channel=str(quoted.channel_id),
            text=quoted.text,
            message_id=f"remember-{asker.interaction_id}",
            is_private=True,
            **asker.access,
        )
        if not self._assistant.may_answer(probe):  # outside the access lists: no memory write
            return EphemeralAnswer(content=ACCESS_NOTE)
        identity = identity_of(asker.user_id)
        privacy = await privacy_of_place()
        origin = MemoryOrigin(Platform.DISCORD, str(quoted.channel_id), privacy.is_private)
        try:
            if received_at is not None:
                # It waited in the intake while the person erased everything: part of what they erased.
                erased_at = (await self._assistant.account(identity)).erased_at
                if erased_at is not None and received_at < erased_at:
                    return EphemeralAnswer(content=ERASED_SINCE)
            queued = await self._assistant.remember_text(
                identity, quoted.text, origin, display_name=asker.display_name
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

    async def ask(
        self,
        asker: Asker,
        quoted: Quoted,
        privacy_of_place: PrivacyLookup,
        *,
        received_at: datetime | None = None,
        already_claimed: bool = False,
    ) -> EphemeralAnswer:
        """ "Ask Mnemo about this": answered from the person's memories, in a conversation of its
        own (one per click), with the recall that place allows."""
        if not quoted.text:
            return EphemeralAnswer(content="That message has no text for me to read.")
        privacy = await privacy_of_place()
        question = IncomingMessage(
            platform=Platform.DISCORD,
            workspace=WORKSPACE,
            user=str(asker.user_id),
            channel=str(quoted.channel_id),
            thread=f"ask-{asker.interaction_id}",  # a conversation of its own: nothing else is in it
            text=f"About this message from {quoted.author_name}:\n> {quoted.text}\n\nWhat do you know of it?",
            message_id=f"ask-{asker.interaction_id}",
            is_private=privacy.is_private,
            is_direct=privacy.is_direct,
            mentions_bot=True,
            user_name=asker.display_name,
            received_at=received_at,
            **asker.access,
        )
        try:
            reply = await self._assistant.handle(question, already_claimed=already_claimed)
        except BotError:
            log.exception("ask-about-this failed")
            return EphemeralAnswer(content=COMMAND_FAILED_REPLY)
        if reply is None:
            return EphemeralAnswer(content="I can't answer that right now; try again in a moment.")
        if reply.kind is not ReplyKind.ANSWER:
            return EphemeralAnswer(content=reply.text)
        return EphemeralAnswer(content=reply.text[:2000])


__all__ = ["ERASED_SINCE", "Asker", "InteractionWork", "PrivacyLookup", "Quoted", "parse_command"]
