"""Who may talk to Mnemo, and where: the allow- and block-lists, as one pure decision.

Fed by the IncomingMessage alone (platform, place, user id, and on Discord the server and the
author's role ids), so it costs nothing and runs before anything is claimed, stored or sent to the
model. The rules, per platform (Slack and Discord; the console and the HTTP API are not governed):

- A person passes when no user/role allow-list is set, or their id is allowed, or (Discord) one of
  their roles is. A blocked id or role refuses them whatever else is listed: block wins.
- A place passes when it is a DM and ALLOW_DMS is on, or it is a channel and no channel allow-list
  is set or it lists the channel (on Discord: the channel, its thread's parent, or the whole
  server's id). A blocked channel (or server) refuses it. Channel lists do not govern DMs.
- In a DM, Discord roles are unknown: with only DISCORD_ALLOWED_ROLES set, DMs are refused
  (nobody can be shown to hold the role there).

Outside the lists Mnemo stays silent in channels (`Verdict.SILENT`) and answers a short private
note in DMs (`Verdict.NOTE`). `/memory` commands do not come through here: they keep working for
everyone, so anyone can see and erase what Mnemo holds about them.
"""

from __future__ import annotations

import enum
from collections.abc import Set
from dataclasses import dataclass

from core.models import IncomingMessage, Platform

ACCESS_NOTE = (
    "Sorry, I'm not set up to chat with you here. Your /memory commands still work "
    "(see or erase what I remember about you)."
)


class Verdict(enum.Enum):
    ALLOWED = "allowed"
    SILENT = "silent"  # refused in a channel: say nothing
    NOTE = "note"  # refused in a DM: a short private note (ACCESS_NOTE)


@dataclass(frozen=True, slots=True)
class PlatformLists:
    """One platform's lists; None = not set (everyone), an empty set allows nobody."""

    allowed_channels: Set[str] | None = None
    allowed_users: Set[str] | None = None
    allowed_roles: Set[str] | None = None
    blocked_channels: Set[str] = frozenset()
    blocked_users: Set[str] = frozenset()
    blocked_roles: Set[str] = frozenset()

    @property
    def open_to_all(self) -> bool:
        return (
            self.allowed_channels is None
            and self.allowed_users is None
            and self.allowed_roles is None
            and not self.blocked_channels
            and not self.blocked_users
            and not self.blocked_roles
        )


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    slack: PlatformLists = PlatformLists()
    discord: PlatformLists = PlatformLists()
    allow_dms: bool = True

    @property
    def open_to_all(self) -> bool:
        return self.allow_dms and self.slack.open_to_all and self.discord.open_to_all

    def check(self, message: IncomingMessage) -> Verdict:
        if message.platform is Platform.SLACK:
            lists = self.slack
        elif message.platform is Platform.DISCORD:
            lists = self.discord
        else:
            return Verdict.ALLOWED
        in_dm = is_dm(message)
        if self._person_allowed(lists, message) and self._place_allowed(lists, message, in_dm=in_dm):
            return Verdict.ALLOWED
        return Verdict.NOTE if in_dm else Verdict.SILENT

    @staticmethod
    def _person_allowed(lists: PlatformLists, message: IncomingMessage) -> bool:
        if message.user in lists.blocked_users or message.roles & lists.blocked_roles:
            return False
        if lists.allowed_users is None and lists.allowed_roles is None:
            return True
        return message.user in (lists.allowed_users or ()) or bool(
            message.roles & (lists.allowed_roles or frozenset())
        )

    def _place_allowed(self, lists: PlatformLists, message: IncomingMessage, *, in_dm: bool) -> bool:
        if in_dm:
            return self.allow_dms
        places = {message.channel, message.server} - {""}
        if places & lists.blocked_channels:
            return False
        return lists.allowed_channels is None or bool(places & lists.allowed_channels)


def is_dm(message: IncomingMessage) -> bool:
    """A one-to-one conversation with Mnemo. (A Discord message outside any server is a DM; the
    adapter learns `is_direct` for Discord only later, when the message is answered.)"""
    return message.is_direct or (message.platform is Platform.DISCORD and not message.server)


__all__ = ["ACCESS_NOTE", "AccessPolicy", "PlatformLists", "Verdict", "is_dm"]
