"""Who can read the place a Discord message was said in, as a pure rule: public only when every
member of the server can read it, anything unknown is private.

`places.PlaceLookup` gathers the `PlaceFacts` (from discord.py's cache or from Discord); this module
only decides. What is learned in a private place is recalled only in DMs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord

log = logging.getLogger(__name__)

# Server channels whose audience is decided by who may view them (VIEW_CHANNEL for @everyone).
_SERVER_CHANNELS = frozenset(
    {
        discord.ChannelType.text,
        discord.ChannelType.voice,
        discord.ChannelType.news,
        discord.ChannelType.stage_voice,
        discord.ChannelType.forum,
        discord.ChannelType.media,
        discord.ChannelType.category,
    }
)
# Threads anyone who sees the parent channel may read: they are as private as the parent.
_INHERITING_THREADS = frozenset({discord.ChannelType.public_thread, discord.ChannelType.news_thread})


@dataclass(frozen=True, slots=True)
class EveryoneAccess:
    """VIEW_CHANNEL for the @everyone role in one server channel (a thread's parent, for a thread).

    `overwrite`: the channel's @everyone overwrite allows (True), denies (False) or leaves it (None).
    `role`: the server-wide @everyone role has it (True/False), or the role is unknown (None).
    """

    overwrite: bool | None
    role: bool | None


@dataclass(frozen=True, slots=True)
class PlaceFacts:
    """Where a message was said, as far as the adapter could learn; None means it could not."""

    channel_type: discord.ChannelType | None
    access: EveryoneAccess | None = None


@dataclass(frozen=True, slots=True)
class Privacy:
    """`is_private`: what is learned here is recalled only in DMs. `is_direct`: only the person and
    Mnemo read it, so private memories may be recalled here. `reason` is for debug logs."""

    is_private: bool
    is_direct: bool
    reason: str


# Until the place is looked up (only for messages that get a reply, in their turn): private.
NOT_LOOKED_UP = Privacy(True, False, "not looked up yet")


def everyone_can_view(access: EveryoneAccess | None) -> bool | None:
    """Discord's rule for @everyone: a channel overwrite beats the role; None when unknowable."""
    if access is None:
        return None
    if access.overwrite is not None:
        return access.overwrite
    return access.role


def place_privacy(place: PlaceFacts) -> Privacy:
    """Public only when every member of the server can read the place; anything unknown is private.

    A memory marked public by mistake can surface in front of strangers; one marked private by
    mistake is only recalled less often. So every doubt resolves to private.
    """
    kind = place.channel_type
    if kind is None:
        return Privacy(True, False, "channel type unknown")
    if kind is discord.ChannelType.private:
        return Privacy(True, True, "direct message")
    if kind is discord.ChannelType.group:
        # Private to its members, but other people read it: never show private memories there.
        return Privacy(True, False, "group DM")
    if kind is discord.ChannelType.private_thread:
        return Privacy(True, False, "private thread")
    if kind in _INHERITING_THREADS or kind in _SERVER_CHANNELS:
        where = "parent channel" if kind in _INHERITING_THREADS else "channel"
        visible = everyone_can_view(place.access)
        if visible is None:
            return Privacy(True, False, f"could not learn who can view the {where}")
        if not visible:
            return Privacy(True, False, f"@everyone cannot view the {where}")
        return Privacy(False, False, f"@everyone can view the {where}")
    return Privacy(True, False, f"channel type {kind} not known to be public")


# Tells who can read a place (the client's look-up through discord.py's cache or REST).
PrivacyOf = Callable[[Any], Awaitable[Privacy]]


async def privacy_or_private(privacy_of: PrivacyOf, channel: Any) -> Privacy:
    """`privacy_of(channel)`, failing closed: a place whose readers cannot be learned is private."""
    try:
        return await privacy_of(channel)
    except (discord.HTTPException, OSError) as exc:
        log.warning("could not tell who can read a place (%s); treating it as private", type(exc).__name__)
        return Privacy(True, False, "look-up failed")
