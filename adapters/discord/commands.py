"""`/memory` as pure functions: a subcommand's options become a core Command, a CommandResult becomes
one ephemeral answer (text, an embed, a file or the forget-all confirmation), confirm buttons carry
their owner and expiry in their id, and app-command registrations are compared for an idempotent sync.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from adapters.discord.render import MESSAGE_LIMIT
from core.commands import PAGE_SIZE, Command, CommandName, CommandResult
from core.errors import UserFacingError
from core.models import MemoryItem

EMBED_DESCRIPTION_LIMIT = 4096
_MEMORY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
CONFIRM_PREFIX = "mnemo:forget-all"
CONFIRM_TEMPLATE = rf"{CONFIRM_PREFIX}:(?P<action>yes|no):(?P<user>\d{{1,21}}):(?P<expires>\d{{1,12}})"
CONFIRM_TTL_SECONDS = 10 * 60


def memory_command(
    subcommand: str,
    *,
    query: str | None = None,
    page: int | None = None,
    memory_id: str | None = None,
    code: str | None = None,
    platform: str | None = None,
    confirmed: bool = False,
) -> Command:
    """The core command for a `/memory` subcommand's options. Raises UserFacingError for bad input."""
    if subcommand == "show":
        if page is not None and page < 1:
            raise UserFacingError("page starts at 1.")
        words = " ".join((query or "").split())
        if len(words) > 200:
            raise UserFacingError("That search is too long (200 characters at most).")
        return Command(CommandName.SHOW, argument=words, page=(page or 1) - 1)
    if subcommand == "forget":
        value = (memory_id or "").strip().strip("`")
        if not value:
            raise UserFacingError("Give the id of the memory to forget (shown by /memory show).")
        if not _MEMORY_ID.fullmatch(value):
            raise UserFacingError(
                "That doesn't look like a memory id. "
                "Copy the id shown by /memory show (letters, digits, dashes)."
            )
        return Command(CommandName.FORGET, argument=value)
    if subcommand == "forget-all":
        return Command(CommandName.FORGET_ALL, confirmed=confirmed)
    if subcommand == "link":
        typed = "".join((code or "").split())
        if len(typed) > 40:
            raise UserFacingError(
                "That is not a link code. Get one with /memory link on your other platform."
            )
        return Command(CommandName.LINK, argument=typed)
    if subcommand == "links":
        return Command(CommandName.LINKS)
    if subcommand == "unlink":
        if not (platform or "").strip():
            raise UserFacingError("Say which platform to unlink (see /memory links).")
        return Command(CommandName.UNLINK, argument=(platform or "").strip().lower())
    names = {
        "pause": CommandName.PAUSE,
        "resume": CommandName.RESUME,
        "export": CommandName.EXPORT,
        "why": CommandName.WHY,
        "usage": CommandName.USAGE,
    }
    if subcommand in names:
        return Command(names[subcommand])
    raise UserFacingError(f"Unknown /memory command '{subcommand[:40]}'.")


@dataclass(frozen=True, slots=True)
class EphemeralAnswer:
    """Arguments of one ephemeral interaction answer; `file` is (filename, bytes)."""

    content: str = ""
    embed: discord.Embed | None = None
    file: tuple[str, bytes] | None = None
    confirm_for: int | None = None  # user id: attach the forget-all confirmation buttons

    def discord_file(self) -> discord.File | None:
        if self.file is None:
            return None
        name, data = self.file
        return discord.File(io.BytesIO(data), filename=name, description="Your memories (JSON)")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _item_line(item: MemoryItem) -> str:
    where = "private" if item.is_private else (item.platform or "public")
    date = (item.created_at or "")[:10]
    meta = ", ".join(part for part in (where, date) if part)
    return f"• {_clip(item.text, 300)}\n  `{item.id}` ({meta})"


def render_show(result: CommandResult) -> EphemeralAnswer:
    page = result.page
    if page is None or not page.items:
        return EphemeralAnswer(content=_clip(result.text, MESSAGE_LIMIT))
    first = page.offset + 1
    title = f"What I remember about you ({first}-{page.offset + len(page.items)} of {page.total})"
    if result.query:
        title = f"Memories matching '{_clip(result.query, 60)}' ({first}-{page.offset + len(page.items)})"
    lines = [_item_line(item) for item in page.items]
    description = "\n".join(lines)
    if page.has_more:
        next_page = page.offset // PAGE_SIZE + 2
        query = f" query:{result.query}" if result.query else ""
        description += f"\n\nMore: `/memory show{query} page:{next_page}`"
    description += "\nForget one with `/memory forget id:<id>`."
    embed = discord.Embed(title=_clip(title, 256), description=_clip(description, EMBED_DESCRIPTION_LIMIT))
    return EphemeralAnswer(embed=embed)


def render_result(
    result: CommandResult,
    *,
    user_id: int,
    size_limit: int,
    export_name: str = "mnemo-memories.json",
) -> EphemeralAnswer:
    """How a core command result is shown in Discord: text, an embed, a file or a confirmation."""
    if result.page is not None:
        return render_show(result)
    if result.needs_confirmation:
        return EphemeralAnswer(content=_clip(result.text, MESSAGE_LIMIT), confirm_for=user_id)
    if result.export_json is not None:
        data = result.export_json.encode("utf-8")
        if len(data) > size_limit:
            return EphemeralAnswer(
                content=(
                    f"Your export is {len(data) / 1_048_576:.1f} MB, more than Discord lets me attach here "
                    f"({size_limit / 1_048_576:.0f} MB). Use /memory show to page through it, "
                    "or ask the operator for a full export."
                )
            )
        return EphemeralAnswer(content=_clip(result.text, MESSAGE_LIMIT), file=(export_name, data))
    return EphemeralAnswer(content=_clip(result.text, MESSAGE_LIMIT))


def confirm_custom_id(action: str, *, user_id: int, expires_at: float) -> str:
    """A button id that carries its owner and expiry, so any process can check a press statelessly."""
    return f"{CONFIRM_PREFIX}:{action}:{user_id}:{int(expires_at)}"


@dataclass(frozen=True, slots=True)
class ConfirmPress:
    action: str  # "yes" or "no"
    owner_id: int
    expires_at: int


def parse_confirm(match: re.Match[str]) -> ConfirmPress:
    return ConfirmPress(match["action"], int(match["user"]), int(match["expires"]))


def confirm_problem(press: ConfirmPress, *, presser_id: int, now: float | None = None) -> str | None:
    """Why a confirmation press must not erase anything, or None when it may."""
    if press.owner_id != presser_id:
        return "Only the person who asked can confirm this."
    if press.action == "yes" and (time.time() if now is None else now) > press.expires_at:
        return (
            "This confirmation expired. Run /memory forget-all again if you still want to erase everything."
        )
    return None


# -- app-command sync ------------------------------------------------------------------------------
_EMPTY: tuple[Any, ...] = (None, False, [], {}, "")


def _same(local: Any, remote: Any) -> bool:
    if isinstance(local, Mapping):
        remote_map = remote if isinstance(remote, Mapping) else {}
        return all(_same(value, remote_map.get(key)) for key, value in local.items() if value is not None)
    if isinstance(local, list) and local and isinstance(local[0], Mapping):
        if not isinstance(remote, list) or len(remote) != len(local):
            return False
        return all(_same(a, b) for a, b in zip(local, remote, strict=True))
    if local in _EMPTY and remote in _EMPTY:
        return True
    if isinstance(local, int) and not isinstance(local, bool) and isinstance(remote, str):
        return str(local) == remote
    return bool(local == remote)


def commands_need_sync(local: Sequence[Mapping[str, Any]], remote: Sequence[Mapping[str, Any]]) -> bool:
    """True when Discord's registered commands differ from ours in anything we set.

    Fields Discord adds (ids, versions, localizations) are ignored; unset/false/empty are equal.
    """
    remote_by_key = {(c.get("name"), c.get("type", 1)): c for c in remote}
    if len(remote_by_key) != len(local):
        return True
    for command in local:
        other = remote_by_key.get((command.get("name"), command.get("type", 1)))
        if other is None or not _same(command, other):
            return True
    return False
