"""A local Discord: REST API + gateway websocket on loopback, for tests and benchmarks.

It speaks the real wire protocol that discord.py uses, so the real client runs against it unchanged
(point `discord.http.Route.BASE` at `api_url` and `DiscordWebSocket.DEFAULT_GATEWAY` at
`gateway_url`, which is what the adapter's DISCORD_API_URL / DISCORD_GATEWAY_URL settings do).

Gateway: HELLO (op 10) on connect, IDENTIFY (op 2) -> READY + GUILD_CREATE for the shard's guilds,
heartbeats acked, RESUME -> RESUMED. `dispatch()` pushes events (MESSAGE_CREATE, INTERACTION_CREATE...)
to the shard that owns the guild, like Discord does; `broadcast=True` sends to every connection (a
duplicate delivery seen by two shards or processes); `send_raw()` sends any text frame.
`delivered()` returns once every client has read every event sent to it (Discord's heartbeat
request, op 1: the client answers with the last sequence number it read).

World building: servers (with the @everyone role's permissions), channels of any type with
permission overwrites, threads of type 10/11/12, DMs and group DMs; `cached=False` keeps a channel
out of GUILD_CREATE (discord.py then only learns of it over REST); `update_channel()` changes one
and dispatches CHANNEL_UPDATE / THREAD_UPDATE, `update_everyone_role()` GUILD_ROLE_UPDATE.

REST: everything discord.py calls for login, command sync, messages, edits, typing, threads and
interaction callbacks/follow-ups. Every request is recorded (`requests`); `hold()` keeps the next
request to a path waiting until the test releases it. Responses carry
`Content-Type: application/json` exactly (with a charset discord.py would treat the body as text).
Like Discord: a nonce with `enforce_nonce` returns the existing message instead of a duplicate;
interaction callbacks carry no Authorization, must come within 3 s, and only once per interaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import WSMsgType, web

DISCORD_EPOCH_MS = 1_420_070_400_000
API_PREFIX = "/api/v10"
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
INTERACTION_WINDOW_SECONDS = 3.0
VIEW_CHANNEL = 1 << 10
# What a new server's @everyone role may do by default (includes VIEW_CHANNEL).
EVERYONE_PERMISSIONS = 1071698660929
# Channel types (Discord's numbers).
TEXT, DM, VOICE, GROUP_DM, NEWS = 0, 1, 2, 3, 5
NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD, STAGE, FORUM = 10, 11, 12, 13, 15

_counter = itertools.count(1)


def snowflake(at: float | None = None) -> int:
    """A real-looking, strictly increasing Discord id."""
    ms = int((time.time() if at is None else at) * 1000)
    return ((ms - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0x3FFFFF)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name.lower(),
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


@dataclass
class Recorded:
    """One REST request as the fake received it."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None  # the JSON body, or the payload_json part of a multipart body
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (filename, content)
    at: float = 0.0

    @property
    def body(self) -> dict[str, Any]:
        return self.json if isinstance(self.json, dict) else {}


@dataclass
class FakeInteraction:
    id: int
    token: str
    created: float
    channel_id: int
    acked: bool = False
    original: dict[str, Any] | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Fault:
    method: str
    path_prefix: str
    status: int
    remaining: int
    retry_after: float


class HeldRequest:
    """The next request to one method + path, held until the test releases it."""

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path
        self.taken = False
        self._arrived = asyncio.Event()
        self._released = asyncio.Event()

    async def arrived(self, timeout: float = 10.0) -> None:
        """Until the held request has come in."""
        async with asyncio.timeout(timeout):
            await self._arrived.wait()

    def release(self) -> None:
        self._released.set()

    async def park(self) -> None:
        self._arrived.set()
        await self._released.wait()


class _Session:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.seq = 0
        self.shard: tuple[int, int] = (0, 1)
        self.identified = asyncio.Event()
        self.read_seq = 0  # the last sequence number the client said it read (its heartbeats)
        self.session_id = f"session-{next(_counter)}"
        self.lock = asyncio.Lock()

    def has_read(self, seq: int) -> bool:
        """The client said it read event `seq` (or can no longer read anything)."""
        return self.read_seq >= seq or self.ws.closed

    async def send(self, op: int, data: Any, event: str | None = None) -> None:
        async with self.lock:
            frame: dict[str, Any] = {"op": op, "d": data, "s": None, "t": event}
            if op == 0:
                self.seq += 1
                frame["s"] = self.seq
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(frame))


class FakeDiscord:
    """`async with FakeDiscord() as fake:` then use `fake.api_url` / `fake.gateway_url`."""

    def __init__(self, *, token: str = "fake-bot-token", bot_name: str = "Mnemo") -> None:
        self.token = token
        self.bot_id = snowflake()
        self.app_id = self.bot_id
        self.owner_id = snowflake()
        self.bot_user = user_payload(self.bot_id, bot_name, bot=True)
        self.requests: list[Recorded] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.guilds: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}  # every channel and thread by id
        self.messages: dict[int, dict[str, Any]] = {}  # every message the bot created
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.echo_own_messages = True
        # What GET /gateway/bot advertises (None: this fake's own gateway).
        self.gateway_bot_url: str | None = None
        # Close the socket with this code on IDENTIFY (4014: privileged intent not enabled).
        self.identify_close_code: int | None = None
        # The application's flags (GET /oauth2/applications/@me): 1 << 19 is
        # GATEWAY_MESSAGE_CONTENT_LIMITED, the Message Content intent switched on in the portal.
        self.application_flags = 1 << 19
        self.interaction_window = INTERACTION_WINDOW_SECONDS
        self.dispatches = 0  # DISPATCH events sent to clients (the echoes of the bot's messages too)
        self._nonces: dict[tuple[int, str], int] = {}
        self._sessions: list[_Session] = []
        self._past_sessions: list[_Session] = []
        self._faults: list[_Fault] = []
        self._holds: list[HeldRequest] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/gateway/", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        server = self._site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        for held in self._holds:
            held.release()  # a test that failed before releasing must not hang the shutdown
        for session in list(self._sessions):
            with contextlib.suppress(Exception):
                await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    # -- world building --------------------------------------------------------------------------
    def add_guild(
        self,
        *,
        name: str = "Test Server",
        channels: int = 1,
        everyone_permissions: int = EVERYONE_PERMISSIONS,
    ) -> tuple[int, list[int]]:
        """A guild with `channels` text channels; returns (guild id, channel ids)."""
        guild_id = snowflake()
        channel_ids = []
        payloads: list[dict[str, Any]] = []
        for index in range(channels):
            channel_id = snowflake()
            channel = {
                "id": str(channel_id),
                "type": 0,
                "guild_id": str(guild_id),
                "name": f"general-{index}" if index else "general",
                "position": index,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
            }
            self.channels[channel_id] = channel
            payloads.append(channel)
            channel_ids.append(channel_id)
        self.guilds[guild_id] = {
            "id": str(guild_id),
            "name": name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "features": [],
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": str(everyone_permissions),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "channels": payloads,
            "threads": [],
            "members": [],
            "voice_states": [],
            "presences": [],
            "member_count": 2,
            "large": False,
            "unavailable": False,
            "joined_at": iso_now(),
        }
        return guild_id, channel_ids

    def add_role(self, guild_id: int, name: str) -> int:
        """A role in a server (before the bot connects: it arrives with GUILD_CREATE)."""
        role_id = snowflake()
        self.guilds[guild_id]["roles"].append(
            {
                "id": str(role_id),
                "name": name,
                "permissions": "0",
                "position": len(self.guilds[guild_id]["roles"]),
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        )
        return role_id

    def add_channel(
        self,
        *,
        guild_id: int,
        channel_type: int = TEXT,
        name: str = "channel",
        overwrites: list[dict[str, Any]] | None = None,
        cached: bool = True,
    ) -> int:
        """A server channel that exists before the bot connects (in GUILD_CREATE unless not `cached`)."""
        channel_id = snowflake()
        channel: dict[str, Any] = {
            "id": str(channel_id),
            "type": channel_type,
            "guild_id": str(guild_id),
            "name": name,
            "position": len(self.guilds[guild_id]["channels"]),
            "permission_overwrites": list(overwrites or []),
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }
        if channel_type in (VOICE, STAGE):
            channel.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None})
        if channel_type == FORUM:
            channel.update({"available_tags": [], "default_reaction_emoji": None, "flags": 0})
        self.channels[channel_id] = channel
        if cached:
            self.guilds[guild_id]["channels"].append(channel)
        return channel_id

    @staticmethod
    def everyone_overwrite(guild_id: int, *, allow: int = 0, deny: int = 0) -> dict[str, Any]:
        """A permission overwrite for the @everyone role (whose id is the server's id)."""
        return {"id": str(guild_id), "type": 0, "allow": str(allow), "deny": str(deny)}

    def add_thread(
        self,
        *,
        guild_id: int,
        parent_id: int,
        owner_id: int,
        name: str = "a thread",
        thread_type: int = PUBLIC_THREAD,
        cached: bool = True,
    ) -> int:
        """A thread that exists before the bot connects (in GUILD_CREATE unless not `cached`)."""
        thread_id = snowflake()
        thread = self._thread_payload(thread_id, guild_id=guild_id, parent_id=parent_id, owner_id=owner_id)
        thread["name"] = name
        thread["type"] = thread_type
        self.channels[thread_id] = thread
        if cached:
            self.guilds[guild_id]["threads"].append(thread)
        return thread_id

    def add_group_dm_channel(self, user_ids: list[int]) -> int:
        """A group DM with these people (and the bot, which created it)."""
        channel_id = snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": GROUP_DM,
            "name": None,
            "icon": None,
            "owner_id": str(self.bot_id),
            "last_message_id": None,
            "recipients": [user_payload(user, f"user{user % 1000}") for user in user_ids],
        }
        return channel_id

    async def update_channel(self, channel_id: int, **changes: Any) -> None:
        """Change a channel or thread (e.g. `permission_overwrites=[...]`) and tell the gateway."""
        channel = self.channels[channel_id]
        channel.update(changes)
        is_thread = channel["type"] in (NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)
        await self.dispatch("THREAD_UPDATE" if is_thread else "CHANNEL_UPDATE", dict(channel))

    async def update_everyone_role(self, guild_id: int, *, permissions: int) -> None:
        """Change what the server's @everyone role may do, and tell the gateway."""
        role = next(r for r in self.guilds[guild_id]["roles"] if r["id"] == str(guild_id))
        role["permissions"] = str(permissions)
        await self.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": dict(role)})

    def add_dm_channel(self, user_id: int) -> int:
        channel_id = snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "recipients": [user_payload(user_id, f"user{user_id % 1000}")],
        }
        return channel_id

    @staticmethod
    def _thread_payload(thread_id: int, *, guild_id: int, parent_id: int, owner_id: int) -> dict[str, Any]:
        return {
            "id": str(thread_id),
            "type": 11,
            "guild_id": str(guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(owner_id),
            "name": "thread",
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso_now(),
                "locked": False,
            },
        }

    # -- payload builders ------------------------------------------------------------------------
    def message(
        self,
        *,
        channel_id: int,
        author_id: int,
        content: str,
        author_name: str | None = None,
        guild_id: int | None = None,
        mention_bot: bool = False,
        mentions: list[dict[str, Any]] | None = None,
        bot: bool = False,
        webhook_id: int | None = None,
        message_type: int = 0,
        message_id: int | None = None,
        referenced: dict[str, Any] | None = None,
        roles: list[int] | None = None,
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE payload. `mention_bot` prefixes `<@bot>` and lists the bot in mentions;
        `roles` are the author's role ids in the server."""
        name = author_name or f"user{author_id % 1000}"
        mention_list = list(mentions or [])
        if mention_bot:
            content = f"<@{self.bot_id}> {content}"
            mention_list.append(self.bot_user)
        payload: dict[str, Any] = {
            "id": str(message_id or snowflake()),
            "channel_id": str(channel_id),
            "author": user_payload(author_id, name, bot=bot),
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mention_list,
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": message_type,
            "flags": 0,
        }
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
            payload["member"] = {
                "roles": [str(role) for role in roles or []],
                "joined_at": iso_now(),
                "deaf": False,
                "mute": False,
                "flags": 0,  # always sent by Discord; without it discord.py keeps the author a User
            }
        if webhook_id is not None:
            payload["webhook_id"] = str(webhook_id)
        if referenced is not None:
            payload["referenced_message"] = referenced
            payload["message_reference"] = {
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
                "type": 0,
            }
            if payload["type"] == 0:
                payload["type"] = 19
        return payload

    def slash_command(
        self,
        *,
        user_id: int,
        subcommand: str,
        options: dict[str, Any] | None = None,
        guild_id: int | None = None,
        channel_id: int,
        user_name: str | None = None,
        interaction_type: int = 2,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for `/memory <subcommand> [options]` (type 4 = autocomplete)."""
        option_types = {"query": 3, "page": 4, "id": 3, "code": 3, "platform": 3}
        sub_options = []
        for key, value in (options or {}).items():
            option: dict[str, Any] = {"name": key, "type": option_types.get(key, 3), "value": value}
            if isinstance(value, tuple):  # (value, focused) for autocomplete
                option["value"], option["focused"] = value
            sub_options.append(option)
        command = self._command_id("memory", guild_id)
        data = {
            "id": str(command),
            "name": "memory",
            "type": 1,
            "options": [{"name": subcommand, "type": 1, "options": sub_options}],
        }
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        return self._interaction(
            interaction_type=interaction_type,
            data=data,
            user_id=user_id,
            user_name=user_name,
            guild_id=guild_id,
            channel_id=channel_id,
        )

    def message_command(
        self,
        *,
        name: str,
        user_id: int,
        target: dict[str, Any],
        guild_id: int | None = None,
        channel_id: int,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for a message context-menu command (application command
        type 3) on `target` (a message payload, as `message()` builds it)."""
        command = self._command_id(name, guild_id)
        data: dict[str, Any] = {
            "id": str(command),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        return self._interaction(
            interaction_type=2,
            data=data,
            user_id=user_id,
            user_name=None,
            guild_id=guild_id,
            channel_id=channel_id,
        )

    def button_press(
        self,
        *,
        user_id: int,
        custom_id: str,
        message: dict[str, Any],
        guild_id: int | None = None,
        channel_id: int,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for pressing a button of `message` (as the fake stored it)."""
        return self._interaction(
            interaction_type=3,
            data={"custom_id": custom_id, "component_type": 2},
            user_id=user_id,
            user_name=None,
            guild_id=guild_id,
            channel_id=channel_id,
            message=message,
        )

    def _interaction(
        self,
        *,
        interaction_type: int,
        data: dict[str, Any],
        user_id: int,
        user_name: str | None,
        guild_id: int | None,
        channel_id: int,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        interaction_id = snowflake()
        token = f"itoken-{interaction_id}"
        user = user_payload(user_id, user_name or f"user{user_id % 1000}")
        channel = dict(self.channels.get(channel_id) or {"id": str(channel_id), "type": 1})
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": interaction_type,
            "data": data,
            "channel_id": str(channel_id),
            "channel": channel,
            "token": token,
            "version": 1,
            "app_permissions": "1071698660929",
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)} if guild_id else {"1": str(user_id)},
            "context": 0 if guild_id else 1,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["member"] = {
                "user": user,
                "roles": [],
                "joined_at": iso_now(),
                "deaf": False,
                "mute": False,
                "permissions": "1071698660929",
                "flags": 0,
            }
        else:
            payload["user"] = user
        if message is not None:
            payload["message"] = message
        self.interactions[interaction_id] = FakeInteraction(
            interaction_id, token, time.monotonic(), channel_id
        )
        return payload

    def _command_id(self, name: str, guild_id: int | None) -> int:
        pools = [self.guild_commands.get(guild_id, [])] if guild_id is not None else []
        pools.append(self.global_commands)
        for pool in pools:
            for command in pool:
                if command["name"] == name:
                    return int(command["id"])
        return snowflake()

    # -- gateway ---------------------------------------------------------------------------------
    def shard_for(self, guild_id: int | None, shard_count: int) -> int:
        return 0 if guild_id is None else (guild_id >> 22) % shard_count

    @property
    def open_sessions(self) -> list[tuple[int, int]]:
        """(shard id, shard count) of every identified, open gateway connection."""
        return [s.shard for s in self._sessions if s.identified.is_set() and not s.ws.closed]

    async def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        """Until `count` gateway sessions have IDENTIFYed."""
        await self.wait_until(
            lambda: len([s for s in self._sessions if s.identified.is_set()]) >= count, timeout=timeout
        )

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
        """Until `condition()` holds; checked whenever the fake's state changes (a request, a
        connection opened, identified, resumed or closed, a heartbeat)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def delivered(self, timeout: float = 10.0) -> int:
        """Until every client has read every gateway event sent to it so far, the echoes of the
        bot's own messages included; returns how many events were sent in all.

        Discord may ask a client for a heartbeat at once (op 1); the client answers with the last
        sequence number it read. discord.py reads frames in order and runs the parser of each
        before reading the next, so its answer means every event up to there has been parsed (and
        handed to the client's event handlers).
        """
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            for session in list(self._sessions):
                if not session.identified.is_set() or session.ws.closed:
                    continue
                sent = session.seq  # before the request: the client's answer covers at least this
                await session.send(1, None)
                async with self._changed:
                    await self._changed.wait_for(partial(session.has_read, sent))
        return self.dispatches

    async def dispatch(
        self,
        event: str,
        data: Any,
        *,
        guild_id: int | None = None,
        broadcast: bool = False,
    ) -> int:
        """Send a DISPATCH to the shard owning `guild_id` (DMs: shard 0), or to every session."""
        if guild_id is None and isinstance(data, dict) and data.get("guild_id"):
            with contextlib.suppress(TypeError, ValueError):
                guild_id = int(data["guild_id"])
        sent = 0
        for session in list(self._sessions):
            if not session.identified.is_set() or session.ws.closed:
                continue
            shard_id, count = session.shard
            if broadcast or self.shard_for(guild_id, count) == shard_id:
                await session.send(0, data, event)
                sent += 1
        self.dispatches += sent
        if isinstance(data, dict) and event == "INTERACTION_CREATE" and data.get("id"):
            with contextlib.suppress(TypeError, ValueError, KeyError):
                # The 3-second window starts when Discord sends the interaction.
                self.interactions[int(data["id"])].created = time.monotonic()
        return sent

    async def drop_connections(self, *, code: int = 4000, reconnect_op: bool = False) -> None:
        """Close every gateway socket like a network blip (or ask for a reconnect with op 7)."""
        for session in list(self._sessions):
            if reconnect_op:
                await session.send(7, None)
            else:
                await session.ws.close(code=code, message=b"fake disconnect")

    async def send_raw(self, frame: str | bytes) -> None:
        """Any text (or binary) frame, to every identified session (malformed-payload tests)."""
        for session in list(self._sessions):
            if session.identified.is_set() and not session.ws.closed:
                async with session.lock:
                    if isinstance(frame, bytes):
                        await session.ws.send_bytes(frame)
                    else:
                        await session.ws.send_str(frame)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = _Session(ws)
        self._sessions.append(session)
        await self._notify()
        try:
            await session.send(10, {"heartbeat_interval": 41250})
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                op = payload.get("op")
                if op == 1:
                    session.read_seq = max(session.read_seq, int(payload.get("d") or 0))
                    await session.send(11, None)
                    await self._notify()
                elif op == 2:
                    await self._identify(session, payload["d"])
                elif op == 6:
                    self.resumes.append(payload["d"])
                    previous = next(
                        (p for p in self._past_sessions if p.session_id == payload["d"].get("session_id")),
                        None,
                    )
                    if previous is None:
                        await session.send(9, False)  # INVALID_SESSION: identify again
                        continue
                    session.shard, session.session_id, session.seq = (
                        previous.shard,
                        previous.session_id,
                        previous.seq,
                    )
                    session.identified.set()
                    await session.send(0, {}, "RESUMED")
                    await self._notify()
        finally:
            self._sessions.remove(session)
            if session.identified.is_set():
                self._past_sessions.append(session)
            await self._notify()
        return ws

    async def _identify(self, session: _Session, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if self.identify_close_code is not None:
            await session.ws.close(code=self.identify_close_code, message=b"Disallowed intent(s).")
            return
        if data.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard") or [0, 1]
        session.shard = (int(shard[0]), int(shard[1]))
        mine = [
            g for gid, g in self.guilds.items() if self.shard_for(gid, session.shard[1]) == session.shard[0]
        ]
        session.identified.set()
        await session.send(
            0,
            {
                "v": 10,
                "user": self.bot_user,
                "guilds": [{"id": g["id"], "unavailable": True} for g in mine],
                "session_id": session.session_id,
                "resume_gateway_url": self.gateway_url,
                "shard": list(session.shard),
                "application": {"id": str(self.app_id), "flags": 0},
            },
            "READY",
        )
        for guild in mine:
            await session.send(0, guild, "GUILD_CREATE")
        await self._notify()

    # -- REST ------------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        path_prefix: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: float = 0.05,
    ) -> None:
        """The next `times` matching requests get `status` (429 carries Discord's retry_after)."""
        self._faults.append(_Fault(method.upper(), path_prefix, status, times, retry_after))

    def hold(self, method: str, path: str) -> HeldRequest:
        """Hold the next `method` request to exactly `path` until `release()` (then serve it)."""
        held = HeldRequest(method.upper(), path)
        self._holds.append(held)
        return held

    def clear_faults(self) -> None:
        """Every request from now on is served normally."""
        self._faults.clear()

    async def wait_for(
        self,
        predicate: Callable[[Recorded], bool],
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[Recorded]:
        """Until `count` recorded requests match; returns them."""
        async with asyncio.timeout(timeout), self._changed:
            while True:
                found = [r for r in self.requests if predicate(r)]
                if len(found) >= count:
                    return found
                await self._changed.wait()

    def find(self, method: str, path_part: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    def channel_posts(self, channel_id: int) -> list[Recorded]:
        """Every message send (attempt) to one channel or thread."""
        path = f"/channels/{channel_id}/messages"
        return [r for r in self.requests if r.method == "POST" and r.path == path]

    def sends(self) -> list[Recorded]:
        """Every request that puts text in front of people (messages, edits, interaction answers)."""
        return [
            r
            for r in self.requests
            if r.method in ("POST", "PATCH")
            and ("content" in self._message_part(r) or "embeds" in self._message_part(r))
        ]

    @staticmethod
    def _message_part(recorded: Recorded) -> dict[str, Any]:
        body = recorded.body
        if "/callback" in recorded.path:
            data = body.get("data")
            return data if isinstance(data, dict) else {}
        return body

    @staticmethod
    def allowed_mentions_of(recorded: Recorded) -> Any:
        return FakeDiscord._message_part(recorded).get("allowed_mentions")

    def _json(self, status: int, body: Any) -> web.Response:
        data = json.dumps(body).encode()
        # Exactly application/json: with "; charset=utf-8" discord.py reads the body as text.
        return web.Response(status=status, body=data, headers={"Content-Type": "application/json"})

    def _error(self, status: int, code: int, message: str) -> web.Response:
        return self._json(status, {"code": code, "message": message})

    async def _read(self, request: web.Request, path: str) -> Recorded:
        recorded = Recorded(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers.items()),
            at=time.monotonic(),
        )
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":  # type: ignore[union-attr]
                    recorded.json = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    recorded.files.append((part.filename or "", await part.read()))  # type: ignore[union-attr]
        elif request.can_read_body:
            raw = await request.read()
            if raw:
                recorded.json = json.loads(raw)
        return recorded

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        recorded = await self._read(request, path)
        async with self._changed:
            self.requests.append(recorded)
            self._changed.notify_all()
        held = next(
            (h for h in self._holds if not h.taken and h.method == request.method and h.path == path), None
        )
        if held is not None:
            held.taken = True
            await held.park()
        for fault in self._faults:
            if fault.remaining > 0 and fault.method == request.method and path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.status == 429:
                    return web.Response(
                        status=429,
                        body=json.dumps(
                            {
                                "message": "You are being rate limited.",
                                "retry_after": fault.retry_after,
                                "global": False,
                            }
                        ).encode(),
                        headers={
                            "Content-Type": "application/json",
                            "Retry-After": str(fault.retry_after),
                            # discord.py treats a 429 without Via as a Cloudflare ban and gives up.
                            "Via": "1.1 google",
                            "X-RateLimit-Scope": "user",
                        },
                    )
                return self._error(fault.status, 0, f"injected {fault.status}")
        parts = path.strip("/").split("/")
        if parts[0] in ("interactions", "webhooks"):
            return await self._interaction_rest(request.method, parts, recorded)
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return self._error(401, 0, "401: Unauthorized")
        return await self._api(request.method, parts, recorded)

    async def _api(self, method: str, parts: list[str], recorded: Recorded) -> web.StreamResponse:
        body = recorded.body
        match (method, parts):
            case ("GET", ["users", "@me"]):
                return self._json(200, self.bot_user)
            case ("GET", ["oauth2", "applications", "@me"]):
                return self._json(200, self._app_info())
            case ("GET", ["gateway", "bot"]):
                return self._json(
                    200,
                    {
                        "url": self.gateway_bot_url or self.gateway_url,
                        "shards": 1,
                        "session_start_limit": {
                            "total": 1000,
                            "remaining": 999,
                            "reset_after": 0,
                            "max_concurrency": 1,
                        },
                    },
                )
            case ("GET", ["applications", _, "commands"]):
                return self._json(200, self.global_commands)
            case ("PUT", ["applications", _, "commands"]):
                self.global_commands = self._store_commands(recorded.json or [], None)
                return self._json(200, self.global_commands)
            case ("GET", ["applications", _, "guilds", guild, "commands"]):
                return self._json(200, self.guild_commands.get(int(guild), []))
            case ("PUT", ["applications", _, "guilds", guild, "commands"]):
                self.guild_commands[int(guild)] = self._store_commands(recorded.json or [], int(guild))
                return self._json(200, self.guild_commands[int(guild)])
            case ("POST", ["channels", channel, "typing"]):
                return web.Response(status=204)
            case ("GET", ["channels", channel]):
                found = self.channels.get(int(channel))
                if found is None:
                    return self._error(404, 10003, "Unknown Channel")
                return self._json(200, found)
            case ("POST", ["channels", channel, "messages"]):
                if int(channel) not in self.channels:
                    return self._error(404, 10003, "Unknown Channel")
                return await self._create_message(int(channel), body)
            case ("PATCH", ["channels", channel, "messages", message]):
                stored = self.messages.get(int(message))
                if stored is None:
                    return self._error(404, 10008, "Unknown Message")
                for key in ("content", "embeds", "components"):
                    if key in body:
                        stored[key] = body[key]
                stored["edited_timestamp"] = iso_now()
                return self._json(200, stored)
            case ("POST", ["channels", channel, "messages", message, "threads"]):
                return await self._start_thread(int(channel), int(message), body)
        return self._error(404, 0, f"fake Discord has no route {method} /{'/'.join(parts)}")

    def _app_info(self) -> dict[str, Any]:
        return {
            "id": str(self.app_id),
            "name": self.bot_user["username"],
            "description": "",
            "icon": None,
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user_payload(self.owner_id, "Owner"),
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "bot": self.bot_user,
        }

    def _store_commands(self, payload: list[dict[str, Any]], guild_id: int | None) -> list[dict[str, Any]]:
        stored = []
        for command in payload:
            saved = dict(command)
            saved["id"] = str(self._command_id(command["name"], guild_id))
            saved["application_id"] = str(self.app_id)
            saved["version"] = str(snowflake())
            saved.setdefault("type", 1)
            saved.setdefault("description", "")  # Discord answers "" for context-menu commands
            if guild_id is not None:
                saved["guild_id"] = str(guild_id)
            stored.append(saved)
        return stored

    async def _create_message(self, channel_id: int, body: dict[str, Any]) -> web.Response:
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            existing = self._nonces.get((channel_id, str(nonce)))
            if existing is not None:
                return self._json(200, self.messages[existing])
        content = body.get("content") or ""
        if len(content) > 2000:
            return self._json(
                400,
                {
                    "code": 50035,
                    "message": "Invalid Form Body",
                    "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}},
                },
            )
        if not content.strip() and not body.get("embeds") and not body.get("components"):
            return self._error(400, 50006, "Cannot send an empty message")
        channel = self.channels[channel_id]
        message = self.message(
            channel_id=channel_id,
            author_id=self.bot_id,
            author_name=self.bot_user["global_name"],
            content=content,
            guild_id=int(channel["guild_id"]) if channel.get("guild_id") else None,
            bot=True,
        )
        message["author"] = self.bot_user
        message["embeds"] = body.get("embeds") or []
        message["components"] = body.get("components") or []
        if nonce is not None:
            message["nonce"] = nonce
            self._nonces[(channel_id, str(nonce))] = int(message["id"])
        reference = body.get("message_reference")
        if reference:
            message["message_reference"] = reference
            message["type"] = 19
        self.messages[int(message["id"])] = message
        if self.echo_own_messages:
            # Discord sends the bot its own messages too: the adapter must ignore them.
            task = asyncio.create_task(self.dispatch("MESSAGE_CREATE", message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return self._json(200, message)

    async def _start_thread(self, channel_id: int, message_id: int, body: dict[str, Any]) -> web.Response:
        channel = self.channels.get(channel_id)
        if channel is None:
            return self._error(404, 10003, "Unknown Channel")
        if message_id in self.channels:
            return self._error(400, 160004, "A thread has already been created for this message")
        guild_id = int(channel["guild_id"])
        thread = self._thread_payload(
            message_id, guild_id=guild_id, parent_id=channel_id, owner_id=self.bot_id
        )
        thread["name"] = body.get("name") or "thread"
        self.channels[message_id] = thread
        self.guilds[guild_id]["threads"].append(thread)
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}, guild_id=guild_id)
        return self._json(201, thread)

    async def _interaction_rest(self, method: str, parts: list[str], recorded: Recorded) -> web.Response:
        if "Authorization" in recorded.headers:
            # Discord ignores it; the fake rejects it so a test notices a token leaking there.
            return self._error(400, 0, "interaction endpoints take no Authorization")
        body = recorded.body
        if parts[0] == "interactions" and len(parts) == 4 and parts[3] == "callback" and method == "POST":
            interaction = self.interactions.get(int(parts[1]))
            if interaction is None or interaction.token != parts[2]:
                return self._error(404, 10062, "Unknown interaction")
            if time.monotonic() - interaction.created > self.interaction_window:
                return self._error(404, 10062, "Unknown interaction")
            if interaction.acked:
                return self._error(400, 40060, "Interaction has already been acknowledged.")
            interaction.acked = True
            response_type = int(body.get("type", 0))
            data = body.get("data") or {}
            result: dict[str, Any] = {
                "interaction": {
                    "id": str(interaction.id),
                    "type": 2,
                    "response_message_loading": response_type == 5,
                    "response_message_ephemeral": bool(int(data.get("flags") or 0) & 64),
                },
                "resource": {"type": response_type},
            }
            if response_type in (4, 5, 7):
                message = self._interaction_message(data, interaction.channel_id)
                interaction.original = message
                result["interaction"]["response_message_id"] = message["id"]
                result["resource"]["message"] = message
            return self._json(200, result)
        if parts[0] == "webhooks" and len(parts) >= 3:
            interaction = next((i for i in self.interactions.values() if i.token == parts[2]), None)
            if interaction is None or not interaction.acked:
                return self._error(404, 10015, "Unknown Webhook")
            if method == "POST" and len(parts) == 3:
                message = self._interaction_message(body, interaction.channel_id)
                interaction.followups.append(message)
                return self._json(200, message)
            if method == "PATCH" and parts[3:] == ["messages", "@original"]:
                original = interaction.original or self._interaction_message({}, interaction.channel_id)
                for key in ("content", "embeds", "components"):
                    if key in body:
                        original[key] = body[key]
                interaction.original = original
                return self._json(200, original)
            if method == "GET" and parts[3:] == ["messages", "@original"]:
                return self._json(
                    200, interaction.original or self._interaction_message({}, interaction.channel_id)
                )
        return self._error(404, 0, f"fake Discord has no route {method} /{'/'.join(parts)}")

    def _interaction_message(self, data: dict[str, Any], channel_id: int) -> dict[str, Any]:
        message = self.message(
            channel_id=channel_id, author_id=self.bot_id, content=data.get("content") or "", bot=True
        )
        message["author"] = self.bot_user
        message["embeds"] = data.get("embeds") or []
        message["components"] = data.get("components") or []
        message["flags"] = int(data.get("flags") or 0)
        message["webhook_id"] = str(self.app_id)
        return message

    # -- assertions helpers ----------------------------------------------------------------------
    def original_of(self, interaction_payload: dict[str, Any]) -> FakeInteraction:
        return self.interactions[int(interaction_payload["id"])]
