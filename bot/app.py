"""Process lifecycle: build the core, run the services together, stop cleanly on SIGINT/SIGTERM.

Shutdown order on the first SIGTERM/SIGINT: /readyz turns 503 "draining" and the orchestrator stops
taking new messages; the front doors stop acknowledging, and the intake worker stops taking
deliveries and lets those in hand finish (what does not fit stays in the intake for the next
worker); in-flight replies finish (their adapters are still connected, so they are delivered) and
queued memory writes are flushed, each within SHUTDOWN_GRACE_SECONDS (what does not fit is kept in
the store for the retry job); then the services stop in reverse start order (the
scheduler lets a running job finish, the web server its requests); then the memory store, the model
client and the database close. A second signal skips the waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import TextIO

from adapters.console.adapter import ConsoleAdapter
from bot.scheduler import build_jobs, job_options
from bot.services import EventSource, Role, Service, build_services, front_doors_configured
from bot.web import WebServer
from bot.wiring import Core, build_core
from config import Settings
from core.errors import BotError, UserFacingError
from core.jobs import DEFAULT_SPECS, JobSpec

log = logging.getLogger(__name__)

NOTHING_TO_RUN = """\
Mnemo has no chat platform configured and no terminal to open the console in.
Set one of:
  SLACK_BOT_TOKEN + SLACK_APP_TOKEN        (Slack, Socket Mode)
  SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET   (Slack, HTTP mode on PORT)
  DISCORD_BOT_TOKEN                        (Discord)
  SUPABASE_JWT_SECRET                      (HTTP API only; + SUPABASE_URL, SUPABASE_ANON_KEY: sign-in)
or run `python -m bot console` in a terminal. See .env.example for every setting."""


FORCED_EXIT_SECONDS = 5.0
CONSOLE_INTERRUPT_GRACE_SECONDS = 1.0


def _forced_exit() -> None:
    log.error("still stopping %.0fs after the second signal; exiting now", FORCED_EXIT_SECONDS)
    logging.shutdown()
    os._exit(1)


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            log.info("received %s: shutting down", sig.name)
            stop.set()
        elif main_task is not None:
            # A second signal: the operator does not want to wait for the grace period. Unwind
            # (services stop, files close) but never for longer than a few seconds.
            log.warning("received %s again: skipping the grace period", sig.name)
            main_task.cancel()
            loop.call_later(FORCED_EXIT_SECONDS, _forced_exit)

    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not available off the main thread or on Windows; Ctrl-C still raises KeyboardInterrupt there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)


class StartError(Exception):
    """A front door could not start (its platform refused or could not be reached): one line that
    names the setting and what to do. `python -m bot` prints it and exits 2, without a traceback."""


# What to do, by the setting a front door's start-up error names (the first one found wins).
_START_HINTS: dict[str, tuple[tuple[str, str], ...]] = {
    "slack": (
        ("SLACK_APP_TOKEN (", ""),  # the adapter's line already says what the token must be
        (
            "SLACK_BOT_TOKEN (",
            "copy OAuth & Permissions -> Bot User OAuth Token (xoxb-...) into SLACK_BOT_TOKEN",
        ),
        ("SLACK_BOT_TOKEN", ""),
        ("could not reach", "check this host's network, or SLACK_API_URL"),
        ("Socket Mode", "check that this host may open wss:// connections to Slack, and SLACK_APP_TOKEN"),
        ("", "check SLACK_BOT_TOKEN, SLACK_APP_TOKEN and SLACK_API_URL"),
    ),
    "discord": (
        ("DISCORD_BOT_TOKEN", ""),
        ("MESSAGE CONTENT", ""),
        ("could not reach", "check this host's network, or DISCORD_API_URL"),
        ("", "check DISCORD_BOT_TOKEN, DISCORD_GATEWAY_URL and this host's network"),
    ),
}


def _start_error_types(service: str) -> tuple[type[BaseException], ...]:
    # Imported here: a process without Slack (or Discord) never loads that SDK.
    if service == "slack":
        from adapters.slack.web_api import SlackStartError

        return (SlackStartError,)
    if service == "discord":
        from adapters.discord.service import DiscordStartError

        return (DiscordStartError,)
    return ()


def start_error_line(service: str, exc: BaseException) -> str | None:
    """The one line for a front door's start-up failure, or None when it is not one (a bug: let it
    raise)."""
    if not isinstance(exc, _start_error_types(service)):
        return None
    message = " ".join(str(exc).split()).rstrip(".")
    hint = next(todo for needle, todo in _START_HINTS[service] if needle in message)
    line = f"{service.capitalize()} could not start: {message}"
    return f"{line}; {hint}" if hint else line


async def _start(service: Service) -> None:
    try:
        await service.start()
    except Exception as exc:
        line = start_error_line(service.name, exc)
        if line is None:
            raise
        raise StartError(line) from None


async def run_services(core: Core, services: list[Service], stop: asyncio.Event) -> None:
    async with AsyncExitStack() as stack:
        # /readyz answers 503 "starting" until every front door below has started.
        webs = [service for service in services if isinstance(service, WebServer)]
        for web in webs:
            web.startup.begin()
        for service in services:
            await _start(service)
            stack.push_async_callback(service.stop)
            log.info("started %s", service.name)
        for web in webs:
            web.startup.finish()
        await stop.wait()
        log.info("shutting down: finishing in-flight replies and memory writes")
        # Readiness turns "draining" and no new answer starts; answers under way go on. Then the
        # front doors stop acknowledging (the platform redelivers elsewhere) and the intake worker
        # stops taking deliveries, letting those in hand finish (what does not fit in the grace
        # period stays in the intake for the next worker).
        core.orchestrator.stop_accepting()
        for service in services:
            if isinstance(service, EventSource):
                await service.stop_intake()
        await core.shutdown(core.settings.shutdown_grace_seconds)


async def _serve(core: Core, services: list[Service]) -> int:
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    try:
        await run_services(core, services, stop)
    except asyncio.CancelledError:
        log.warning("stopped without waiting for the grace period")
        return 1
    return 0


async def run_bot(settings: Settings, *, stdin: TextIO = sys.stdin) -> int:
    async with build_core(settings) as core:
        services = build_services(settings, core)
        if not services:
            if not stdin.isatty():
                print(NOTHING_TO_RUN, file=sys.stderr)
                return 2
            return await run_console(core, user="you", channel=None, is_dm=True)
        code = await _serve(core, services)
    log.info("stopped cleanly" if code == 0 else "stopped")
    return code


async def run_role(settings: Settings, role: Role) -> int:
    """`python -m bot web` (front doors only: acknowledge and record in the intake) or
    `python -m bot worker` (answers, memory writes and jobs; /healthz and /readyz on PORT)."""
    if role == "web" and not front_doors_configured(settings):
        print(NOTHING_TO_RUN, file=sys.stderr)
        return 2
    async with build_core(settings) as core:
        code = await _serve(core, build_services(settings, core, role=role))
    log.info(f"{role} stopped cleanly" if code == 0 else f"{role} stopped")
    return code


async def run_worker(settings: Settings) -> int:
    return await run_role(settings, "worker")


async def run_console(core: Core, *, user: str, channel: str | None, is_dm: bool) -> int:
    console = ConsoleAdapter(
        assistant=core.assistant,
        user=user,
        channel=channel,
        is_dm=is_dm,
        bot_name=core.settings.bot_name,
    )
    await console.run()
    grace = core.settings.shutdown_grace_seconds
    # Ctrl-C leaves at once: a write that does not finish within a second is kept for the retry job.
    await core.shutdown(min(grace, CONSOLE_INTERRUPT_GRACE_SECONDS) if console.interrupted else grace)
    return 0


async def run_console_mode(settings: Settings, *, user: str, channel: str | None, is_dm: bool) -> int:
    async with build_core(settings) as core:
        return await run_console(core, user=user, channel=channel, is_dm=is_dm)


# -- python -m bot jobs [list|run NAME] ---------------------------------------------------------
def _next_run(spec: JobSpec, now: datetime) -> datetime:
    every = spec.every.total_seconds()
    return datetime.fromtimestamp((int(now.timestamp() // every) + 1) * every, UTC)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_schedule(settings: Settings, *, now: datetime) -> str:
    """The table `python -m bot jobs list` prints."""
    options = job_options(settings)
    lines = [f"{'job':<22} {'every':<7} {'next run (UTC)':<20} what"]
    for spec in DEFAULT_SPECS:
        lines.append(
            f"{spec.name:<22} {_human(spec.every):<7} "
            f"{_next_run(spec, now):%Y-%m-%d %H:%M:%S}  {spec.description}"
        )
    retention = f"{settings.message_retention_days} days" if options.retention else "keep forever"
    scheduler = "on" if settings.scheduler_enabled else "off (SCHEDULER_ENABLED=false)"
    lines += [
        "",
        f"scheduler in `python -m bot run`: {scheduler}",
        f"session idle timeout: {_human(options.idle_timeout)}; message retention: {retention}",
        f"failed memory writes retried for {settings.memory_retry_max_age_hours:g}h; "
        f"memories merged at similarity >= {options.merge_similarity:g}",
        "Every process runs the same schedule; each run is claimed in the database, so one runs it.",
    ]
    return "\n".join(lines)


async def run_job_now(settings: Settings, name: str, *, out: TextIO = sys.stdout) -> int:
    """`python -m bot jobs run NAME`: run one job immediately in this process (no slot claim)."""
    names = [spec.name for spec in DEFAULT_SPECS]
    if name not in names:
        print(f"No job called '{name[:60]}'. Jobs: {', '.join(names)}.", file=sys.stderr)
        return 2
    async with build_core(settings) as core:
        try:
            result = await build_jobs(core).run(name)
        except UserFacingError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        except BotError as exc:
            log.warning("job failed job=%s (%s)", name, exc)
            print(f"{name} failed: {type(exc).__name__} (see the log above)", file=sys.stderr)
            return 1
        await core.shutdown(settings.shutdown_grace_seconds)
    print(f"{name}: {result.summary()}", file=out)
    return 0


__all__ = [
    "StartError",
    "format_schedule",
    "run_bot",
    "run_console_mode",
    "run_job_now",
    "run_role",
    "run_worker",
    "start_error_line",
]
