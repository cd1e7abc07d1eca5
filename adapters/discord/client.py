"""The discord.py client: gateway messages in, answers out; the lifecycle of one connection.

Thin on purpose: what a message means is `translate` (pure), who can read a place is `places` +
`privacy`, posting the answer is `replies`, `/memory` is `interactions`, and what Mnemo changes in
discord.py itself is `sdk`. Answers come from the core, which keeps each conversation in order.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial
from typing import Any

import discord

from adapters.common.reply_writer import DeliveryFailed, ReplyWriter
from adapters.common.tasks import TaskTracker
from adapters.discord.context_menus import MessageMenus
from adapters.discord.interaction_intake import InteractionIntake
from adapters.discord.interactions import ConfirmButton, MemoryCommandTree, MemoryGroup, MemoryInteractions
from adapters.discord.options import (
    NO_MENTIONS,
    DiscordOptions,
    invite_url,
    required_intents,
    user_install_url,
)
from adapters.discord.places import WATCHED_EVENTS, PlaceLookup
from adapters.discord.privacy import NOT_LOOKED_UP
from adapters.discord.render import thread_name
from adapters.discord.replies import DiscordReplyTarget, TypingIndicator, discord_reply_writer
from adapters.discord.responders import message_delivery
from adapters.discord.sdk import GatewayGuard
from adapters.discord.translate import (
    MessageFacts,
    facts_from_message,
    ignore_reason,
    opens_thread,
    to_incoming,
)
from config import DiscordReplyMode
from core.admission import SwampedError
from core.assistant import Assistant
from core.errors import StorageError
from core.models import IncomingMessage, ReplyKind
from core.replies import SWAMPED_REPLY

log = logging.getLogger(__name__)


class MnemoDiscordClient(discord.AutoShardedClient):
    """Mnemo on Discord. Sharded by setting: DISCORD_SHARD_COUNT/IDS, else Discord's recommendation."""

    def __init__(self, *, assistant: Assistant, options: DiscordOptions, intake: bool = False) -> None:
        # Mnemo has no voice features; without this discord.py warns about missing voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        sharding: dict[str, Any] = {"shard_count": options.shard_count}
        if options.shard_ids:
            sharding["shard_ids"] = options.shard_ids
        super().__init__(
            intents=required_intents(),
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=options.guild_ready_timeout,
            chunk_guilds_at_startup=False,
            # Waits longer than this fail the one send (logged) instead of stalling a conversation.
            max_ratelimit_timeout=30.0,
            **sharding,
        )
        self.assistant = assistant
        self.options = options
        # With the intake, messages are recorded and a worker answers them through REST
        # (adapters/discord/responders.py); without it, this client answers them itself.
        self.intake = intake
        self._places = PlaceLookup(self)
        self._invite_logged = False
        # Messages discord.py handed over whose handling has not finished (shutdown and tests wait).
        self._messages = TaskTracker("discord")
        # With the intake, interactions too are deferred here, recorded, and answered by a worker
        # through their webhook (adapters/discord/interaction_intake.py); autocomplete stays here.
        interaction_intake = (
            InteractionIntake(assistant=assistant, privacy_of=self._places.privacy_of, tracker=self._messages)
            if intake
            else None
        )
        self.memory_interactions = MemoryInteractions(
            assistant=assistant,
            defer_after=options.defer_after,
            autocomplete_timeout=options.autocomplete_timeout,
            intake=interaction_intake,
        )
        self.tree = MemoryCommandTree(self)
        self.tree.add_command(MemoryGroup(self.memory_interactions))
        menus = MessageMenus(
            assistant=assistant, interactions=self.memory_interactions, privacy_of=self._places.privacy_of
        )
        for menu in menus.commands():
            self.tree.add_command(menu)
        self._gateway_guard = GatewayGuard()
        self._gateway_guard.install(self, watched_events=WATCHED_EVENTS, watch=self._places.watch)

    @property
    def skipped_payloads(self) -> int:
        """Malformed gateway payloads skipped instead of ending the connection."""
        return self._gateway_guard.skipped_payloads

    # -- lifecycle -----------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        self.add_dynamic_items(ConfirmButton)
        if self.shard_count is None:
            # Ask Discord for the recommended count here (not in launch_shards), so the gateway URL
            # stays ours: launch_shards would otherwise connect to the URL /gateway/bot returns.
            self.shard_count, _, _ = await self.http.get_bot_gateway()
        await self.tree.sync_memory_commands(guild_id=self.options.guild_id)

    async def on_ready(self) -> None:
        if self.application_id is not None and not self._invite_logged:
            self._invite_logged = True
            log.info("invite Mnemo to a server: %s", invite_url(self.application_id))
            log.info("or install it for yourself: %s", user_install_url(self.application_id))
        log.info(
            "connected to Discord as bot %s in %d servers",
            self.user.id if self.user else "?",
            len(self.guilds),
        )

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        # Never the payload itself: it holds people's messages.
        log.exception("error in Discord event handler %s; skipped", event_method)

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        # A message is tracked here, where discord.py hands it over (inside its gateway read loop),
        # so it is "in hand" from the moment the gateway delivered it, not from when a handler
        # task first runs. The client has no on_message: discord.py still resolves wait_for().
        if event == "message":
            [message] = args
            self._messages.spawn(self._handle_message(message), name="message")
        super().dispatch(event, *args, **kwargs)

    async def wait_messages_handled(self, timeout: float | None = None, *, except_for: int = 0) -> bool:
        """Until every message received so far is handled (ignored, or its answer posted), but for
        at most `except_for` still in hand. Shutdown waits here so answers already computed are
        delivered before the connection closes; tests wait here before asserting that nothing (more)
        was sent. False if still busy at `timeout`."""
        return await self._messages.wait_idle(timeout, except_for=except_for)

    # -- messages ------------------------------------------------------------------------------
    async def _handle_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None:
            return
        facts = facts_from_message(message)
        reason = ignore_reason(facts, bot_user_id=me.id)
        if reason is not None:
            log.debug("ignored a message (%s)", reason)
            return
        if not facts.is_dm and isinstance(message.channel, discord.PartialMessageable):
            facts = await self._with_thread(facts)
        incoming = to_incoming(
            facts, bot_user_id=me.id, reply_mode=self.options.reply_mode, privacy=NOT_LOOKED_UP
        )
        if incoming is None:
            return
        if self.intake:
            await self._accept(message, facts, incoming)
        else:
            await self._answer(message, facts, incoming)

    async def _accept(self, message: discord.Message, facts: MessageFacts, incoming: IncomingMessage) -> None:
        """Record the message for a worker, with who can read the place (learned here, where
        discord.py's cache is): the worker has no gateway and no cache."""
        privacy = await self._places.privacy_of(message.channel)
        incoming = replace(incoming, is_private=privacy.is_private, is_direct=privacy.is_direct)
        open_thread = opens_thread(facts, reply_mode=self.options.reply_mode)
        delivery = message_delivery(
            incoming,
            source_id=message.id,
            channel_id=message.channel.id,
            guild_id=facts.guild_id,
            open_thread=open_thread,
            quote=not facts.is_dm and not open_thread and self.options.reply_mode is DiscordReplyMode.REPLY,
            thread_title=thread_name(incoming.text, fallback=f"{self.options.bot_name} answers"),
            received_at=incoming.received_at or self.assistant.clock(),
        )
        try:
            await self.assistant.accept(delivery)
        except StorageError:
            # The gateway does not redeliver: say so rather than stay silent.
            log.error("could not record a Discord message; telling the person to ask again")
            await message.channel.send(SWAMPED_REPLY, allowed_mentions=NO_MENTIONS)

    async def _with_thread(self, facts: MessageFacts) -> MessageFacts:
        """discord.py did not know this channel (not in its cache): ask Discord if it is a thread.
        Needed before the core sees the message: a thread is its own conversation."""
        found = await self._places.look_up(facts.channel_id)
        if found is None or found.parent_id is None:
            return facts
        return replace(
            facts,
            thread_id=facts.channel_id,
            thread_parent_id=found.parent_id,
            thread_owner_id=found.owner_id,
        )

    async def _answer(self, message: discord.Message, facts: MessageFacts, incoming: IncomingMessage) -> None:
        open_thread = opens_thread(facts, reply_mode=self.options.reply_mode)
        typing = TypingIndicator(
            message.channel, interval=self.options.typing_interval, delay=self.options.typing_delay
        )
        target = DiscordReplyTarget(
            message,
            open_thread=open_thread,
            # Plain server replies quote the question; DMs and Mnemo's own threads need no quote.
            quote=not facts.is_dm and not open_thread and self.options.reply_mode is DiscordReplyMode.REPLY,
            thread_title=thread_name(incoming.text, fallback=f"{self.options.bot_name} answers"),
        )
        try:
            # Leaving the block without finish() (a duplicate, an error) stops the streamed updates.
            async with discord_reply_writer(
                target, interval=self.options.edit_interval, on_first_post=typing.stop
            ) as writer:
                try:
                    reply = await self.assistant.handle(
                        incoming,
                        on_delta=writer.on_delta,
                        complete=partial(self._start_answer, source=message, typing=typing),
                    )
                except SwampedError:
                    await self._say_swamped(incoming, writer)
                    return
                if reply is None:
                    return  # a duplicate delivery: another delivery of it is (or was) answered
                text = reply.text
                if reply.kind is ReplyKind.APOLOGY and writer.posted:
                    # The model failed mid-stream: keep what people already read, then say so.
                    text = f"{writer.streamed_text}\n\n{reply.text}"
                await _show(writer, text)
        finally:
            await typing.stop()

    async def _start_answer(
        self, incoming: IncomingMessage, *, source: discord.Message, typing: TypingIndicator
    ) -> IncomingMessage:
        """The core took the message for an answer (claimed, in its conversation's turn): show
        typing, and learn who can read the place (a REST look-up for channels discord.py does not
        cache), spent only on messages that get a reply."""
        typing.start()
        privacy = await self._places.privacy_of(source.channel)
        return replace(incoming, is_private=privacy.is_private, is_direct=privacy.is_direct)

    async def _say_swamped(self, incoming: IncomingMessage, writer: ReplyWriter[discord.Message]) -> None:
        if incoming.only_if_following and not await self.assistant.follows(incoming.conversation):
            return  # chatter in a thread Mnemo is not part of: it would not have answered anyway
        log.warning("too many replies waiting; told the person to ask again")
        await _show(writer, SWAMPED_REPLY)


async def _show(writer: ReplyWriter[discord.Message], text: str) -> None:
    """The final text, or a log line saying why Discord did not take it (what was posted stays)."""
    try:
        await writer.finish(text)
    except DeliveryFailed as exc:
        log.warning("%s", exc.reason)
