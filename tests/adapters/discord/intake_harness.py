"""Discord interactions through the durable intake, the way `python -m bot web|worker` run: gateway
processes (DiscordService with the intake) and worker processes (each its own inbox on the shared
intake.db, with short leases, and its own REST-only client), on one core and the fake Discord."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from adapters.discord.interaction_responders import InteractionResponder
from adapters.discord.interaction_work import Asker
from adapters.discord.options import DiscordOptions
from adapters.discord.responders import DiscordResponder
from adapters.discord.sdk import apply_endpoint_overrides
from adapters.discord.service import DiscordService
from adapters.discord.translate import identity_of
from bot.wiring import Core, build_core
from config import Settings
from core.intake.dispatch import Dispatcher
from core.intake.sqlite import SQLiteIntake
from core.models import MemoryItem, MemoryOrigin, Platform
from tests.adapters.discord.conftest import (
    FAST,
    callback_of,
    discord_settings,
)
from tests.fakes.discord_server import FakeDiscord, Recorded
from tests.fakes.openai_server import FakeOpenAI

# Short leases, so a dead worker's delivery is taken over within a test's patience.
LEASE = timedelta(seconds=0.6)
RETRY = timedelta(seconds=0.1)


@dataclass
class Worker:
    """One worker "process": its own inbox on the shared intake.db and its own REST client."""

    inbox: SQLiteIntake
    rest: DiscordResponder
    task: asyncio.Task[None]
    dead: bool = False

    async def drained(self) -> None:
        await asyncio.wait_for(self.inbox.drained(), 10)

    async def kill(self) -> None:
        """Gone at once: what it was answering stops unfinished; its lease expires."""
        if self.dead:
            return
        self.dead = True
        await self.inbox.stop(grace=0)
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.inbox.close()
        await self.rest.stop()


@dataclass
class Door:
    fake: FakeDiscord
    core: Core
    settings: Settings
    guild_id: int
    channel_id: int
    gateways: list[DiscordService] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)

    @property
    def gateway(self) -> DiscordService:
        return self.gateways[0]

    async def open_gateway(self) -> DiscordService:
        gateway = DiscordService(
            settings=self.settings,
            assistant=self.core.assistant,
            options=DiscordOptions.from_settings(self.settings, **FAST),
            intake=True,
            ready_timeout=10,
        )
        await gateway.start()
        self.gateways.append(gateway)
        return gateway

    async def start_worker(self) -> Worker:
        inbox = await SQLiteIntake.open(
            self.settings.data_dir / "intake.db",
            clock=self.core.clock,
            lease=LEASE,
            poll_interval=0.05,
            retry_base=RETRY,
        )
        dispatcher = Dispatcher(intake=inbox, clock=self.core.clock)
        rest = DiscordResponder(
            settings=self.settings, assistant=self.core.assistant, dispatcher=dispatcher, edit_interval=0.2
        )
        InteractionResponder(assistant=self.core.assistant, rest=rest.rest, dispatcher=dispatcher)
        await rest.start()
        worker = Worker(inbox, rest, asyncio.create_task(inbox.serve(dispatcher, concurrency=4)))
        self.workers.append(worker)
        return worker

    async def handled(self) -> None:
        """Every interaction the gateways took in hand is deferred and recorded (or refused)."""
        for gateway in self.gateways:
            assert await gateway.client.wait_messages_handled(timeout=10)

    async def command(self, user: int, subcommand: str, **options: Any) -> dict[str, Any]:
        payload = self.fake.slash_command(
            user_id=user,
            subcommand=subcommand,
            options=options,
            guild_id=self.guild_id,
            channel_id=self.channel_id,
        )
        await self.fake.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def deferral(self, payload: dict[str, Any]) -> Recorded:
        [callback] = await self.fake.wait_for(callback_of(payload))
        await self.handled()
        return callback

    async def answer(self, payload: dict[str, Any], *, count: int = 1) -> Recorded:
        """The edit of the interaction's original response (the worker's answer)."""
        edits = await self.fake.wait_for(edit_of(self.fake, payload), count=count)
        return edits[-1]

    async def learn(self, user: int, text: str) -> MemoryItem:
        origin = MemoryOrigin(Platform.DISCORD, str(self.channel_id), True)
        assert await self.core.assistant.remember_text(identity_of(user), text, origin)
        assert await self.core.writer.flush(10)
        [item] = [m for m in await self.memories(user) if m.text == text]
        return item

    async def memories(self, user: int) -> list[MemoryItem]:
        assert await self.core.writer.flush(10)
        account = await self.core.store.resolve_account(identity_of(user))
        return await self.core.memory.export(account.id, epoch=0)

    def deliveries(self) -> list[sqlite3.Row]:
        with sqlite3.connect(self.settings.data_dir / "intake.db") as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute("SELECT * FROM deliveries ORDER BY seq").fetchall()


def edit_of(fake: FakeDiscord, payload: dict[str, Any]) -> Any:
    path = f"/webhooks/{fake.app_id}/{payload['token']}/messages/@original"
    return lambda r: r.method == "PATCH" and r.path == path


def followups_of(fake: FakeDiscord, payload: dict[str, Any]) -> list[Recorded]:
    path = f"/webhooks/{fake.app_id}/{payload['token']}"
    return [r for r in fake.requests if r.method == "POST" and r.path == path]


@asynccontextmanager
async def front_door(
    tmp_path: Path, fake_openai: FakeOpenAI, fake: FakeDiscord, *, worker: bool = True
) -> AsyncIterator[Door]:
    guild_id, channels = fake.add_guild()
    settings = discord_settings(tmp_path, fake_openai, fake)
    async with build_core(settings) as core:
        door = Door(fake, core, settings, guild_id, channels[0])
        try:
            await door.open_gateway()
            if worker:
                await door.start_worker()
            yield door
        finally:
            for running in door.workers:
                await running.kill()
            for gateway in door.gateways:
                await gateway.stop()
            apply_endpoint_overrides(api_url=None, gateway_url=None)


def asker_for(interaction_id: int, user: int, door: Door) -> Asker:
    return Asker(
        interaction_id=interaction_id,
        user_id=user,
        display_name="someone",
        guild_id=door.guild_id,
        role_ids=(),
        channel_id=door.channel_id,
        thread_parent_id=None,
        filesize_limit=10 * 1024 * 1024,
    )
