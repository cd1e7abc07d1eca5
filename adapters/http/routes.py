"""The HTTP API under /v1: chat, sessions and memory profiles, for web and mobile clients.

`build_api_router(core, settings)` returns the router that bot/services.py mounts on the one web
server. Everything here goes through the same core as Slack and Discord: `Orchestrator.handle` for
chat, `MemoryCommands` for the memory profile (the same code as `/memory`), the Store port for
sessions.

Every route uses `_ApiRoute`, which (before FastAPI parses anything) caps the body size and checks
its media type, and turns every failure into the one JSON error shape (errors.py): FastAPI's
validation errors, our ApiError, core's NotFoundError/UserFacingError/DependencyError, and any bug
(500, logged, never its text).
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at runtime,
# and the dependencies they name (Caller, Offset...) are local to build_api_router.

import asyncio
import email.message
import hashlib
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, Security
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Message

from adapters.common.body import BodyTooLarge, UnreadableBody, read_capped_body
from adapters.http import translate
from adapters.http.auth import Principal, TokenVerifier, bearer_token
from adapters.http.errors import (
    ERROR_RESPONSES,
    ApiError,
    ErrorCode,
    ErrorDetail,
    not_found,
    service_unavailable,
    validation_error,
)
from adapters.http.links import add_link_routes
from adapters.http.ratelimit import Decision, RateLimiter
from adapters.http.schemas import (
    DEFAULT_PAGE_SIZE,
    MAX_MEMORY_ID_CHARS,
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    MAX_QUERY_CHARS,
    AccountOut,
    ChatRequest,
    ChatResponse,
    ErasureResult,
    MemoryExport,
    MemoryProfile,
    MemoryProfileStatus,
    MemoryProfileUpdate,
    MessageList,
    SessionList,
)
from config import Settings
from core.admission import SwampedError
from core.assistant import Assistant
from core.commands import Command, CommandName
from core.errors import DependencyError, NotFoundError, UserFacingError
from core.models import Account, Platform, Reply, ReplyKind
from core.replies import STORAGE_DOWN_REPLY

log = logging.getLogger(__name__)

PREFIX = "/v1"
# A 16,000-character message JSON-escaped as \uXXXX pairs (emoji) is ~192 KB; nothing else is big.
MAX_BODY_BYTES = 256 * 1024
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
IDEMPOTENCY_MAX_ENTRIES = 10_000
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


# -- the route class: body limits and one error shape ---------------------------------------------


def _too_large() -> ApiError:
    return ApiError(
        413,
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB.",
    )


async def _read_body(request: Request) -> Request:
    """The request with its body read once, refused past MAX_BODY_BYTES (declared or actually sent),
    and replayed to FastAPI from memory."""
    try:
        body = await read_capped_body(request, limit=MAX_BODY_BYTES)
    except BodyTooLarge:
        raise _too_large() from None
    except UnreadableBody as exc:
        raise ApiError(400, ErrorCode.BAD_REQUEST, f"The body could not be read: {exc}.") from None
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await request.receive()  # after the body: the disconnect, when it comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    read = Request(request.scope, receive=replay)
    if body and request.method in _BODY_METHODS:
        content_type = request.headers.get("content-type", "")
        parsed = email.message.Message()
        parsed["content-type"] = content_type
        subtype = parsed.get_content_subtype()
        if parsed.get_content_maintype() != "application" or not (
            subtype == "json" or subtype.endswith("+json")
        ):
            raise ApiError(
                415,
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "Send the body as JSON with 'Content-Type: application/json'.",
            )
    return read


def _error_for(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        return validation_error(exc)
    if isinstance(exc, StarletteHTTPException):
        # FastAPI's own refusals, e.g. a body that is not UTF-8/16/32 JSON ("error parsing the body").
        if exc.status_code == 400:
            return ApiError(
                400, ErrorCode.BAD_REQUEST, "The body could not be read: send UTF-8 encoded JSON."
            )
        if exc.status_code == 413:
            return _too_large()
        code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.BAD_REQUEST
        return ApiError(exc.status_code, code, str(exc.detail)[:200], headers=exc.headers)
    if isinstance(exc, SwampedError):
        return ApiError(
            503,
            ErrorCode.OVERLOADED,
            "Too many replies are waiting; nothing was stored. Send the message again shortly.",
            headers={"Retry-After": str(SwampedError.retry_after_seconds)},
        )
    if isinstance(exc, NotFoundError):
        return ApiError(404, ErrorCode.NOT_FOUND, "No memory with this id.")
    if isinstance(exc, UserFacingError):
        return ApiError(400, ErrorCode.BAD_REQUEST, str(exc))
    if isinstance(exc, DependencyError):
        # The cause is logged where it happened; its text may name hosts or keys.
        log.warning("dependency failed under the HTTP API: %s", type(exc).__name__)
        return service_unavailable("A service Mnemo depends on is unavailable; try again shortly.")
    log.exception("unexpected error in the HTTP API", exc_info=exc)
    return ApiError(500, ErrorCode.INTERNAL_ERROR, "Something went wrong on our side.")


def _rate_headers(decision: Decision) -> dict[str, str]:
    return {"RateLimit-Limit": str(decision.limit), "RateLimit-Remaining": str(decision.remaining)}


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _check_query(request: Request, allowed: set[str]) -> None:
    # Like the bodies' extra="forbid": `?limt=5` is a typo the client should hear about.
    unknown = sorted({name for name in request.query_params if name not in allowed})
    if unknown:
        names = ", ".join(repr(name[:40]) for name in unknown[:5])
        known = ", ".join(sorted(allowed)) or "none"
        raise ApiError(
            422,
            ErrorCode.VALIDATION_ERROR,
            f"Unknown query parameter {names} (this endpoint takes: {known}).",
            details=[
                ErrorDetail(field=f"query.{name[:40]}", message="unknown query parameter") for name in unknown
            ],
        )


class _ApiRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        allowed_query = _query_names(self.dependant)

        async def run(request: Request) -> Response:
            try:
                _check_query(request, allowed_query)
                response = await handler(await _read_body(request))
            except Exception as exc:
                response = _error_for(exc).response()
            decision: Decision | None = getattr(request.state, "rate", None)
            if decision is not None:
                response.headers.update(_rate_headers(decision))
            return response

        return run


# -- idempotent chat ------------------------------------------------------------------------------

ChatOutcome = ChatResponse | ApiError


@dataclass
class _Pending:
    fingerprint: str
    task: asyncio.Task[ChatOutcome]
    created: float


class IdempotencyCache:
    """Chat outcomes by (subject, Idempotency-Key), so a retry gets the first answer instead of a
    second one. The store's event claim makes the key exactly-once across processes and restarts;
    this cache (per process, bounded, 24 h) is what lets the retry see the original reply."""

    def __init__(
        self,
        *,
        ttl: float = IDEMPOTENCY_TTL_SECONDS,
        max_entries: int = IDEMPOTENCY_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Pending] = OrderedDict()

    def get(self, key: tuple[str, str]) -> _Pending | None:
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.created > self._ttl:
            del self._entries[key]
            return None
        return entry

    def drop_if_swamped(self, key: tuple[str, str], task: asyncio.Task[ChatOutcome]) -> None:
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry.task is task
            and not task.cancelled()
            and isinstance(task.exception(), SwampedError)
        ):
            del self._entries[key]

    def put(self, key: tuple[str, str], fingerprint: str, task: asyncio.Task[ChatOutcome]) -> None:
        self._entries[key] = _Pending(fingerprint, task, self._clock())
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


def _fingerprint(body: ChatRequest) -> str:
    return hashlib.sha256(f"{body.session_id or ''}\n{body.message}".encode()).hexdigest()


def _wants_stream(accept: str | None) -> bool:
    return accept is not None and any(
        part.split(";", 1)[0].strip().lower() == "text/event-stream" for part in accept.split(",")
    )


# -- the router ---------------------------------------------------------------------------------------


def build_api_router(
    assistant: Assistant,
    settings: Settings,
    *,
    verifier: TokenVerifier | None = None,
    limiter: RateLimiter | None = None,
) -> APIRouter:
    """The /v1 router. `verifier`/`limiter` default to the ones the settings describe."""
    verifier = verifier if verifier is not None else TokenVerifier.from_settings(settings)
    # `is None`, not `or`: an empty RateLimiter is falsy (it has a length).
    limiter = limiter if limiter is not None else RateLimiter(settings.api_rate_limit_per_minute)
    idempotency = IdempotencyCache()
    # Chat tasks outlive their request when a stream's client goes away: the reply is still
    # stored and remembered. Strong references keep them from being garbage-collected.
    running: set[asyncio.Task[ChatOutcome]] = set()
    router = APIRouter(prefix=PREFIX, route_class=_ApiRoute, responses=ERROR_RESPONSES)
    bearer = HTTPBearer(
        auto_error=False,
        bearerFormat="JWT",
        description="A Supabase Auth access token (the session's access_token).",
    )

    async def authenticate(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> Principal:
        # Parsed by hand (not from HTTPBearer) so each malformed header gets its own clear 401.
        principal = await verifier.verify(bearer_token(request.headers.get("authorization")))
        decision = limiter.hit(principal.subject)
        request.state.rate = decision
        if not decision.allowed:
            raise ApiError(
                429,
                ErrorCode.RATE_LIMITED,
                f"Too many requests: at most {decision.limit} per minute. "
                f"Retry in {decision.retry_after_seconds} s.",
                headers={"Retry-After": str(decision.retry_after_seconds), **_rate_headers(decision)},
            )
        return principal

    Caller = Annotated[Principal, Depends(authenticate)]
    Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
    Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]

    async def account_of(principal: Principal) -> Account:
        return await assistant.account(principal.identity, display_name=principal.display_name)

    async def run_command(principal: Principal, command: Command) -> Any:
        return await assistant.run_command(principal.identity, command, display_name=principal.display_name)

    async def require_session(principal: Principal, session_id: uuid.UUID) -> None:
        if not await assistant.has_conversation(translate.web_conversation(principal, session_id)):
            raise not_found("session")

    # -- auth ------------------------------------------------------------------------------------

    @router.get("/auth/me", response_model=AccountOut, tags=["auth"], summary="The caller's account")
    async def auth_me(principal: Caller) -> AccountOut:
        """The account behind the bearer token, created on first use (platform `web`)."""
        account = await account_of(principal)
        account_settings = await assistant.settings(principal.identity)
        return AccountOut(
            account_id=account.id,
            subject=principal.subject,
            display_name=account.display_name,
            email=principal.email,
            memory_paused=account_settings.memory_paused,
            created_at=account.created_at,
        )

    # -- chat ------------------------------------------------------------------------------------

    def outcome_of(reply: Reply | None, session_id: uuid.UUID) -> ChatOutcome:
        if reply is None:
            if not assistant.accepting:
                return service_unavailable(
                    "Mnemo is restarting; try again shortly.", code=ErrorCode.SHUTTING_DOWN
                )
            return ApiError(
                409,
                ErrorCode.DUPLICATE_REQUEST,
                "This Idempotency-Key was already used: the message was handled once. "
                "Read the session's messages for the reply.",
            )
        if reply.kind is ReplyKind.APOLOGY and reply.session_id is None:
            # The store failed before the session existed: nothing to continue, so no 200.
            return service_unavailable(STORAGE_DOWN_REPLY)
        return translate.chat_response(reply, session_id)

    async def answer(
        principal: Principal,
        body: ChatRequest,
        session_id: uuid.UUID,
        message_id: str,
        on_delta: Callable[[str], Coroutine[Any, Any, None]] | None,
    ) -> ChatOutcome:
        message = translate.to_incoming(
            principal, text=body.message, session_id=session_id, message_id=message_id, now=assistant.clock()
        )
        reply = await assistant.handle(message, on_delta=on_delta)
        return outcome_of(reply, session_id)

    def start(coro: Coroutine[Any, Any, ChatOutcome]) -> asyncio.Task[ChatOutcome]:
        task = asyncio.create_task(coro, name="http-chat")
        running.add(task)
        task.add_done_callback(running.discard)
        task.add_done_callback(_reap)
        return task

    async def stream_events(
        task: asyncio.Task[ChatOutcome], deltas: asyncio.Queue[str | None] | None
    ) -> AsyncIterator[ServerSentEvent]:
        if deltas is not None:
            while (chunk := await deltas.get()) is not None:
                yield ServerSentEvent(data=json.dumps({"text": chunk}), event="delta")
        outcome = await _settle(task)
        if isinstance(outcome, ApiError):
            yield ServerSentEvent(data=outcome.body().model_dump_json(), event="error")
            return
        if deltas is None:  # a replayed answer: the whole text at once
            yield ServerSentEvent(data=json.dumps({"text": outcome.text}), event="delta")
        yield ServerSentEvent(data=outcome.model_dump_json(), event="done")

    @router.post(
        "/chat",
        response_model=ChatResponse,
        tags=["chat"],
        summary="Send a message, get the reply (JSON, or streamed as server-sent events)",
        responses={
            200: {
                "description": "The reply. With `Accept: text/event-stream`: `delta` events "
                '(`{"text": ...}`), then one `done` event (the ChatResponse; its `text` is '
                "authoritative) or one `error` event (the error body).",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            404: {"description": "No such session for this caller"},
            409: {"description": "Idempotency-Key already used (handled once, reply not available here)"},
            503: {
                "description": "Overloaded (code `overloaded`: nothing was stored, retry after "
                "`Retry-After` seconds, with the same Idempotency-Key if you sent one), shutting "
                "down, or a dependency is unavailable"
            },
        },
    )
    async def chat(
        principal: Caller,
        body: ChatRequest,
        accept: Annotated[str | None, Header()] = None,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=255,
                pattern=r"^[\x21-\x7e]+$",
                description="Retry-safe: the same key (with the same body) is answered once.",
            ),
        ] = None,
    ) -> Any:
        if not assistant.accepting:
            raise service_unavailable("Mnemo is restarting; try again shortly.", code=ErrorCode.SHUTTING_DOWN)
        streaming = _wants_stream(accept)
        cache_key = (principal.subject, idempotency_key) if idempotency_key else None
        if cache_key is not None:
            earlier = idempotency.get(cache_key)
            if earlier is not None:
                if earlier.fingerprint != _fingerprint(body):
                    raise ApiError(
                        422,
                        ErrorCode.IDEMPOTENCY_KEY_REUSED,
                        "This Idempotency-Key was used for a different request; use a new key.",
                    )
                if streaming:
                    return EventSourceResponse(stream_events(earlier.task, None))
                return _final(await _settle(earlier.task))
        if body.session_id is not None:
            await require_session(principal, body.session_id)
        session_id = body.session_id or uuid.uuid4()
        message_id = f"key:{idempotency_key}" if idempotency_key else uuid.uuid4().hex

        deltas: asyncio.Queue[str | None] | None = asyncio.Queue() if streaming else None

        async def on_delta(chunk: str) -> None:
            if deltas is not None:
                deltas.put_nowait(chunk)

        task = start(answer(principal, body, session_id, message_id, on_delta if streaming else None))
        if deltas is not None:
            queue = deltas
            task.add_done_callback(lambda _: queue.put_nowait(None))
        if cache_key is not None:
            idempotency.put(cache_key, _fingerprint(body), task)
            # Refused for load, nothing was handled: the same key must work again later.
            task.add_done_callback(lambda done: idempotency.drop_if_swamped(cache_key, done))
        if streaming:
            return EventSourceResponse(stream_events(task, deltas), headers={"Cache-Control": "no-store"})
        return _final(await _settle(task))

    # -- sessions --------------------------------------------------------------------------------

    @router.get("/sessions", response_model=SessionList, tags=["sessions"], summary="The caller's sessions")
    async def list_sessions(
        principal: Caller, offset: Offset = 0, limit: Limit = DEFAULT_PAGE_SIZE
    ) -> SessionList:
        """Most recently active first."""
        page = await assistant.conversations(
            platform=Platform.WEB,
            workspace=translate.WORKSPACE,
            channel=principal.subject,
            offset=offset,
            limit=limit,
        )
        items = [
            translate.session_out(s)
            for s in page.items
            if translate.is_web_session_thread(s.conversation.thread)
        ]
        return SessionList(
            items=items,
            offset=offset,
            limit=limit,
            total=page.total,
            has_more=offset + len(page.items) < page.total,
        )

    SessionId = Annotated[uuid.UUID, Path(description="A session id from POST /v1/chat or GET /v1/sessions.")]

    @router.get(
        "/sessions/{session_id}/messages",
        response_model=MessageList,
        tags=["sessions"],
        summary="A session's messages, oldest first",
        responses={404: {"description": "No such session for this caller"}},
    )
    async def session_messages(
        principal: Caller, session_id: SessionId, offset: Offset = 0, limit: Limit = DEFAULT_PAGE_SIZE
    ) -> MessageList:
        await require_session(principal, session_id)
        page = await assistant.conversation_messages(
            translate.web_conversation(principal, session_id), offset=offset, limit=limit
        )
        return MessageList(
            session_id=session_id,
            items=[translate.message_out(m) for m in page.items],
            offset=offset,
            limit=limit,
            total=page.total,
            has_more=offset + len(page.items) < page.total,
        )

    @router.delete(
        "/sessions/{session_id}",
        status_code=204,
        response_class=Response,
        tags=["sessions"],
        summary="Delete a session and its messages",
        responses={404: {"description": "No such session for this caller"}},
    )
    async def delete_session(principal: Caller, session_id: SessionId) -> Response:
        """What was learned in it stays in the memory profile (forget it there)."""
        deleted = await assistant.delete_conversation(translate.web_conversation(principal, session_id))
        if not deleted:
            raise not_found("session")
        return Response(status_code=204)

    # -- memory profile --------------------------------------------------------------------------

    @router.get(
        "/memory-profiles/me",
        response_model=MemoryProfile,
        tags=["memory"],
        summary="What Mnemo remembers about the caller",
    )
    async def memory_profile(
        principal: Caller,
        offset: Offset = 0,
        limit: Limit = DEFAULT_PAGE_SIZE,
        q: Annotated[
            str | None,
            Query(max_length=MAX_QUERY_CHARS, description="Search: most relevant first instead of newest."),
        ] = None,
    ) -> MemoryProfile:
        account = await account_of(principal)
        query = q.strip() if q and q.strip() else None
        account_settings, page = await assistant.memory_page(
            principal.identity, offset=offset, limit=limit, query=query
        )
        return MemoryProfile(
            account_id=account.id,
            memory_paused=account_settings.memory_paused,
            query=query,
            items=[translate.memory_out(item) for item in page.items],
            offset=offset,
            limit=limit,
            total=page.total,
            has_more=page.has_more,
        )

    @router.delete(
        "/memory-profiles/me/memories/{memory_id}",
        status_code=204,
        response_class=Response,
        tags=["memory"],
        summary="Forget one memory",
        responses={404: {"description": "No such memory for this caller"}},
    )
    async def forget_memory(
        principal: Caller,
        memory_id: Annotated[str, Path(min_length=1, max_length=MAX_MEMORY_ID_CHARS)],
    ) -> Response:
        await run_command(principal, Command(CommandName.FORGET, argument=memory_id))
        return Response(status_code=204)

    @router.delete(
        "/memory-profiles/me",
        response_model=ErasureResult,
        tags=["memory"],
        summary="Erase everything: memories, stored messages, sessions",
    )
    async def erase_profile(principal: Caller) -> ErasureResult:
        """The same erasure as `/memory forget all` (confirmed), plus the caller's web sessions."""
        result = await run_command(principal, Command(CommandName.FORGET_ALL, confirmed=True))
        sessions = await assistant.erase_conversations(
            platform=Platform.WEB, workspace=translate.WORKSPACE, channel=principal.subject
        )
        return ErasureResult(erased=True, sessions_deleted=sessions, message=result.text)

    @router.patch(
        "/memory-profiles/me",
        response_model=MemoryProfileStatus,
        tags=["memory"],
        summary="Pause or resume remembering",
    )
    async def update_profile(principal: Caller, body: MemoryProfileUpdate) -> MemoryProfileStatus:
        name = CommandName.PAUSE if body.memory_paused else CommandName.RESUME
        result = await run_command(principal, Command(name))
        account = await account_of(principal)
        account_settings = await assistant.settings(principal.identity)
        return MemoryProfileStatus(
            account_id=account.id, memory_paused=account_settings.memory_paused, message=result.text
        )

    @router.get(
        "/memory-profiles/me/export",
        response_model=MemoryExport,
        tags=["memory"],
        summary="Every memory, as a JSON document",
    )
    async def export_profile(principal: Caller, response: Response) -> MemoryExport:
        result = await run_command(principal, Command(CommandName.EXPORT))
        response.headers["Content-Disposition"] = 'attachment; filename="mnemo-memories.json"'
        return translate.export_document(result.export_json or "{}")

    # -- account linking (links.py); registered before the catch-all below -------------------------

    add_link_routes(router, assistant=assistant, authenticate=authenticate)

    # -- anything else under /v1: our error shape, not the framework's -----------------------------

    @router.api_route("/{path:path}", methods=_ALL_METHODS, include_in_schema=False)
    async def unknown(request: Request, path: str) -> Response:
        allowed = sorted(
            {
                method
                for route in router.routes
                if isinstance(route, APIRoute) and route.endpoint is not unknown
                for method in route.methods or ()
                if route.matches({**request.scope, "method": method})[0] is Match.FULL
            }
        )
        if allowed:
            return ApiError(
                405,
                ErrorCode.METHOD_NOT_ALLOWED,
                f"{request.method} is not supported here; use {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            ).response()
        return ApiError(404, ErrorCode.NOT_FOUND, f"No endpoint {PREFIX}/{path[:100]}.").response()

    return router


async def _settle(task: asyncio.Task[ChatOutcome]) -> ChatOutcome:
    """The task's outcome; shielded, so a client that goes away does not cancel the reply."""
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if task.cancelled():
            return service_unavailable("The reply was interrupted; try again.")
        raise
    except Exception as exc:
        return _error_for(exc)


def _reap(task: asyncio.Task[ChatOutcome]) -> None:
    # A reply whose client left (stream closed) is not awaited by anyone: log its failure here.
    if not task.cancelled() and (exc := task.exception()) is not None and not isinstance(exc, SwampedError):
        log.error("chat reply failed", exc_info=exc)


def _final(outcome: ChatOutcome) -> ChatResponse:
    if isinstance(outcome, ApiError):
        raise outcome
    return outcome
