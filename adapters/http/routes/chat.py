"""POST /v1/chat: a message in, the reply out, through the same orchestrator as Slack and Discord.

As JSON, or with `Accept: text/event-stream` as server-sent events (`delta`s while the model
writes, then one `done` or one `error`). With an `Idempotency-Key`, a retry gets the first answer
(idempotency.py). The reply runs in its own task, tracked per /v1 router: a stream whose client
leaves does not cancel it, so the reply is still stored and remembered. The message is held in the
durable intake while it is answered here, so a process that dies mid-answer loses nothing: a
worker answers it into the session (adapters/http/responders.py).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from adapters.http import translate
from adapters.http.api_route import ApiRoute, error_for
from adapters.http.auth import Principal
from adapters.http.deps import ApiServices, Caller, Services, require_session
from adapters.http.errors import ApiError, ErrorCode, service_unavailable
from adapters.http.idempotency import CacheKey, ChatOutcome, PendingChat, fingerprint
from adapters.http.responders import chat_delivery
from adapters.http.schemas import ChatRequest, ChatResponse
from core.assistant import Assistant
from core.models import Reply, ReplyKind
from core.replies import STORAGE_DOWN_REPLY

router = APIRouter(tags=["chat"], route_class=ApiRoute)

OnDelta = Callable[[str], Coroutine[Any, Any, None]]


def wants_stream(accept: str | None) -> bool:
    return accept is not None and any(
        part.split(";", 1)[0].strip().lower() == "text/event-stream" for part in accept.split(",")
    )


def shutting_down() -> ApiError:
    return service_unavailable("Mnemo is restarting; try again shortly.", code=ErrorCode.SHUTTING_DOWN)


def outcome_of(assistant: Assistant, reply: Reply | None, session_id: uuid.UUID) -> ChatOutcome:
    """What the client gets for the orchestrator's reply (None: the message was not handled)."""
    if reply is None:
        if not assistant.accepting:
            return shutting_down()
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
    assistant: Assistant,
    principal: Principal,
    *,
    body: ChatRequest,
    session_id: uuid.UUID,
    message_id: str,
    on_delta: OnDelta | None,
) -> ChatOutcome:
    now = assistant.clock()
    message = translate.to_incoming(
        principal, text=body.message, session_id=session_id, message_id=message_id, now=now
    )
    # Held in the durable intake while answered here: if this process dies first, a worker
    # answers it into the session (adapters/http/responders.py).
    recorded = chat_delivery(
        principal, text=body.message, session_id=session_id, message_id=message_id, now=now
    )
    reply = await assistant.answer_recorded(recorded, message, on_delta=on_delta)
    return outcome_of(assistant, reply, session_id)


async def settle(task: asyncio.Task[ChatOutcome]) -> ChatOutcome:
    """The task's outcome; shielded, so a client that goes away does not cancel the reply."""
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if task.cancelled():
            return service_unavailable("The reply was interrupted; try again.")
        raise
    except Exception as exc:
        return error_for(exc)


def final(outcome: ChatOutcome) -> ChatResponse:
    if isinstance(outcome, ApiError):
        raise outcome
    return outcome


async def stream_events(
    task: asyncio.Task[ChatOutcome], deltas: asyncio.Queue[str | None] | None
) -> AsyncIterator[ServerSentEvent]:
    if deltas is not None:
        while (chunk := await deltas.get()) is not None:
            yield ServerSentEvent(data=json.dumps({"text": chunk}), event="delta")
    outcome = await settle(task)
    if isinstance(outcome, ApiError):
        yield ServerSentEvent(data=outcome.body().model_dump_json(), event="error")
        return
    if deltas is None:  # a replayed answer: the whole text at once
        yield ServerSentEvent(data=json.dumps({"text": outcome.text}), event="delta")
    yield ServerSentEvent(data=outcome.model_dump_json(), event="done")


async def replay_earlier(earlier: PendingChat, body: ChatRequest, *, streaming: bool) -> Any:
    """A retry with a known Idempotency-Key: the first request's answer, never a second one."""
    if earlier.fingerprint != fingerprint(body):
        raise ApiError(
            422,
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key was used for a different request; use a new key.",
        )
    if streaming:
        return EventSourceResponse(stream_events(earlier.task, None))
    return final(await settle(earlier.task))


def remember_for_retries(
    services: ApiServices, *, key: CacheKey, body: ChatRequest, task: asyncio.Task[ChatOutcome]
) -> None:
    services.idempotency.put(key, fingerprint(body), task)
    task.add_done_callback(lambda done: services.idempotency.drop_if_swamped(key, done))


def forward_to(queue: asyncio.Queue[str | None]) -> OnDelta:
    """The model's text, chunk by chunk, onto the stream's queue."""

    async def put_delta(chunk: str) -> None:
        queue.put_nowait(chunk)

    return put_delta


def close_when_done(queue: asyncio.Queue[str | None], task: asyncio.Task[ChatOutcome]) -> None:
    # None ends the deltas, however the reply ended; the outcome is read from the task.
    task.add_done_callback(lambda _: queue.put_nowait(None))


@router.post(
    "/chat",
    response_model=ChatResponse,
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
    services: Services,
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
    assistant = services.assistant
    if not assistant.accepting:
        raise shutting_down()
    streaming = wants_stream(accept)
    cache_key = (principal.subject, idempotency_key) if idempotency_key else None
    if cache_key is not None and (earlier := services.idempotency.get(cache_key)) is not None:
        return await replay_earlier(earlier, body, streaming=streaming)
    if body.session_id is not None:
        await require_session(assistant, principal, body.session_id)
    session_id = body.session_id or uuid.uuid4()
    message_id = f"key:{idempotency_key}" if idempotency_key else uuid.uuid4().hex

    deltas: asyncio.Queue[str | None] | None = asyncio.Queue() if streaming else None
    answering = answer(
        assistant,
        principal,
        body=body,
        session_id=session_id,
        message_id=message_id,
        on_delta=None if deltas is None else forward_to(deltas),
    )
    task = services.chat_replies.spawn(answering, name="chat")
    if deltas is not None:
        close_when_done(deltas, task)
    if cache_key is not None:
        remember_for_retries(services, key=cache_key, body=body, task=task)
    if streaming:
        return EventSourceResponse(stream_events(task, deltas), headers={"Cache-Control": "no-store"})
    return final(await settle(task))
