"""Process lifecycle: build the core, run the services together, stop cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from contextlib import AsyncExitStack
from typing import TextIO

from adapters.console.adapter import ConsoleAdapter
from bot.services import Service, build_services
from bot.wiring import Core, build_core
from config import Settings

log = logging.getLogger(__name__)

NOTHING_TO_RUN = """\
Mnemo has no chat platform configured and no terminal to open the console in.
Set one of:
  SLACK_BOT_TOKEN + SLACK_APP_TOKEN        (Slack, Socket Mode)
  SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET   (Slack, HTTP mode on PORT)
  DISCORD_BOT_TOKEN                        (Discord)
  SUPABASE_JWT_SECRET                      (HTTP API only)
or run `python -m bot console` in a terminal. See .env.example for every setting."""


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not available off the main thread or on Windows; Ctrl-C still raises KeyboardInterrupt there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_services(core: Core, services: list[Service], stop: asyncio.Event) -> None:
    async with AsyncExitStack() as stack:
        for service in services:
            await service.start()
            stack.push_async_callback(service.stop)
            log.info("started %s", service.name)
        await stop.wait()
        log.info("shutting down: finishing in-flight replies and memory writes")
        await core.shutdown(core.settings.shutdown_grace_seconds)


async def run_bot(settings: Settings, *, stdin: TextIO = sys.stdin) -> int:
    async with build_core(settings) as core:
        services = build_services(settings, core)
        if not services:
            if not stdin.isatty():
                print(NOTHING_TO_RUN, file=sys.stderr)
                return 2
            return await run_console(core, user="you", channel=None, is_dm=True)
        stop = asyncio.Event()
        _install_signal_handlers(stop)
        await run_services(core, services, stop)
    log.info("stopped cleanly")
    return 0


async def run_console(core: Core, *, user: str, channel: str | None, is_dm: bool) -> int:
    console = ConsoleAdapter(
        orchestrator=core.orchestrator,
        commands=core.commands,
        user=user,
        channel=channel,
        is_dm=is_dm,
        bot_name=core.settings.bot_name,
    )
    await console.run()
    await core.shutdown(core.settings.shutdown_grace_seconds)
    return 0


async def run_console_mode(settings: Settings, *, user: str, channel: str | None, is_dm: bool) -> int:
    async with build_core(settings) as core:
        return await run_console(core, user=user, channel=channel, is_dm=is_dm)


__all__ = ["run_bot", "run_console_mode"]
