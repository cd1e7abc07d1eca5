"""`ApiRoute`, the route class of every /v1 endpoint: before FastAPI parses anything it refuses
unknown query parameters, caps the body size and checks its media type; after, it turns every
failure into the one JSON error shape (errors.py): FastAPI's validation errors, our ApiError,
core's NotFoundError/UserFacingError/DependencyError/SwampedError, and any bug (500, logged, never
its text). It also puts the caller's rate-limit headers on every response.
"""

from __future__ import annotations

import email.message
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from adapters.common.body import BodyTooLarge, UnreadableBody, read_capped_body
from adapters.http.errors import ApiError, ErrorCode, ErrorDetail, service_unavailable, validation_error
from adapters.http.ratelimit import Decision, rate_limit_headers
from core.admission import SwampedError
from core.errors import DependencyError, NotFoundError, UserFacingError

log = logging.getLogger(__name__)

# A 16,000-character message JSON-escaped as \uXXXX pairs (emoji) is ~192 KB; nothing else is big.
MAX_BODY_BYTES = 256 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def too_large() -> ApiError:
    return ApiError(
        413,
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB.",
    )


async def read_body_once(request: Request) -> Request:
    """The request with its body read once, refused past MAX_BODY_BYTES (declared or actually sent),
    and replayed to FastAPI from memory."""
    try:
        body = await read_capped_body(request, limit=MAX_BODY_BYTES)
    except BodyTooLarge:
        raise too_large() from None
    except UnreadableBody as exc:
        raise ApiError(400, ErrorCode.BAD_REQUEST, f"The body could not be read: {exc}.") from None
    sent = False

    async def replay_body() -> Message:
        nonlocal sent
        if sent:
            return await request.receive()  # after the body: the disconnect, when it comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    read = Request(request.scope, receive=replay_body)
    if body and request.method in _BODY_METHODS:
        check_json_media_type(request.headers.get("content-type", ""))
    return read


def check_json_media_type(content_type: str) -> None:
    parsed = email.message.Message()
    parsed["content-type"] = content_type
    subtype = parsed.get_content_subtype()
    if parsed.get_content_maintype() != "application" or not (subtype == "json" or subtype.endswith("+json")):
        raise ApiError(
            415,
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            "Send the body as JSON with 'Content-Type: application/json'.",
        )


def error_for(exc: Exception) -> ApiError:
    """Any exception raised under /v1 (or by a chat reply's task) as the one error shape."""
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
            return too_large()
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


def query_names(dependant: Dependant) -> set[str]:
    """Every query parameter an endpoint (or one of its dependencies) declares."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_names(sub)
    return names


def check_query(request: Request, allowed: set[str]) -> None:
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


class ApiRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        allowed_query = query_names(self.dependant)

        async def handle_in_one_error_shape(request: Request) -> Response:
            try:
                check_query(request, allowed_query)
                response = await handler(await read_body_once(request))
            except Exception as exc:
                response = error_for(exc).response()
            decision: Decision | None = getattr(request.state, "rate", None)
            if decision is not None:
                response.headers.update(rate_limit_headers(decision))
            return response

        return handle_in_one_error_shape
