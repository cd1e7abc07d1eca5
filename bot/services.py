"""The long-running parts besides the core: chat adapters, web server, scheduler.

Each is a `Service` with start()/stop(). `build_services` decides from settings which run.
"""

from __future__ import annotations

from typing import Protocol

from bot.wiring import Core
from config import Settings


class Service(Protocol):
    name: str

    async def start(self) -> None:
        """Connect and begin taking events; return once running (do not block forever)."""
        ...

    async def stop(self) -> None: ...


def chat_platforms_configured(settings: Settings) -> bool:
    return settings.slack_enabled or settings.discord_enabled


def build_services(settings: Settings, core: Core) -> list[Service]:
    services: list[Service] = []
    # Each front door adds itself here, in its own block.
    return services
