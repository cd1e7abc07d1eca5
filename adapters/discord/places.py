"""Who can read the place a Discord message was said in: the facts, from discord.py or from Discord.

The decision is `privacy.place_privacy` (pure); this module gathers its `PlaceFacts`.
Channels, threads and roles that discord.py caches are read fresh for every message: discord.py
applies CHANNEL_UPDATE, THREAD_UPDATE and GUILD_ROLE_UPDATE to them itself, so a permission change
takes effect with the next message. Only channels discord.py does not know are asked of Discord
(GET /channels/{id}); those answers are kept here, bounded, until the gateway says the channel
changed (`watch`). discord.py drops updates for channels it does not cache, which is why the
gateway events are watched here rather than through its `on_guild_channel_update`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord

from adapters.discord.privacy import EveryoneAccess, PlaceFacts, Privacy, place_privacy

log = logging.getLogger(__name__)

# Gateway events after which a channel Mnemo looked up may have other permissions (or be gone).
CHANNEL_EVENTS = frozenset({"CHANNEL_UPDATE", "CHANNEL_DELETE", "THREAD_UPDATE", "THREAD_DELETE"})
# A new session may have missed updates: everything looked up before it is asked again.
SESSION_EVENTS = frozenset({"READY"})
WATCHED_EVENTS = CHANNEL_EVENTS | SESSION_EVENTS
_THREADS = frozenset(
    {discord.ChannelType.public_thread, discord.ChannelType.news_thread, discord.ChannelType.private_thread}
)


@dataclass(frozen=True, slots=True)
class LookedUp:
    """What GET /channels/{id} said about a channel discord.py does not cache."""

    channel_type: discord.ChannelType
    guild_id: int | None
    parent_id: int | None = None  # threads
    owner_id: int | None = None  # threads
    everyone_overwrite: bool | None = None  # server channels: the @everyone VIEW_CHANNEL overwrite


def everyone_overwrite(channel: discord.abc.GuildChannel) -> bool | None:
    """The channel's own @everyone overwrite for VIEW_CHANNEL (the role's id is the server's id)."""
    everyone = discord.Object(id=channel.guild.id, type=discord.Role)
    return channel.overwrites_for(everyone).view_channel


def _looked_up(channel: Any) -> LookedUp:
    guild = getattr(channel, "guild", None)
    guild_id = guild.id if guild is not None else None
    if isinstance(channel, discord.Thread):
        return LookedUp(channel.type, guild_id, channel.parent_id, channel.owner_id)
    if isinstance(channel, discord.abc.GuildChannel):
        return LookedUp(channel.type, guild_id, everyone_overwrite=everyone_overwrite(channel))
    return LookedUp(channel.type, None)


def _channel_id(data: Any) -> int | None:
    try:
        return int(data["id"]) if isinstance(data, Mapping) else None
    except (KeyError, TypeError, ValueError):
        return None


class PlaceLookup:
    """Gathers `PlaceFacts` for a message's channel; asks Discord only about channels discord.py
    does not cache, and remembers those answers (up to `max_size`) until the gateway changes them."""

    def __init__(self, client: discord.Client, *, max_size: int = 10_000) -> None:
        self._client = client
        self._max_size = max_size
        self._looked_up: OrderedDict[int, LookedUp | None] = OrderedDict()

    def watch(self, event: str, data: Any) -> None:
        """A gateway event arrived (before discord.py parses it): forget what it may have changed."""
        if event in SESSION_EVENTS:
            self._looked_up.clear()
        elif event in CHANNEL_EVENTS:
            channel_id = _channel_id(data)
            if channel_id is None:
                # Malformed: discord.py's parser rejects it too. Forget everything to be safe.
                self._looked_up.clear()
            else:
                self._looked_up.pop(channel_id, None)

    async def look_up(self, channel_id: int) -> LookedUp | None:
        """What Discord says about a channel (None: it could not be asked or would not say)."""
        if channel_id in self._looked_up:
            self._looked_up.move_to_end(channel_id)
            return self._looked_up[channel_id]
        found: LookedUp | None = None
        try:
            found = _looked_up(await self._client.fetch_channel(channel_id))
        except discord.NotFound:
            log.debug("channel %s is unknown to Discord", channel_id)
        except (discord.HTTPException, discord.InvalidData, aiohttp.ClientError, OSError) as exc:
            # Not remembered: the next message asks again.
            reason = getattr(exc, "status", type(exc).__name__)
            log.debug("could not look up channel %s (%s)", channel_id, reason)
            return None
        self._looked_up[channel_id] = found
        if len(self._looked_up) > self._max_size:
            self._looked_up.popitem(last=False)
        return found

    async def privacy_of(self, channel: Any) -> Privacy:
        """Who can read `message.channel` (private whenever that cannot be learned)."""
        privacy = place_privacy(await self.place_of(channel))
        if privacy.is_private:
            log.debug("channel %s counts as private: %s", channel.id, privacy.reason)
        return privacy

    async def place_of(self, channel: Any) -> PlaceFacts:
        """The facts about `message.channel` that decide its privacy."""
        if isinstance(channel, discord.Thread | discord.abc.GuildChannel | discord.GroupChannel):
            return await self._known(channel)
        # A DM (discord.py builds every guild-less message's channel as a DMChannel, group DMs too)
        # or a channel discord.py does not cache (PartialMessageable): find out what it really is.
        cached = self._client.get_channel(channel.id)
        if isinstance(cached, discord.DMChannel):
            return PlaceFacts(discord.ChannelType.private)
        if cached is not None and not isinstance(cached, discord.PartialMessageable):
            return await self._known(cached)
        found = await self.look_up(channel.id)
        if found is None:
            return PlaceFacts(None)
        if found.channel_type in _THREADS:
            return await self._thread(found.channel_type, found.parent_id)
        if found.guild_id is None:
            return PlaceFacts(found.channel_type)
        return PlaceFacts(found.channel_type, self._access(found.guild_id, found.everyone_overwrite))

    async def _known(self, channel: Any) -> PlaceFacts:
        """A channel object discord.py built from Discord's own description of it."""
        if isinstance(channel, discord.Thread):
            return await self._thread(channel.type, channel.parent_id)
        if isinstance(channel, discord.abc.GuildChannel):
            return PlaceFacts(channel.type, self._access(channel.guild.id, everyone_overwrite(channel)))
        if isinstance(channel, discord.GroupChannel):
            return PlaceFacts(discord.ChannelType.group)
        return PlaceFacts(None)

    async def _thread(self, kind: discord.ChannelType, parent_id: int | None) -> PlaceFacts:
        if kind is discord.ChannelType.private_thread:
            return PlaceFacts(kind)  # private whatever its parent
        parent = await self._parent_access(parent_id)
        return PlaceFacts(kind, parent)

    async def _parent_access(self, parent_id: int | None) -> EveryoneAccess | None:
        """Who may view a thread's parent channel: a thread is as private as its parent."""
        if parent_id is None:
            return None
        cached = self._client.get_channel(parent_id)
        if isinstance(cached, discord.abc.GuildChannel):
            return self._access(cached.guild.id, everyone_overwrite(cached))
        found = await self.look_up(parent_id)
        if found is None or found.guild_id is None or found.channel_type in _THREADS:
            return None
        return self._access(found.guild_id, found.everyone_overwrite)

    def _access(self, guild_id: int, overwrite: bool | None) -> EveryoneAccess:
        # Read from discord.py's guild every time, so a change of the @everyone role counts at once.
        guild = self._client.get_guild(guild_id)
        role = guild.get_role(guild_id) if guild is not None else None
        return EveryoneAccess(overwrite=overwrite, role=role.permissions.view_channel if role else None)
