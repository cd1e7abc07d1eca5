"""The long-running parts besides the core: chat adapters, web server, scheduler.

Each is a `Service` with start()/stop(). `build_services` decides from settings which run.
Each front door adds itself in its own block below.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from fastapi import APIRouter

from bot.web import WebServer, create_web_app
from bot.wiring import Core
from config import Settings


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


def build_services(settings: Settings, core: Core) -> list[Service]:
    """Empty when no front door is configured (the caller then offers the console)."""
    if not front_doors_configured(settings):
        return []
    services: list[Service] = []
    routers: list[APIRouter] = []

    # --- Slack (adapters/slack) ---
    if settings.slack_enabled:
        from adapters.slack.service import SlackService

        slack = SlackService(settings, core.assistant)
        services.append(slack)
        if not settings.slack_socket_mode:
            routers.append(slack.router())  # POST /slack/events on PORT

    # --- Discord (adapters/discord) ---
    if settings.discord_enabled:
        from adapters.discord.service import DiscordService

        services.append(DiscordService(settings=settings, assistant=core.assistant))

    # --- HTTP API (adapters/http) ---
    if settings.api_auth_enabled:
        from adapters.http.api import build_api_router

        # /v1/... on PORT, docs at /docs; rate limits shared with the other processes when core.limits
        routers.append(build_api_router(core.assistant, settings, shared_limits=core.limits))

    # --- Scheduler (core/jobs, bot/scheduler) ---
    if settings.scheduler_enabled:
        from bot.scheduler import SchedulerService

        services.append(SchedulerService.for_core(core))

    web = WebServer(
        create_web_app(core, routers=routers),
        host=settings.host,
        port=settings.port,
        graceful_seconds=settings.shutdown_grace_seconds,
    )
    return [web, *services]
