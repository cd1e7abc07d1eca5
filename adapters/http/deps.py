"""The /v1 endpoints' shared dependencies (the full-stack FastAPI template's deps.py): the
Assistant, the authenticated and rate-limited caller, pagination, and the per-router state.

`ApiServices` is the small container build_api_router fills once per router. The router's own
dependency (`ApiServices.attach`) puts it on the request; FastAPI resolves a router's
dependencies before the endpoint's, so the dependencies below find it there. That keeps every
endpoint a plain module-level function: importable, and testable on a router of its own.
"""

# No `from __future__ import annotations` here: FastAPI reads these annotations at runtime.

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute

from adapters.common.tasks import TaskTracker
from adapters.http import translate
from adapters.http.auth import Principal, TokenVerifier, bearer_token
from adapters.http.errors import ApiError, ErrorCode, not_found
from adapters.http.idempotency import IdempotencyCache
from adapters.http.login_throttle import LoginThrottle, Refusal, address_key
from adapters.http.ratelimit import RateLimiter, rate_limit_headers
from adapters.http.schemas import MAX_OFFSET, MAX_PAGE_SIZE
from adapters.http.supabase_auth import SupabaseAuth
from config import Settings
from core.admission import SwampedError
from core.assistant import Assistant
from core.models import Account

log = logging.getLogger(__name__)

_STATE_KEY = "api_services"


def log_chat_failure(name: str, error: BaseException) -> None:
    """A chat reply that failed. Logged here because a reply whose client left (a closed stream)
    is awaited by nobody; overload is an answer (a 503), not a failure."""
    if not isinstance(error, SwampedError):
        log.error("chat reply failed", exc_info=error)


def chat_tracker() -> TaskTracker:
    return TaskTracker("http", on_failure=log_chat_failure)


# eq=False: FastAPI keys its dependency cache on `attach`, so the container must hash by identity.
@dataclass(frozen=True, eq=False)
class ApiServices:
    """What the /v1 endpoints share; one per build_api_router call."""

    assistant: Assistant
    settings: Settings
    verifier: TokenVerifier
    limiter: RateLimiter
    # The /v1 router's routes, for the catch-all's "which methods would work here" (405 vs 404).
    routes: Sequence[BaseRoute]
    # Sign-up and sign-in through Supabase Auth; None unless SUPABASE_URL + SUPABASE_ANON_KEY.
    supabase_auth: SupabaseAuth | None = None
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    idempotency: IdempotencyCache = field(default_factory=IdempotencyCache)
    # Chat replies outlive their request when a stream's client goes away: the reply is still
    # stored and remembered. The tracker holds them until they end.
    chat_replies: TaskTracker = field(default_factory=chat_tracker)

    def attach(self, request: Request) -> None:
        """The /v1 router's dependency: makes this container the request's."""
        setattr(request.state, _STATE_KEY, self)


def api_services(request: Request) -> ApiServices:
    services = getattr(request.state, _STATE_KEY, None)
    if not isinstance(services, ApiServices):
        raise RuntimeError(
            "a /v1 endpoint was served without ApiServices.attach among its router's dependencies"
        )
    return services


Services = Annotated[ApiServices, Depends(api_services)]


def get_assistant(services: Services) -> Assistant:
    return services.assistant


AssistantDep = Annotated[Assistant, Depends(get_assistant)]


def get_supabase_auth(services: Services) -> SupabaseAuth:
    if services.supabase_auth is None:
        raise ApiError(
            501,
            ErrorCode.NOT_CONFIGURED,
            "Sign-up and sign-in through Mnemo are not enabled on this server: set SUPABASE_URL and "
            "SUPABASE_ANON_KEY.",
        )
    return services.supabase_auth


SupabaseAuthDep = Annotated[SupabaseAuth, Depends(get_supabase_auth)]


def client_address(request: Request) -> str:
    """The key of the client's address for the sign-in throttle (behind a proxy: what uvicorn's
    FORWARDED_ALLOW_IPS lets it read from X-Forwarded-For)."""
    return address_key(request.client.host if request.client is not None else None)


ClientAddress = Annotated[str, Depends(client_address)]


def throttled(refusal: Refusal | None, *, what: str) -> None:
    """A 429 with Retry-After when the sign-in throttle refused the attempt."""
    if refusal is None:
        return
    seconds = refusal.decision.retry_after_seconds
    whose = "for this email address" if refusal.scope == "email" else "from your network address"
    raise ApiError(
        429,
        ErrorCode.RATE_LIMITED,
        f"Too many {what} {whose}; try again in {seconds} s.",
        headers={"Retry-After": str(seconds)},
    )


bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="A Supabase Auth access token (the session's access_token).",
)


async def authenticate(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    services: Services,
) -> Principal:
    """The caller behind the bearer token, after one request is taken from their rate limit."""
    # Parsed by hand (not from HTTPBearer) so each malformed header gets its own clear 401.
    principal = await services.verifier.verify(bearer_token(request.headers.get("authorization")))
    decision = await services.limiter.hit(principal.subject)
    request.state.rate = decision
    if not decision.allowed:
        raise ApiError(
            429,
            ErrorCode.RATE_LIMITED,
            f"Too many requests: at most {decision.limit} per minute. "
            f"Retry in {decision.retry_after_seconds} s.",
            headers={"Retry-After": str(decision.retry_after_seconds), **rate_limit_headers(decision)},
        )
    return principal


Caller = Annotated[Principal, Depends(authenticate)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]


async def account_of(assistant: Assistant, principal: Principal) -> Account:
    """The caller's account, created on first use with the token's display name."""
    return await assistant.account(principal.identity, display_name=principal.display_name)


async def require_session(assistant: Assistant, principal: Principal, session_id: uuid.UUID) -> None:
    """A 404 unless the session is the caller's (another person's id looks like no id at all)."""
    if not await assistant.has_conversation(translate.web_conversation(principal, session_id)):
        raise not_found("session")
