"""The one ASGI app (FastAPI) on PORT, served by uvicorn inside the bot's event loop.

Front doors contribute routers (Slack's /slack/events, the HTTP API's /v1); this module owns the
server lifecycle and the health endpoints.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import uvicorn
from fastapi import APIRouter, FastAPI

from bot.wiring import Core

log = logging.getLogger(__name__)


def create_web_app(core: Core, *, routers: Sequence[APIRouter] = ()) -> FastAPI:
    app = FastAPI(title="Mnemo", version="0.1.0")

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for router in routers:
        app.include_router(router)
    app.state.core = core
    return app


class WebServer:
    """uvicorn as a Service: start() returns once the socket listens; stop() lets requests finish."""

    name = "web"

    def __init__(self, app: FastAPI, *, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        # The process installs its own SIGINT/SIGTERM handling (bot.app); uvicorn must not.
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self._server.config.port)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="web-server")
        while not self._server.started:
            if self._task.done():
                await self._task  # re-raise the start-up failure (port in use...)
                raise RuntimeError("web server stopped during start-up")
            await asyncio.sleep(0.01)
        log.info("web server listening on port %d", self.port)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None
