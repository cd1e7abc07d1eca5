"""The discord.py client: gateway events in, replies and `/memory` app commands out.

Thin on purpose: decisions live in `translate` (pure), answers come from the core. What lives here
is what needs the live connection: typing, streamed edits, threads, interaction timing, command sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord.places import WATCHED_EVENTS, PlaceLookup
from adapters.discord.translate import (
    CONFIRM_TEMPLATE,
    CONFIRM_TTL_SECONDS,
    ConfirmPress,
    EphemeralAnswer,
    MessageFacts,
    Privacy,
    addresses_bot,
    commands_need_sync,
    confirm_custom_id,
    confirm_problem,
    conversation_place,
    facts_from_message,
    identity_of,
    ignore_reason,
    is_for_mnemo,
    memory_command,
    nonce_for,
    opens_thread,
    parse_confirm,
    place_privacy,
    render_result,
    split_message,
    thread_name,
    to_incoming,
)
from config import DiscordReplyMode, Settings
from core.admission import SwampedError
from core.assistant import Assistant
from core.commands import Command, CommandName
from core.errors import BotError, UserFacingError
from core.locks import KeyedLocks
from core.models import ConversationKey, IncomingMessage, Platform, ReplyKind
from core.replies import COMMAND_FAILED_REPLY, SWAMPED_REPLY

log = logging.getLogger(__name__)

# Captured at import, before any override, so a start without overrides talks to Discord again.
DEFAULT_API_URL = Route.BASE
DEFAULT_GATEWAY_URL = str(DiscordWebSocket.DEFAULT_GATEWAY)
NO_MENTIONS = discord.AllowedMentions.none()


def apply_endpoint_overrides(*, api_url: str | None, gateway_url: str | None) -> tuple[str, str]:
    """Point discord.py at Discord or at a Discord-compatible server; returns (api, gateway) in use.

    discord.py reads both from class attributes (process-wide), so every start sets both: a start
    without overrides goes back to Discord. An API URL without a path gets Discord's `/api/v10`.
    """
    api = api_url or DEFAULT_API_URL
    if urlparse(api).path in ("", "/"):
        api = api.rstrip("/") + "/api/v10"
    gateway = gateway_url or DEFAULT_GATEWAY_URL
    Route.BASE = api.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    return Route.BASE, gateway


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


def invite_url(application_id: int) -> str:
    """The OAuth2 link that adds Mnemo to a server with exactly the permissions it uses."""
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope=bot+applications.commands&permissions={REQUIRED_PERMISSIONS.value}"
    )


def required_intents() -> discord.Intents:
    """Servers, server messages, DMs and message content (privileged: enable it in the portal)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True
    return intents


class _Typing:
    """The typing indicator while Mnemo thinks; it expires on its own ~10 s after the last trigger.

    It starts after `delay`: a duplicate delivery is turned down by the core within milliseconds,
    and must not make Mnemo look like it types again after it already answered.
    """

    def __init__(self, channel: discord.abc.Messageable, *, interval: float, delay: float) -> None:
        self._channel = channel
        self._interval = interval
        self._delay = delay
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="discord-typing")

    async def _run(self) -> None:
        await asyncio.sleep(self._delay)
        while True:
            try:
                await self._channel.typing()
            except discord.HTTPException as exc:
                log.debug("typing indicator refused (%s); answering without it", exc.status)
                return
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class ReplyWriter:
    """Posts one answer: streamed edits at most every `interval` seconds, split into 2,000-char
    messages, the first as a reply (or in a new thread), every send without pings and with a nonce.

    Fast answers (done within one interval) are posted once, never edited.
    """

    def __init__(
        self,
        *,
        source: discord.Message,
        open_thread: bool,
        reference: bool,
        interval: float,
        thread_title: str,
        on_first_post: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._source = source
        self._open_thread = open_thread
        self._reference = reference
        self._interval = interval
        self._thread_title = thread_title
        self._on_first_post = on_first_post
        self._text = ""
        self._posted: list[discord.Message] = []
        self._shown: list[str] = []
        self._destination: discord.abc.Messageable | None = None
        self._pump: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._failed = False
        self.edits = 0

    @property
    def posted(self) -> list[discord.Message]:
        return list(self._posted)

    @property
    def destination(self) -> discord.abc.Messageable | None:
        return self._destination

    @property
    def streamed_text(self) -> str:
        return self._text

    async def feed(self, piece: str) -> None:
        """The model's next piece of text (the orchestrator's on_delta)."""
        self._text += piece
        if self._pump is None:
            self._pump = asyncio.create_task(self._run_pump(), name="discord-stream")

    async def _run_pump(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=self._interval)
            if self._closing.is_set() or self._failed:
                return
            await self._render(self._text, final=False)

    async def finish(self, text: str) -> None:
        """Show the final text: the last edit of a stream, or the whole answer at once."""
        self._closing.set()
        if self._pump is not None:
            # Never cancel a send half-way: a cancelled POST may still create the message.
            await self._pump
        if not self._failed:
            await self._render(text, final=True)

    async def abandon(self) -> None:
        self._closing.set()
        if self._pump is not None:
            await self._pump

    async def _render(self, text: str, *, final: bool) -> None:
        chunks = split_message(text)
        if not final and chunks and len(chunks) > len(self._posted) + 1:
            # A burst of text: post what is complete, the tail follows at the next tick.
            chunks = chunks[: len(self._posted) + 1]
        try:
            for index, chunk in enumerate(chunks):
                if index < len(self._posted):
                    if self._shown[index] != chunk:
                        await self._posted[index].edit(content=chunk, allowed_mentions=NO_MENTIONS)
                        self._shown[index] = chunk
                        self.edits += 1
                else:
                    posted = await self._send(chunk, index)
                    self._posted.append(posted)
                    self._shown.append(posted.content)
                    if index == 0 and self._on_first_post is not None:
                        await self._on_first_post()
                    if posted.content != chunk:
                        # The nonce matched a message sent before (a retried send whose first try
                        # did reach Discord): it holds older text, so bring it up to date.
                        await posted.edit(content=chunk, allowed_mentions=NO_MENTIONS)
                        self._shown[index] = chunk
            if final:
                # The final text can be shorter than the stream (an apology after a model failure).
                for extra in self._posted[len(chunks) :]:
                    with contextlib.suppress(discord.HTTPException):
                        await extra.delete()
                del self._posted[len(chunks) :]
                del self._shown[len(chunks) :]
        except discord.Forbidden:
            self._failed = True
            log.warning(
                "no permission to answer in channel %s (needs Send Messages%s)",
                self._source.channel.id,
                ", Create Public Threads" if self._open_thread else "",
            )
        except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError) as exc:
            # A server error, a rate limit longer than max_ratelimit_timeout, or Discord unreachable
            # after discord.py's retries. Mid-stream the final render tries again: the nonce makes a
            # repeated send safe (Discord returns the message it already created).
            self._failed = final
            log.warning(
                "could not post an answer in channel %s (%s)%s",
                self._source.channel.id,
                getattr(exc, "status", type(exc).__name__),
                "" if final else "; will retry with the final text",
            )

    async def _where(self) -> discord.abc.Messageable:
        if self._destination is not None:
            return self._destination
        destination: discord.abc.Messageable = self._source.channel
        if self._open_thread:
            try:
                destination = await self._source.create_thread(
                    name=self._thread_title, auto_archive_duration=1440
                )
            except discord.HTTPException as exc:
                # No permission or a thread already exists: answer in the channel instead.
                log.warning("could not open a thread (%s %s); replying in the channel", exc.status, exc.code)
                self._open_thread = False
                self._reference = True
        self._destination = destination
        return destination

    async def _send(self, chunk: str, index: int) -> discord.Message:
        destination = await self._where()
        reference = None
        if index == 0 and self._reference:
            reference = self._source.to_reference(fail_if_not_exists=False)
        return await destination.send(
            content=chunk,
            nonce=nonce_for(self._source.id, index),
            allowed_mentions=NO_MENTIONS,
            reference=reference,  # type: ignore[arg-type]
            mention_author=False,
        )


class ConfirmButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CONFIRM_TEMPLATE):
    """Forget-all's confirm / cancel buttons. The id carries owner and expiry, so a press is checked
    without server-side state (any shard or process, also after a restart)."""

    def __init__(self, *, action: str, user_id: int, expires_at: float) -> None:
        yes = action == "yes"
        super().__init__(
            discord.ui.Button(
                label="Erase everything" if yes else "Cancel",
                style=discord.ButtonStyle.danger if yes else discord.ButtonStyle.secondary,
                custom_id=confirm_custom_id(action, user_id=user_id, expires_at=expires_at),
            )
        )
        self.press = ConfirmPress(action, user_id, int(expires_at))

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ConfirmButton:
        press = parse_confirm(match)
        return cls(action=press.action, user_id=press.owner_id, expires_at=press.expires_at)

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if self.press.owner_id != interaction.user.id:
            await interaction.response.send_message(
                "Only the person who asked can confirm this.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return False
        return True

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        if isinstance(client, MnemoDiscordClient):
            await client.confirm_forget_all(interaction, self.press)


def confirm_view(user_id: int, *, now: float | None = None) -> discord.ui.View:
    expires = (time.time() if now is None else now) + CONFIRM_TTL_SECONDS
    view = discord.ui.View(timeout=None)
    view.add_item(ConfirmButton(action="yes", user_id=user_id, expires_at=expires))
    view.add_item(ConfirmButton(action="no", user_id=user_id, expires_at=expires))
    return view


class MemoryGroup(app_commands.Group):
    """`/memory ...`: the platform-neutral core commands, answered only to the person who asked."""

    def __init__(self, client: MnemoDiscordClient) -> None:
        super().__init__(
            name="memory",
            description="What I remember about you",
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=True, private_channel=False
            ),
            allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
        )
        self._client = client

    @app_commands.command(
        name="show", description="What I remember about you (newest first, or matching words)"
    )
    @app_commands.describe(query="Only memories about these words", page="Page number (10 per page)")
    async def show(
        self,
        interaction: discord.Interaction[Any],
        query: str | None = None,
        page: app_commands.Range[int, 1, 10_000] | None = None,
    ) -> None:
        await self._client.run_memory_command(interaction, "show", query=query, page=page)

    @app_commands.command(name="forget", description="Forget one thing (its id is shown by /memory show)")
    @app_commands.rename(memory_id="id")
    @app_commands.describe(memory_id="The memory's id from /memory show")
    async def forget(self, interaction: discord.Interaction[Any], memory_id: str) -> None:
        await self._client.run_memory_command(interaction, "forget", memory_id=memory_id)

    @forget.autocomplete("memory_id")
    async def forget_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._client.memory_choices(interaction, current)

    @app_commands.command(name="forget-all", description="Forget everything about you (asks to confirm)")
    async def forget_all(self, interaction: discord.Interaction[Any]) -> None:
        await self._client.run_memory_command(interaction, "forget-all")

    @app_commands.command(name="pause", description="Stop remembering new things (I still answer)")
    async def pause(self, interaction: discord.Interaction[Any]) -> None:
        await self._client.run_memory_command(interaction, "pause")

    @app_commands.command(name="resume", description="Start remembering again")
    async def resume(self, interaction: discord.Interaction[Any]) -> None:
        await self._client.run_memory_command(interaction, "resume")

    @app_commands.command(name="export", description="Your memories as a JSON file, sent only to you")
    async def export(self, interaction: discord.Interaction[Any]) -> None:
        await self._client.run_memory_command(interaction, "export")

    @app_commands.command(name="link", description="Share your memory with your other platforms")
    @app_commands.describe(code="A code Mnemo gave you elsewhere (leave empty to get a code for elsewhere)")
    async def link(self, interaction: discord.Interaction[Any], code: str | None = None) -> None:
        await self._client.run_memory_command(interaction, "link", code=code)

    @app_commands.command(name="links", description="Which platforms share your memory")
    async def links(self, interaction: discord.Interaction[Any]) -> None:
        await self._client.run_memory_command(interaction, "links")

    @app_commands.command(name="unlink", description="Detach a platform from your memory")
    @app_commands.describe(platform="The platform to detach")
    @app_commands.choices(
        platform=[
            app_commands.Choice(name="Slack", value="slack"),
            app_commands.Choice(name="Discord", value="discord"),
            app_commands.Choice(name="Web", value="web"),
            app_commands.Choice(name="Terminal", value="console"),
        ]
    )
    async def unlink(self, interaction: discord.Interaction[Any], platform: app_commands.Choice[str]) -> None:
        await self._client.run_memory_command(interaction, "unlink", platform=platform.value)


class _Tree(app_commands.CommandTree["MnemoDiscordClient"]):
    async def on_error(
        self, interaction: discord.Interaction[MnemoDiscordClient], error: app_commands.AppCommandError
    ) -> None:
        log.error("app command failed: %s", type(error).__name__, exc_info=error)
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(
                    COMMAND_FAILED_REPLY, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
            else:
                await interaction.response.send_message(
                    COMMAND_FAILED_REPLY, ephemeral=True, allowed_mentions=NO_MENTIONS
                )


class MnemoDiscordClient(discord.AutoShardedClient):
    """Mnemo on Discord. Sharded by setting: DISCORD_SHARD_COUNT/IDS, else Discord's recommendation."""

    def __init__(
        self,
        *,
        assistant: Assistant,
        options: DiscordOptions,
    ) -> None:
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
        self._locks = KeyedLocks()
        self._followed: OrderedDict[int, None] = OrderedDict()  # threads Mnemo takes part in
        self._places = PlaceLookup(self)
        self._invite_logged = False
        self._answering = 0
        self._all_sent = asyncio.Event()
        self._all_sent.set()
        self.skipped_payloads = 0
        self.tree = _Tree(self)
        self.tree.add_command(MemoryGroup(self))
        self._guard_parsers()
        self._guard_frames()

    # -- lifecycle -----------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        self.add_dynamic_items(ConfirmButton)
        if self.shard_count is None:
            # Ask Discord for the recommended count here (not in launch_shards), so the gateway URL
            # stays ours: launch_shards would otherwise connect to the URL /gateway/bot returns.
            self.shard_count, _, _ = await self.http.get_bot_gateway()
        await self.sync_commands()

    async def sync_commands(self) -> bool:
        """Register /memory (guild or global). Idempotent: nothing is sent when Discord already has
        exactly these commands (global registrations are rate limited and take time to spread)."""
        guild = discord.Object(id=self.options.guild_id) if self.options.guild_id else None
        where = f"guild {self.options.guild_id}" if guild else "globally"
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        local = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        app_id = self.application_id
        if app_id is None:
            log.error("cannot sync /memory commands: the application id is unknown")
            return False
        try:
            remote = (
                await self.http.get_guild_commands(app_id, guild.id)
                if guild is not None
                else await self.http.get_global_commands(app_id)
            )
            if not commands_need_sync(local, remote):
                log.info("/memory commands already registered %s", where)
                return False
            await self.tree.sync(guild=guild)
        except discord.Forbidden:
            log.error(
                "cannot register /memory commands %s: invite the bot with the applications.commands scope",
                where,
            )
            return False
        except discord.HTTPException as exc:
            log.error("could not register /memory commands %s: %s %s", where, exc.status, exc.text[:200])
            return False
        log.info("registered /memory commands %s", where)
        return True

    async def wait_replies_sent(self, timeout: float) -> bool:
        """Until every answer being written is posted (shutdown: answers already computed are
        delivered before the connection closes). False if some were still going at `timeout`."""
        try:
            await asyncio.wait_for(self._all_sent.wait(), timeout=timeout)
        except TimeoutError:
            return False
        return True

    async def on_ready(self) -> None:
        if self.application_id is not None and not self._invite_logged:
            self._invite_logged = True
            log.info("invite Mnemo to a server: %s", invite_url(self.application_id))
        log.info(
            "connected to Discord as bot %s in %d servers",
            self.user.id if self.user else "?",
            len(self.guilds),
        )

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        # Never the payload itself: it holds people's messages.
        log.exception("error in Discord event handler %s; skipped", event_method)

    def _guard_parsers(self) -> None:
        """One malformed gateway payload must not end the connection.

        discord.py parses each DISPATCH inside the gateway read loop, so a KeyError in a parser
        would escape `connect()` and stop the client. Each parser is wrapped to log and skip; READY
        stays unguarded because nothing works without it and the failure should be loud.
        """
        parsers = self._connection.parsers
        for event, original in list(parsers.items()):
            parser = self._watched(event, original) if event in WATCHED_EVENTS else original
            parsers[event] = parser if event == "READY" else self._guarded(event, parser)

    def _watched(self, event: str, parser: Callable[[Any], None]) -> Callable[[Any], None]:
        """Channel privacy looked up over REST is forgotten when the gateway says it may have changed."""

        def run(data: Any) -> None:
            self._places.watch(event, data)
            parser(data)

        return run

    def _guard_frames(self) -> None:
        """A frame that is not JSON (or not an object) would also end the read loop: skip it.

        discord.py hands each new gateway socket to `_update_references`; that is where its
        `received_message` gets wrapped. Only data errors are caught: the ReconnectWebSocket and
        ConnectionClosed signals discord.py raises there on purpose pass through.
        """
        state = self._connection
        update_references = state._update_references

        def update(ws: DiscordWebSocket) -> None:
            update_references(ws)
            receive = ws.received_message

            async def guarded(msg: Any, /) -> None:
                try:
                    await receive(msg)
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    self.skipped_payloads += 1
                    log.error("skipped a malformed gateway frame (%s)", type(exc).__name__)

            ws.received_message = guarded  # type: ignore[method-assign]

        state._update_references = update  # type: ignore[method-assign]

    def _guarded(self, event: str, parser: Callable[[Any], None]) -> Callable[[Any], None]:
        def run(data: Any) -> None:
            try:
                parser(data)
            except Exception:
                self.skipped_payloads += 1
                shape = sorted(data)[:12] if isinstance(data, dict) else type(data).__name__
                log.exception("skipped a malformed %s payload (fields: %s)", event, shape)

        return run

    # -- messages ------------------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
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
        addressed = facts.is_dm or addresses_bot(facts, bot_user_id=me.id)
        if not addressed and not facts.in_thread:
            return
        channel, thread = conversation_place(facts, reply_mode=self.options.reply_mode)
        async with self._locks.hold(f"{channel}|{thread}"):
            follows = not addressed and await self._follows_thread(facts, me.id)
            if not is_for_mnemo(facts, bot_user_id=me.id, follows_thread=follows):
                return
            incoming = to_incoming(
                facts,
                bot_user_id=me.id,
                reply_mode=self.options.reply_mode,
                follows_thread=follows,
                privacy=await self._privacy(message),
            )
            if incoming is not None:
                await self._answer(message, facts, incoming)

    async def _with_thread(self, facts: MessageFacts) -> MessageFacts:
        """discord.py did not know this channel (not in its cache): ask Discord if it is a thread."""
        found = await self._places.look_up(facts.channel_id)
        if found is None or found.parent_id is None:
            return facts
        if found.owner_id is not None and found.owner_id == (self.user.id if self.user else None):
            self._remember_thread(facts.channel_id)
        return replace(
            facts,
            thread_id=facts.channel_id,
            thread_parent_id=found.parent_id,
            thread_owner_id=found.owner_id,
        )

    async def _privacy(self, message: discord.Message) -> Privacy:
        privacy = place_privacy(await self._places.place_of(message.channel))
        if privacy.is_private:
            log.debug("channel %s counts as private: %s", message.channel.id, privacy.reason)
        return privacy

    async def _follows_thread(self, facts: MessageFacts, bot_id: int) -> bool:
        """Is this a thread Mnemo takes part in? Its own thread, or one it has answered in (the store
        remembers across restarts and processes)."""
        if facts.thread_id is None:
            return False
        if facts.thread_owner_id == bot_id or facts.thread_id in self._followed:
            return True
        channel, thread = conversation_place(facts, reply_mode=self.options.reply_mode)
        known = await self.assistant.follows(ConversationKey(Platform.DISCORD, "", channel, thread))
        if known:
            self._remember_thread(facts.thread_id)
        return known

    def _remember_thread(self, thread_id: int) -> None:
        self._followed[thread_id] = None
        self._followed.move_to_end(thread_id)
        if len(self._followed) > 10_000:
            self._followed.popitem(last=False)

    async def _answer(self, message: discord.Message, facts: MessageFacts, incoming: IncomingMessage) -> None:
        self._answering += 1
        self._all_sent.clear()
        try:
            await self._write_answer(message, facts, incoming)
        finally:
            self._answering -= 1
            if self._answering == 0:
                self._all_sent.set()

    async def _write_answer(
        self, message: discord.Message, facts: MessageFacts, incoming: IncomingMessage
    ) -> None:
        open_thread = opens_thread(facts, reply_mode=self.options.reply_mode)
        typing = _Typing(
            message.channel, interval=self.options.typing_interval, delay=self.options.typing_delay
        )
        writer = ReplyWriter(
            source=message,
            open_thread=open_thread,
            # Plain server replies quote the question; DMs and Mnemo's own threads need no quote.
            reference=not facts.is_dm
            and not open_thread
            and self.options.reply_mode is DiscordReplyMode.REPLY,
            interval=self.options.edit_interval,
            thread_title=thread_name(incoming.text, fallback=f"{self.options.bot_name} answers"),
            on_first_post=typing.stop,
        )
        typing.start()
        try:
            try:
                reply = await self.assistant.handle(incoming, on_delta=writer.feed)
            except SwampedError:
                log.warning("too many replies waiting; told the person to ask again")
                await writer.finish(SWAMPED_REPLY)
                return
            if reply is None:
                await writer.abandon()
                return
            text = reply.text
            if reply.kind is ReplyKind.APOLOGY and writer.posted:
                # The model failed mid-stream: keep what people already read, then say so.
                text = f"{writer.streamed_text}\n\n{reply.text}"
            await writer.finish(text)
        finally:
            await typing.stop()
        destination = writer.destination
        if isinstance(destination, discord.Thread):
            self._remember_thread(destination.id)

    # -- /memory ---------------------------------------------------------------------------------
    async def run_memory_command(
        self,
        interaction: discord.Interaction[Any],
        subcommand: str,
        *,
        query: str | None = None,
        page: int | None = None,
        memory_id: str | None = None,
        code: str | None = None,
        platform: str | None = None,
    ) -> None:
        user = interaction.user

        async def work() -> EphemeralAnswer:
            try:
                command = memory_command(
                    subcommand, query=query, page=page, memory_id=memory_id, code=code, platform=platform
                )
                result = await self.assistant.run_command(
                    identity_of(user.id), command, display_name=user.display_name
                )
            except UserFacingError as exc:
                return EphemeralAnswer(content=str(exc))
            except BotError:
                log.exception("/memory %s failed", subcommand)
                return EphemeralAnswer(content=COMMAND_FAILED_REPLY)
            return render_result(result, user_id=user.id, size_limit=interaction.filesize_limit)

        await self.answer_interaction(interaction, work())

    async def answer_interaction(
        self, interaction: discord.Interaction[Any], work: Awaitable[EphemeralAnswer]
    ) -> None:
        """Answer within Discord's 3 s: directly when the work is quick, else defer and follow up."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self.options.defer_after)
        deferred = not done
        if deferred:
            try:
                await interaction.response.defer(ephemeral=True, thinking=True)
            except discord.HTTPException as exc:
                log.warning("could not defer an interaction (%s %s); it expired", exc.status, exc.code)
                await task
                return
        answer = await task
        kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS, "ephemeral": True}
        if answer.content:
            kwargs["content"] = answer.content
        if answer.embed is not None:
            kwargs["embed"] = answer.embed
        file = answer.discord_file()
        if file is not None:
            kwargs["file"] = file
        if answer.confirm_for is not None:
            kwargs["view"] = confirm_view(answer.confirm_for)
        try:
            if deferred:
                await interaction.followup.send(**kwargs)
            else:
                await interaction.response.send_message(**kwargs)
        except discord.HTTPException as exc:
            log.warning("could not answer an interaction: %s %s", exc.status, exc.code)

    async def memory_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Autocomplete for /memory forget: the person's memories matching what they typed."""
        words = " ".join(current.split())[:200]
        try:
            result = await asyncio.wait_for(
                self.assistant.run_command(
                    identity_of(interaction.user.id),
                    Command(CommandName.SHOW, argument=words),
                    display_name=interaction.user.display_name,
                ),
                timeout=self.options.autocomplete_timeout,
            )
        except (TimeoutError, BotError):
            log.info("memory autocomplete gave up")
            return []
        items = result.page.items if result.page is not None else []
        return [
            app_commands.Choice(
                name=(item.text if len(item.text) <= 100 else item.text[:99] + "…"), value=item.id
            )
            for item in items
            if len(item.id) <= 100
        ][:25]

    async def confirm_forget_all(self, interaction: discord.Interaction[Any], press: ConfirmPress) -> None:
        problem = confirm_problem(press, presser_id=interaction.user.id)
        if press.action == "no":
            await interaction.response.edit_message(
                content="Cancelled. I kept everything.", view=None, allowed_mentions=NO_MENTIONS
            )
            return
        if problem is not None:
            await interaction.response.edit_message(content=problem, view=None, allowed_mentions=NO_MENTIONS)
            return
        # Erasing rewrites files (secure delete + vacuum): always longer than Discord's 3 s.
        await interaction.response.defer()
        try:
            result = await self.assistant.run_command(
                identity_of(interaction.user.id),
                memory_command("forget-all", confirmed=True),
                display_name=interaction.user.display_name,
            )
            text = result.text
        except BotError:
            log.exception("forget-all failed")
            text = COMMAND_FAILED_REPLY
        try:
            await interaction.edit_original_response(content=text, view=None, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("could not show the forget-all result: %s %s", exc.status, exc.code)
