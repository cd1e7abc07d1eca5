"""A Discord message -> the core's IncomingMessage, as pure functions: no I/O, no client state.

A `discord.Message` becomes `MessageFacts` (what the adapter needs to know, nothing else), and facts
become an `IncomingMessage` or None (not addressed to Mnemo, or never to be answered). Whether a
thread without a mention is one Mnemo takes part in is left to the core (`only_if_following`),
which decides in the conversation's turn; who can read the place is `privacy`'s rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import discord

from adapters.discord.privacy import Privacy
from config import DiscordReplyMode
from core.models import ConversationKey, IdentityKey, IncomingMessage, Platform

# Discord user ids are global, so a Discord identity needs no workspace.
WORKSPACE = ""
# Message types a person writes; everything else (joins, pins, boosts, thread notices) is system.
_PERSON_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
_USER_MENTION = re.compile(r"<@!?(\d{15,21})>")


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
    # The author's role ids in the server (empty in DMs): access lists may name roles (core.access).
    author_role_ids: frozenset[int] = frozenset()

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
    author = message.author
    # A Member (in a server) knows its roles from discord.py's guild cache; a User (DM) has none.
    role_ids = (
        frozenset(role.id for role in author.roles) if isinstance(author, discord.Member) else frozenset()
    )
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
        author_role_ids=role_ids,
    )


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

    def as_name(match: re.Match[str]) -> str:
        user_id = int(match.group(1))
        if user_id == bot_user_id:
            return ""
        name = names.get(user_id)
        return f"@{name}" if name else match.group(0)

    cleaned = _USER_MENTION.sub(as_name, content)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip()


def is_for_mnemo(facts: MessageFacts, *, bot_user_id: int, follows_thread: bool | None) -> bool:
    """DMs are always for Mnemo; in a server it takes a mention (or a reply to Mnemo), except in a
    thread Mnemo is part of, where follow-ups need no mention. `follows_thread` None: only the core
    can tell whether Mnemo takes part in the thread, so the message may be for Mnemo."""
    if ignore_reason(facts, bot_user_id=bot_user_id) is not None:
        return False
    mentioned = addresses_bot(facts, bot_user_id=bot_user_id)
    return facts.is_dm or mentioned or (facts.in_thread and follows_thread is not False)


def to_incoming(
    facts: MessageFacts,
    *,
    bot_user_id: int,
    reply_mode: DiscordReplyMode,
    privacy: Privacy,
    follows_thread: bool | None = None,
) -> IncomingMessage | None:
    """The message for the core, or None when it is not for Mnemo (see `is_for_mnemo`).

    `follows_thread` None (what the client passes): a thread Mnemo opened is followed; in any other
    thread, a message without a mention goes to the core with `only_if_following`, and the core
    answers it only if Mnemo has taken part there. The core decides in the conversation's turn, so
    a follow-up that arrives while the first answer is being written is answered.
    """
    if follows_thread is None and facts.thread_owner_id is not None and facts.thread_owner_id == bot_user_id:
        follows_thread = True
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
        only_if_following=facts.in_thread and not mentioned and follows_thread is None,
        user_name=facts.author_name,
        received_at=facts.created_at,
        raw={"message_id": facts.message_id, "channel_id": facts.channel_id, "guild_id": facts.guild_id},
        server=str(facts.guild_id) if facts.guild_id is not None else "",
        roles=frozenset(str(role_id) for role_id in facts.author_role_ids),
    )


def identity_of(user_id: int) -> IdentityKey:
    return IdentityKey(Platform.DISCORD, WORKSPACE, str(user_id))


def command_conversation(channel_id: int | None, *, thread_parent_id: int | None) -> ConversationKey | None:
    """Where an application command was used, as the channel-level conversation its answers are
    stored under (a thread's answers live under its parent channel); None when Discord did not say."""
    channel = thread_parent_id or channel_id
    if channel is None:
        return None
    return ConversationKey(Platform.DISCORD, WORKSPACE, str(channel), "")
