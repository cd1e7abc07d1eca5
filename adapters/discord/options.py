"""What Mnemo asks of Discord (intents, permissions, no pings) and how its client is paced."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import discord

from config import DiscordReplyMode, Settings

# discord.py's default pings everyone, roles and users; nothing Mnemo posts may ping anyone.
NO_MENTIONS = discord.AllowedMentions.none()

# What Mnemo does in channels: read them, answer (also in threads), quote the question it answers
# (a reply needs Read Message History) and open a thread in DISCORD_REPLY_MODE=thread. Interaction
# answers (/memory, the export file) need no channel permission.
REQUIRED_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    read_message_history=True,
)


@dataclass(frozen=True, slots=True)
class DiscordOptions:
    reply_mode: DiscordReplyMode = DiscordReplyMode.REPLY
    guild_id: int | None = None
    shard_count: int | None = None
    shard_ids: list[int] | None = None
    bot_name: str = "Mnemo"
    # Discord allows about 5 edits per 5 s per channel; one per second leaves room for other sends.
    edit_interval: float = 1.0
    # Interactions must be answered within 3 s of Discord sending them; defer well before that.
    defer_after: float = 1.5
    typing_interval: float = 8.0
    typing_delay: float = 0.3
    # discord.py waits this long after the last GUILD_CREATE before it calls the client ready.
    guild_ready_timeout: float = 2.0
    autocomplete_timeout: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> DiscordOptions:
        base = cls(
            reply_mode=settings.discord_reply_mode,
            guild_id=settings.discord_guild_id,
            shard_count=settings.discord_shard_count,
            shard_ids=settings.discord_shard_ids,
            bot_name=settings.bot_name,
        )
        return replace(base, **overrides)


def invite_url(application_id: int) -> str:
    """The OAuth2 link that adds Mnemo to a server with exactly the permissions it uses."""
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope=bot+applications.commands&permissions={REQUIRED_PERMISSIONS.value}"
    )


def user_install_url(application_id: int) -> str:
    """The OAuth2 link with which a person installs Mnemo for themselves (its commands and menus
    wherever they are, also in servers Mnemo is not in)."""
    return f"https://discord.com/oauth2/authorize?client_id={application_id}&integration_type=1&scope=applications.commands"


def required_intents() -> discord.Intents:
    """Servers, server messages, DMs and message content (privileged: enable it in the portal)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True
    return intents
