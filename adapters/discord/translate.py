"""Discord <-> core, as pure functions: no I/O, no client state.

Inbound: a `discord.Message` becomes `MessageFacts` (what the adapter needs to know, nothing else),
and facts become an `IncomingMessage` or None (not addressed to Mnemo, or never to be answered).
Outbound: answers are split into Discord-sized messages (code blocks kept intact), command results
become ephemeral message arguments, and app-command registrations are compared for an idempotent sync.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import discord

from config import DiscordReplyMode
from core.commands import PAGE_SIZE, Command, CommandName, CommandResult
from core.errors import UserFacingError
from core.models import IdentityKey, IncomingMessage, MemoryItem, Platform

# Discord user ids are global, so a Discord identity needs no workspace.
WORKSPACE = ""
MESSAGE_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
THREAD_NAME_LIMIT = 100
NONCE_LIMIT = 25
FENCE = "```"
# A fence line longer than this is prose that happens to contain backticks, not an opening fence.
_MAX_FENCE_LINE = 40
# Message types a person writes; everything else (joins, pins, boosts, thread notices) is system.
_PERSON_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
_USER_MENTION = re.compile(r"<@!?(\d{15,21})>")
_MEMORY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
CONFIRM_PREFIX = "mnemo:forget-all"
CONFIRM_TEMPLATE = rf"{CONFIRM_PREFIX}:(?P<action>yes|no):(?P<user>\d{{1,21}}):(?P<expires>\d{{1,12}})"
CONFIRM_TTL_SECONDS = 10 * 60


# -- inbound ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What one MESSAGE_CREATE tells the adapter, independent of discord.py's object model."""

    message_id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    author_name: str
    author_is_bot: bool
    is_webhook: bool
    is_system: bool
    content: str
    mentioned_user_ids: frozenset[int]
    mention_names: Mapping[int, str] = field(default_factory=dict)
    replied_to_user_id: int | None = None
    mentioned_role_bot_ids: frozenset[int] = frozenset()
    thread_id: int | None = None
    thread_parent_id: int | None = None
    thread_owner_id: int | None = None
    can_open_thread: bool = False
    created_at: datetime | None = None

    @property
    def is_dm(self) -> bool:
        return self.guild_id is None

    @property
    def in_thread(self) -> bool:
        return self.thread_id is not None


def facts_from_message(message: discord.Message) -> MessageFacts:
    """Read the parts of a discord.py Message the adapter uses (never its raw content into logs)."""
    channel = message.channel
    thread_id = parent_id = owner_id = None
    if isinstance(channel, discord.Thread):
        thread_id, parent_id, owner_id = channel.id, channel.parent_id, channel.owner_id
    replied_to = None
    resolved = message.reference.resolved if message.reference is not None else None
    if isinstance(resolved, discord.Message):
        replied_to = resolved.author.id
    role_bots = frozenset(
        role.tags.bot_id for role in message.role_mentions if role.tags is not None and role.tags.bot_id
    )
    return MessageFacts(
        message_id=message.id,
        channel_id=message.channel.id,
        guild_id=message.guild.id if message.guild is not None else None,
        author_id=message.author.id,
        author_name=message.author.display_name,
        author_is_bot=message.author.bot,
        is_webhook=message.webhook_id is not None,
        is_system=message.type not in _PERSON_MESSAGE_TYPES,
        content=message.content,
        mentioned_user_ids=frozenset(user.id for user in message.mentions),
        mention_names={user.id: user.display_name for user in message.mentions},
        replied_to_user_id=replied_to,
        mentioned_role_bot_ids=role_bots,
        thread_id=thread_id,
        thread_parent_id=parent_id,
        thread_owner_id=owner_id,
        can_open_thread=isinstance(channel, discord.TextChannel),
        created_at=message.created_at,
    )


# -- inbound: who can read the place ----------------------------------------------------------------
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


# -- inbound: is it for Mnemo -----------------------------------------------------------------------
def ignore_reason(facts: MessageFacts, *, bot_user_id: int) -> str | None:
    """Why a message must never be answered (no loops, no bot-to-bot chatter), or None."""
    if facts.author_id == bot_user_id:
        return "own message"
    if facts.is_webhook:
        return "webhook"
    if facts.author_is_bot:
        return "bot"
    if facts.is_system:
        return "system message"
    return None


def addresses_bot(facts: MessageFacts, *, bot_user_id: int) -> bool:
    """A mention of Mnemo (user or its managed role), or a reply to one of its messages."""
    return (
        bot_user_id in facts.mentioned_user_ids
        or bot_user_id in facts.mentioned_role_bot_ids
        or facts.replied_to_user_id == bot_user_id
        or f"<@{bot_user_id}>" in facts.content
        or f"<@!{bot_user_id}>" in facts.content
    )


def opens_thread(facts: MessageFacts, *, reply_mode: DiscordReplyMode) -> bool:
    """In thread mode, a mention in a plain server channel gets its answer in a new thread."""
    return (
        reply_mode is DiscordReplyMode.THREAD
        and not facts.is_dm
        and not facts.in_thread
        and facts.can_open_thread
    )


def conversation_place(facts: MessageFacts, *, reply_mode: DiscordReplyMode) -> tuple[str, str]:
    """(channel, thread) of the session: the thread, the channel for plain replies, or the DM.

    A thread Mnemo opens from a message has that message's id on Discord, so the session key is
    known before the thread exists and a duplicate delivery maps to the same session.
    """
    if facts.in_thread:
        parent = facts.thread_parent_id or facts.channel_id
        return str(parent), str(facts.thread_id)
    if opens_thread(facts, reply_mode=reply_mode):
        return str(facts.channel_id), str(facts.message_id)
    return str(facts.channel_id), ""


def clean_text(content: str, *, bot_user_id: int, names: Mapping[int, str]) -> str:
    """Drop mentions of Mnemo; show other people as @name so the model reads names, not ids."""

    def replace(match: re.Match[str]) -> str:
        user_id = int(match.group(1))
        if user_id == bot_user_id:
            return ""
        name = names.get(user_id)
        return f"@{name}" if name else match.group(0)

    cleaned = _USER_MENTION.sub(replace, content)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip()


def is_for_mnemo(facts: MessageFacts, *, bot_user_id: int, follows_thread: bool) -> bool:
    """DMs are always for Mnemo; in a server it takes a mention (or a reply to Mnemo), except in a
    thread Mnemo is part of (`follows_thread`), where follow-ups need no mention."""
    if ignore_reason(facts, bot_user_id=bot_user_id) is not None:
        return False
    mentioned = addresses_bot(facts, bot_user_id=bot_user_id)
    return facts.is_dm or mentioned or (facts.in_thread and follows_thread)


def to_incoming(
    facts: MessageFacts,
    *,
    bot_user_id: int,
    reply_mode: DiscordReplyMode,
    follows_thread: bool,
    privacy: Privacy,
) -> IncomingMessage | None:
    """The message for the core, or None when it is not for Mnemo (see `is_for_mnemo`)."""
    if not is_for_mnemo(facts, bot_user_id=bot_user_id, follows_thread=follows_thread):
        return None
    mentioned = addresses_bot(facts, bot_user_id=bot_user_id)
    text = clean_text(facts.content, bot_user_id=bot_user_id, names=facts.mention_names)
    if not text:
        return None
    channel, thread = conversation_place(facts, reply_mode=reply_mode)
    return IncomingMessage(
        platform=Platform.DISCORD,
        workspace=WORKSPACE,
        user=str(facts.author_id),
        channel=channel,
        thread=thread,
        text=text,
        message_id=str(facts.message_id),
        is_private=privacy.is_private,
        is_direct=privacy.is_direct,
        mentions_bot=mentioned or facts.is_dm,
        user_name=facts.author_name,
        received_at=facts.created_at,
        raw={"message_id": facts.message_id, "channel_id": facts.channel_id, "guild_id": facts.guild_id},
    )


def identity_of(user_id: int) -> IdentityKey:
    return IdentityKey(Platform.DISCORD, WORKSPACE, str(user_id))


# -- outbound: messages ----------------------------------------------------------------------------
def _units(text: str) -> int:
    """Length as Discord counts it (UTF-16 code units): never less than len(text)."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, room: int) -> int:
    """The longest prefix length of `text` that fits in `room` units (at least 1)."""
    end = min(len(text), room)
    while end > 1 and _units(text[:end]) > room:
        end -= 1
    return max(end, 1)


def _cut(line: str, room: int) -> tuple[str, str]:
    """Split an over-long line at the last space that fits (a hard cut if there is none)."""
    end = _fit(line, room)
    space = line.rfind(" ", 0, end + 1)
    if space > end // 2:
        return line[:space], line[space + 1 :]
    return line[:end], line[end:]


def _fence_after(line: str, fence: str | None) -> str | None:
    """The code block open after `line`: its opening line, or None outside code."""
    if line.count(FENCE) % 2 == 0:
        return fence
    if fence is not None:
        return None
    opening = line.strip()
    # Reopen with the language tag ("```python"), never with code that shares the fence line.
    if opening.startswith(FENCE) and len(opening) <= _MAX_FENCE_LINE and " " not in opening:
        return opening
    return FENCE


def split_message(text: str, *, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Chunks of at most `limit` characters, split at line (else word) boundaries.

    A code block cut by a chunk boundary is closed at the end of the chunk and reopened (with its
    language) at the start of the next, so every chunk renders on its own.
    """
    if limit < 2 * _MAX_FENCE_LINE:
        raise ValueError("limit too small to keep code blocks intact")
    text = text.strip()
    if not text:
        return []
    if _units(text) <= limit:
        return [text]
    closing = "\n" + FENCE
    chunks: list[str] = []
    lines: list[str] = []
    length = 0
    fence: str | None = None
    only_reopened = False  # `lines` holds nothing but the reopened fence line

    def flush() -> None:
        nonlocal lines, length, only_reopened
        body = "\n".join(lines).strip("\n")
        if fence is not None:
            body += closing
        if body.strip() and body.strip() != (fence or "") + closing:
            chunks.append(body)
        lines = [fence] if fence is not None else []
        length = _units(fence) if fence is not None else 0
        only_reopened = True

    pending = text.split("\n")
    pending.reverse()
    while pending:
        line = pending.pop()
        after = _fence_after(line, fence)
        reserve = _units(closing) if after is not None else 0
        separator = 1 if lines else 0
        if length + separator + _units(line) + reserve <= limit:
            lines.append(line)
            length += separator + _units(line)
            fence = after
            only_reopened = False
            continue
        if lines and not only_reopened:
            flush()
            pending.append(line)
            continue
        # The line alone does not fit in an empty chunk: cut it (it stays code or prose as it was).
        room = limit - length - separator - (_units(closing) if fence is not None else 0)
        head, tail = _cut(line, room)
        lines.append(head)
        length += separator + _units(head)
        only_reopened = False
        flush()
        if tail:
            pending.append(tail)
    if lines and not only_reopened:
        flush()
    return chunks


def nonce_for(message_id: str | int, index: int) -> str:
    """Stable per (source message, chunk): with enforce_nonce Discord drops a second identical send."""
    nonce = f"{message_id}.{index}"
    return nonce[-NONCE_LIMIT:]


def thread_name(text: str, *, fallback: str) -> str:
    """A thread title from the question: first line, at most 100 characters."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = re.sub(r"\s+", " ", first)
    if not first:
        return fallback[:THREAD_NAME_LIMIT]
    if len(first) <= THREAD_NAME_LIMIT:
        return first
    return first[: THREAD_NAME_LIMIT - 1].rstrip() + "…"


# -- outbound: /memory -----------------------------------------------------------------------------
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
    names = {"pause": CommandName.PAUSE, "resume": CommandName.RESUME, "export": CommandName.EXPORT}
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
