"""The HTTP API's one error shape: `{"error": {"code": "...", "message": "...", "details": [...]}}`.

`code` is stable (clients branch on it); `message` is for people and may change. Every error the
API returns goes through `ApiError.response()`, including FastAPI's own validation errors (the
route class in `api_route.py` converts them), so a client never sees two shapes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict


class ErrorCode(enum.StrEnum):
    # Error codes, not credentials (ruff's S105 reads "token" as a password).
    MISSING_TOKEN = "missing_token"  # noqa: S105
    INVALID_TOKEN = "invalid_token"  # noqa: S105
    TOKEN_EXPIRED = "token_expired"  # noqa: S105
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BAD_REQUEST = "bad_request"
    VALIDATION_ERROR = "validation_error"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    DUPLICATE_REQUEST = "duplicate_request"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    RATE_LIMITED = "rate_limited"
    LINK_CODE_INVALID = "link_code_invalid"
    LINK_CODE_USED = "link_code_used"
    LINK_CODE_EXPIRED = "link_code_expired"
    LINK_CODE_OWN = "link_code_own"
    LAST_IDENTITY = "last_identity"
    # Sign-up and sign-in through Supabase Auth (routes/auth.py).
    EMAIL_TAKEN = "email_taken"
    WEAK_PASSWORD = "weak_password"  # noqa: S105
    INVALID_EMAIL = "invalid_email"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_REFRESH_TOKEN = "invalid_refresh_token"  # noqa: S105
    EMAIL_NOT_CONFIRMED = "email_not_confirmed"
    SIGNUP_DISABLED = "signup_disabled"
    NOT_CONFIGURED = "not_configured"
    SERVICE_UNAVAILABLE = "service_unavailable"
    AUTH_UNAVAILABLE = "auth_unavailable"
    SHUTTING_DOWN = "shutting_down"
    OVERLOADED = "overloaded"
    INTERNAL_ERROR = "internal_error"


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    message: str


class ErrorInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ErrorCode
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(BaseModel):
    """Every non-2xx response of /v1 has this body."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorInfo


class ApiError(Exception):
    """Raised anywhere under /v1; becomes the JSON error response."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        *,
        details: Sequence[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})

    def body(self) -> ErrorBody:
        return ErrorBody(error=ErrorInfo(code=self.code, message=self.message, details=self.details))

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.body().model_dump(mode="json"), status_code=self.status, headers=self.headers
        )


def unauthorized(code: ErrorCode, message: str) -> ApiError:
    # RFC 6750: a 401 names the scheme; `invalid_token` tells OAuth-aware clients to refresh.
    challenge = 'Bearer realm="mnemo"'
    if code is not ErrorCode.MISSING_TOKEN:
        challenge += ', error="invalid_token"'
    return ApiError(401, code, message, headers={"WWW-Authenticate": challenge})


def not_found(what: str) -> ApiError:
    # Same answer whether the thing does not exist or belongs to someone else: never confirm
    # another account's ids.
    return ApiError(404, ErrorCode.NOT_FOUND, f"No {what} with this id.")


def service_unavailable(message: str, *, code: ErrorCode = ErrorCode.SERVICE_UNAVAILABLE) -> ApiError:
    return ApiError(503, code, message, headers={"Retry-After": "5"})


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def _describe(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown field (not part of this endpoint's schema)"
    if kind == "json_invalid":
        return f"the body is not valid JSON ({ctx.get('error', 'decode error')})"
    if kind in ("string_too_long", "too_long"):
        return f"too long: at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        # A SecretStr's (a password's) own message says "items" and gives the length sent.
        return f"too short: at least {ctx.get('min_length')} characters"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def validation_error(exc: RequestValidationError) -> ApiError:
    """FastAPI's validation error list as our shape, with the first problem in the message."""
    details = [ErrorDetail(field=_field(err.get("loc", ())), message=_describe(err)) for err in exc.errors()]
    first = details[0] if details else ErrorDetail(field="request", message="invalid request")
    message = f"{first.field}: {first.message}"
    if len(details) > 1:
        message += f" (and {len(details) - 1} more problem{'s' if len(details) > 2 else ''})"
    return ApiError(422, ErrorCode.VALIDATION_ERROR, message, details=details)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "The body could not be read (not UTF-8 JSON, bad Content-Length)",
        401: "Missing, malformed, expired or otherwise invalid bearer token",
        413: "Request body too large",
        415: "The body is not JSON",
        422: "Invalid request (unknown field, bad value, message too long)",
        429: "Rate limit exceeded; see Retry-After",
        503: "A dependency (store, memory, auth keys) is unavailable, or the service is shutting down",
    }.items()
}
