"""The long-running parts besides the core: chat adapters, web server, scheduler, intake worker.

Each is a `Service` with start()/stop(). `build_services` decides from settings and the process's
role which run. Each front door adds itself in its own block below.

Roles (`python -m bot web|worker|run`):
- "web": the front doors (Slack HTTP or Socket Mode, Discord gateway, HTTP API) and PORT. They
  record each message in the durable intake and acknowledge it; nothing is answered here.
- "worker": answers what the intake holds (the front doors' responders, through the platforms'
  Web/REST APIs), the memory writes that follow, and the background jobs; PORT serves health only.
- "run" (the default): both in one process.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from fastapi import APIRouter

from bot.intake_worker import WORKER_NICE, IntakeWorker
from bot.web import WebServer, create_web_app
from bot.wiring import Core
from config import Settings
from core.intake.dispatch import Dispatcher

Role = Literal["run", "web", "worker"]


class Service(Protocol):
    name: str

    async def start(self) -> None:
        """Connect and begin taking events; return once running (do not block forever)."""
        ...

    async def stop(self) -> None: ...


@runtime_checkable
class EventSource(Protocol):
    """A front door whose platform redelivers events that were not acknowledged (Slack)."""

    async def stop_intake(self) -> None:
        """Stop acknowledging new events (so the platform retries them later, elsewhere); keep
        delivering answers already in flight."""
        ...


def front_doors_configured(settings: Settings) -> bool:
    return settings.slack_enabled or settings.discord_enabled or settings.api_auth_enabled


def build_services(settings: Settings, core: Core, *, role: Role = "run") -> list[Service]:
    """Empty when no front door is configured in a "run" process (the caller then offers the
    console). The intake worker comes last: it starts once every responder is registered, and at
    shutdown it stops taking deliveries after the front doors stopped acknowledging."""
    if role == "run" and not front_doors_configured(settings):
        return []
    doors, answers = role in ("run", "web"), role in ("run", "worker")
    dispatcher = Dispatcher(intake=core.intake, clock=core.clock) if answers else None
    services: list[Service] = []
    routers: list[APIRouter] = []

    # --- Slack (adapters/slack) ---
    if settings.slack_enabled:
        from adapters.slack.service import SlackService

        slack = SlackService(settings, core.assistant, dispatcher=dispatcher, front_door=doors)
        services.append(slack)
        if doors and not settings.slack_socket_mode:
            routers.append(slack.router())  # POST /slack/events on PORT

    # --- Discord (adapters/discord): the gateway records messages + interactions, workers answer (REST) ---
    if settings.discord_enabled and doors:
        from adapters.discord.service import DiscordService

        services.append(DiscordService(settings=settings, assistant=core.assistant, intake=True))
    if settings.discord_enabled and dispatcher is not None:
        from adapters.discord.interaction_responders import InteractionResponder
        from adapters.discord.options import DiscordOptions
        from adapters.discord.responders import DiscordResponder

        options = DiscordOptions.from_settings(settings)
        discord_rest = DiscordResponder(
            settings=settings,
            assistant=core.assistant,
            dispatcher=dispatcher,
            edit_interval=options.edit_interval,
            typing_interval=options.typing_interval,
        )
        services.append(discord_rest)
        # /memory, its buttons and the context menus: answered through their webhooks, same client.
        InteractionResponder(assistant=core.assistant, rest=discord_rest.rest, dispatcher=dispatcher)

    # --- HTTP API (adapters/http) ---
    if settings.api_auth_enabled and doors:
        from adapters.http.api import build_api_router

        # /v1/... on PORT, docs at /docs; rate limits shared with the other processes when core.limits
        routers.append(build_api_router(core.assistant, settings, shared_limits=core.limits))
    if settings.api_auth_enabled and dispatcher is not None:
        from adapters.http.responders import ChatResponder

        ChatResponder(core.assistant).register(dispatcher)  # chats a dead web process held

    # --- Scheduler (core/jobs, bot/scheduler) ---
    if settings.scheduler_enabled and answers:
        from bot.scheduler import SchedulerService

        services.append(SchedulerService.for_core(core))

    # --- Intake worker (core/intake, bot/intake_worker): answers what the front doors accepted ---
    if dispatcher is not None:
        services.append(
            IntakeWorker(
                intake=core.intake,
                dispatcher=dispatcher,
                concurrency=settings.max_concurrent_replies,
                grace=settings.shutdown_grace_seconds,
                clock=core.clock,
                nice=WORKER_NICE if role == "worker" else 0,  # acks elsewhere on this machine go first
            )
        )

    web = WebServer(
        create_web_app(core, routers=routers),
        host=settings.host,
        port=settings.port,
        graceful_seconds=settings.shutdown_grace_seconds,
    )
    return [web, *services]
