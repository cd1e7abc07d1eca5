"""The one ASGI app (FastAPI) on PORT, served by uvicorn inside the bot's event loop.

Front doors contribute routers (Slack's /slack/events, the HTTP API's /v1); this module owns the
server lifecycle and the operational endpoints:
- GET /healthz: the process is up and serving (liveness; never touches a dependency).
- GET /readyz: readiness. 503 "starting" until every front door of the process has started, 503
  "draining" once shutdown began. Then storage, memory store and model endpoint are each checked
  with a short timeout: all answer -> 200 "ok"; the model or the memory store fails -> 200
  "degraded" with the failing checks named (Mnemo still answers, with an apology or without
  memories, so taking every replica out of the load balancer would only make things worse);
  storage fails -> 503 "unavailable" (nothing can be answered). Error entries say only "timeout"
  or the error's class, never its text: exception messages can carry URLs, hosts or keys.
- GET /metrics: Prometheus text (core.metrics), names starting with `mnemo_`.
- GET /docs and /redoc: the OpenAPI pages with their scripts served from this process
  (fastapi-offline bundles swagger-ui and redoc), so they work without reaching a CDN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from bot.wiring import Core
from core.metrics import QueueDepths, exposition

log = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS = 3.0
# Load balancers poll /readyz every few seconds; one check shared by the requests of a short
# window keeps that from becoming a stream of model API calls (and a way to amplify traffic).
READINESS_CACHE_SECONDS = 5.0
# Without these Mnemo answers nothing; the others failing leaves it answering, worse (degraded).
ESSENTIAL_CHECKS = frozenset({"storage"})


class Readiness:
    """Checks each dependency concurrently with a timeout; caches the verdict briefly."""

    def __init__(self, core: Core, *, timeout: float, cache_seconds: float) -> None:
        self._core = core
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._lock = asyncio.Lock()
        self._cached: tuple[float, bool, dict[str, Any]] | None = None

    def _checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {
            "storage": self._core.store.ping,
            "memory": self._core.memory.ping,
            "model": self._core.model.ping,
        }

    async def _one(self, name: str, check: Callable[[], Awaitable[None]]) -> dict[str, Any]:
        begin = time.perf_counter()
        try:
            await asyncio.wait_for(check(), timeout=self._timeout)
        except TimeoutError:
            log.warning("readiness: %s did not answer within %.1fs", name, self._timeout)
            return {"status": "fail", "error": "timeout"}
        except Exception as exc:
            # The class name only: the text may hold a URL with credentials (the log line is
            # redacted by bot.logging_setup, the response is public).
            log.warning("readiness: %s failed (%s: %s)", name, type(exc).__name__, exc)
            return {"status": "fail", "error": type(exc).__name__}
        return {"status": "ok", "latency_ms": round((time.perf_counter() - begin) * 1000, 1)}

    async def check(self) -> tuple[bool, dict[str, Any]]:
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self._cache_seconds:
                return self._cached[1], self._cached[2]
            names = list(self._checks())
            results = await asyncio.gather(*(self._one(n, c) for n, c in self._checks().items()))
            checks = dict(zip(names, results, strict=True))
            ok = all(r["status"] == "ok" for r in results)
            self._cached = (time.monotonic(), ok, checks)
            return ok, checks


def readiness_verdict(checks: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The /readyz status code and body for these check results."""
    failing = sorted(name for name, check in checks.items() if check["status"] != "ok")
    if not failing:
        return 200, {"status": "ok", "checks": checks}
    if ESSENTIAL_CHECKS.intersection(failing):
        return 503, {"status": "unavailable", "failing": failing, "checks": checks}
    return 200, {"status": "degraded", "failing": failing, "checks": checks}


class Startup:
    """Whether every service of the process has started (bot.app.run_services says so). An app
    served on its own (tests, tools) counts as started."""

    def __init__(self) -> None:
        self.done = True

    def begin(self) -> None:
        self.done = False

    def finish(self) -> None:
        self.done = True


def queue_depths(core: Core) -> CollectorRegistry:
    """This core's queues, read at scrape time."""
    registry = CollectorRegistry(auto_describe=False)
    admission = core.admission
    registry.register(
        QueueDepths(
            {
                "mnemo_memory_write_queue": (
                    "Memory writes queued in this process.",
                    lambda: core.writer.pending,
                ),
                "mnemo_replies_waiting": (
                    "Replies waiting for their turn (admission).",
                    lambda: admission.waiting,
                ),
                "mnemo_replies_active": ("Replies being written now.", lambda: admission.limit.active),
                "mnemo_replies_limit": (
                    "Replies allowed at once now (adapts to event-loop lag).",
                    lambda: admission.limit.limit,
                ),
            }
        )
    )
    return registry


def create_web_app(
    core: Core,
    *,
    routers: Sequence[APIRouter] = (),
    readiness_timeout: float = READINESS_TIMEOUT_SECONDS,
    readiness_cache_seconds: float = READINESS_CACHE_SECONDS,
) -> FastAPI:
    # FastAPIOffline: a FastAPI whose /docs and /redoc load their assets from this process.
    app = FastAPIOffline(title="Mnemo", version="0.1.0")
    readiness = Readiness(core, timeout=readiness_timeout, cache_seconds=readiness_cache_seconds)
    startup = Startup()
    depths = queue_depths(core)

    # HEAD too: some uptime checkers and platforms probe with HEAD.
    @app.get("/healthz", tags=["health"])
    @app.head("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    @app.head("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        if not core.orchestrator.accepting:
            # Shutting down: tell the load balancer to send new traffic elsewhere.
            return JSONResponse({"status": "draining", "checks": {}}, status_code=503)
        if not startup.done:
            return JSONResponse({"status": "starting", "checks": {}}, status_code=503)
        _, checks = await readiness.check()
        status_code, body = readiness_verdict(checks)
        return JSONResponse(body, status_code=status_code)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(exposition(depths), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    if core.settings.api_cors_origins:
        # Browser apps on other origins may call the API with a bearer token (no cookies).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=core.settings.api_cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept", "Idempotency-Key"],
            expose_headers=["Retry-After"],
            max_age=600,
        )
    app.state.core = core
    app.state.startup = startup
    return app


class WebStartError(RuntimeError):
    """The web server could not start (the port is in use, the host is not ours...)."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process owns SIGINT/SIGTERM (bot.app): it drains replies before the server stops.
        # uvicorn's default would take both signals over and shut the server down first.
        yield


class WebServer:
    """uvicorn as a Service: start() returns once the socket listens; stop() lets requests finish
    (up to `graceful_seconds`, then open connections such as streams are closed)."""

    name = "web"

    def __init__(self, app: FastAPI, *, host: str, port: int, graceful_seconds: float = 10.0) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=max(1, int(graceful_seconds)),
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None
        self.startup: Startup = getattr(app.state, "startup", Startup())

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self._server.config.port)

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:
            # uvicorn calls sys.exit() when it cannot bind; out of a task that would end the
            # whole process with a traceback instead of one clear line.
            config = self._server.config
            raise WebStartError(
                f"could not listen on {config.host}:{config.port} (is another process using PORT?)"
            ) from None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="web-server")
        while not self._server.started:
            if self._task.done():
                await self._task  # re-raise the start-up failure (port in use...)
                raise WebStartError("the web server stopped during start-up")
            await asyncio.sleep(0.01)
        log.info("web server listening on port %d", self.port)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None
