"""The HTTP API under /v1: chat, sessions, memory profiles and account links, for web and mobile
clients.

`build_api_router(assistant, settings)` returns the router that bot/services.py mounts on the one
web server. It assembles one router per resource (routes/) and gives them the state they share
(deps.ApiServices: the Assistant, the token verifier, the rate limiter, Supabase Auth and the
sign-in throttle, the idempotency cache and the in-flight chat replies), one per router built.
Everything goes through the same core as Slack and Discord, through the Assistant facade.

The interactive docs (/docs, /redoc) and /openapi.json belong to the web app (bot/web.py), which
serves swagger-ui and redoc from the process itself (fastapi-offline): they work with no CDN.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from adapters.http.api_route import ApiRoute
from adapters.http.auth import TokenVerifier
from adapters.http.deps import ApiServices
from adapters.http.errors import ERROR_RESPONSES
from adapters.http.login_throttle import LoginThrottle
from adapters.http.ratelimit import RateLimiter
from adapters.http.routes import PREFIX, auth, chat, fallback, links, memory, sessions
from adapters.http.supabase_auth import SupabaseAuth
from config import Settings
from core.assistant import Assistant
from core.limits import Buckets

# In this order: the OpenAPI document lists them so, and the catch-all must come last.
RESOURCE_ROUTERS = (auth.router, chat.router, sessions.router, memory.router, links.router)


def build_api_router(
    assistant: Assistant,
    settings: Settings,
    *,
    verifier: TokenVerifier | None = None,
    limiter: RateLimiter | None = None,
    login_throttle: LoginThrottle | None = None,
    shared_limits: Buckets | None = None,
) -> APIRouter:
    """The /v1 router. `verifier`/`limiter`/`login_throttle` default to the ones the settings
    describe; their buckets are `shared_limits` when given (every web process draws from them)."""
    verifier = verifier if verifier is not None else TokenVerifier.from_settings(settings)
    # `is None`, not `or`: an empty RateLimiter is falsy (it has a length).
    if limiter is None:
        limiter = RateLimiter(settings.api_rate_limit_per_minute, shared=shared_limits)
    router = APIRouter(prefix=PREFIX, route_class=ApiRoute, responses=ERROR_RESPONSES)
    services = ApiServices(
        assistant=assistant,
        settings=settings,
        verifier=verifier,
        limiter=limiter,
        routes=router.routes,
        supabase_auth=SupabaseAuth.from_settings(settings),
        login_throttle=login_throttle if login_throttle is not None else LoginThrottle(shared=shared_limits),
    )
    for resource in (*RESOURCE_ROUTERS, fallback.router):
        router.include_router(resource, dependencies=[Depends(services.attach)])
    return router
