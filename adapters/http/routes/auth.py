"""/v1/auth: who the bearer token says the caller is (GET /me), and sign-up, sign-in, refresh and
sign-out through Supabase Auth, for clients that cannot use supabase-js (a CLI, a mobile app in
another language, a script). Passwords go to Supabase Auth and nowhere else (supabase_auth.py);
failed attempts are throttled per email and per client address (login_throttle.py). Without
SUPABASE_URL and SUPABASE_ANON_KEY those four answer 501 `not_configured`.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

import unicodedata
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.http.api_route import ApiRoute
from adapters.http.auth import bearer_token
from adapters.http.deps import (
    AssistantDep,
    Caller,
    ClientAddress,
    Services,
    SupabaseAuthDep,
    account_of,
    throttled,
)
from adapters.http.errors import ApiError, ErrorBody, ErrorCode
from adapters.http.schemas import AccountOut
from adapters.http.supabase_auth import IssuedSession

router = APIRouter(prefix="/auth", tags=["auth"], route_class=ApiRoute)

MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a forward path
MIN_PASSWORD_CHARS = 6  # Supabase Auth's lowest setting; the project may ask for more
MAX_PASSWORD_BYTES = 72  # Supabase Auth refuses more (bcrypt ignores what follows)
MAX_REFRESH_TOKEN_CHARS = 512


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _password(min_length: int) -> Any:
    return Field(
        min_length=min_length,
        max_length=MAX_PASSWORD_BYTES,
        description=f"Sent to Supabase Auth and nowhere else; at most {MAX_PASSWORD_BYTES} bytes "
        "in UTF-8. Mnemo never stores, logs or echoes it.",
    )


def _at_most_72_bytes(value: SecretStr) -> SecretStr:
    try:
        encoded = value.get_secret_value().encode("utf-8")
    except UnicodeEncodeError:
        # JSON allows a lone surrogate (\ud800); it cannot be sent on as UTF-8.
        raise ValueError("not valid Unicode text (a lone surrogate)") from None
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise ValueError(f"too long: at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
    return value


EMAIL = Field(
    min_length=3,
    max_length=MAX_EMAIL_CHARS,
    description="name@example.com: no spaces or invisible characters; Supabase Auth decides the rest "
    "(a refusal is `invalid_email`).",
    json_schema_extra={"format": "email"},
)


class SignupRequest(_Strict):
    email: str = EMAIL
    password: SecretStr = _password(MIN_PASSWORD_CHARS)

    _bytes = field_validator("password")(_at_most_72_bytes)


class LoginRequest(_Strict):
    email: str = EMAIL
    password: SecretStr = _password(1)

    _bytes = field_validator("password")(_at_most_72_bytes)


class RefreshRequest(_Strict):
    refresh_token: SecretStr = Field(
        min_length=1,
        max_length=MAX_REFRESH_TOKEN_CHARS,
        description="From the last session; it works once (the answer carries the next one).",
        json_schema_extra={"pattern": "^[!-~]+$"},
    )

    @field_validator("refresh_token")
    @classmethod
    def _visible_ascii(cls, value: SecretStr) -> SecretStr:
        # Supabase's refresh tokens are visible ASCII; anything else is not one (and a lone
        # surrogate could not even be sent on).
        if not all("!" <= ch <= "~" for ch in value.get_secret_value()):
            raise ValueError("not a refresh token: expected visible ASCII characters only")
        return value


class AuthUser(_Strict):
    id: str = Field(description="The Supabase user id: the `sub` of the access token.")
    email: str | None


class AuthSession(_Strict):
    access_token: str = Field(description="Send it as `Authorization: Bearer <access_token>`.")
    refresh_token: str = Field(description="For POST /v1/auth/refresh; it works once.")
    token_type: str
    expires_in: int = Field(description="Seconds the access token is valid for.")
    expires_at: int | None = Field(description="When it expires, in Unix seconds.")
    user: AuthUser


class SignupPending(_Strict):
    status: Literal["confirmation_required"]
    message: str


Responses = dict[int | str, dict[str, Any]]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


NOT_CONFIGURED: Responses = {
    501: _error("`not_configured`: set SUPABASE_URL and SUPABASE_ANON_KEY to enable it")
}
AUTH_UNAVAILABLE: Responses = {
    503: _error("`auth_unavailable`: Supabase Auth cannot be reached (see Retry-After)")
}
THROTTLED: Responses = {
    429: _error(
        "`rate_limited`: too many failed attempts for this email or from this address, or Supabase "
        "Auth is limiting requests (see Retry-After)"
    )
}


def checked_email(email: str) -> str:
    """The address as sent, or 422 `invalid_email` before Supabase Auth is asked."""
    local, at, domain = email.rpartition("@")
    # Separators and control/format characters (zero-width, bidi overrides) make look-alikes of
    # real addresses; Supabase Auth would refuse most anyway, but never spend a call on them.
    odd = any(unicodedata.category(ch)[0] in "CZ" for ch in email)
    if not at or not local or not domain or odd:
        raise ApiError(
            422,
            ErrorCode.INVALID_EMAIL,
            "This is not an email address: expected name@example.com, without spaces or invisible "
            "characters.",
        )
    return email


def session_out(issued: IssuedSession, response: Response) -> AuthSession:
    # RFC 6749 5.1: responses carrying tokens must not be cached by anything in between.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return AuthSession(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        token_type=issued.token_type,
        expires_in=issued.expires_in,
        expires_at=issued.expires_at,
        user=AuthUser(id=issued.user_id, email=issued.email),
    )


@router.get("/me", response_model=AccountOut, summary="The caller's account")
async def auth_me(principal: Caller, assistant: AssistantDep) -> AccountOut:
    """The account behind the bearer token, created on first use (platform `web`)."""
    account = await account_of(assistant, principal)
    account_settings = await assistant.settings(principal.identity)
    return AccountOut(
        account_id=account.id,
        subject=principal.subject,
        display_name=account.display_name,
        email=principal.email,
        memory_paused=account_settings.memory_paused,
        created_at=account.created_at,
    )


@router.post(
    "/signup",
    status_code=201,
    response_model=AuthSession,
    summary="Create an account with an email address and a password (Supabase Auth)",
    responses={
        202: {
            "model": SignupPending,
            "description": "The project wants the email address confirmed first: no token; sign in "
            "after following the emailed link. (Also the answer for an address that already has an "
            "account: Supabase Auth does not tell anyone which addresses do.)",
        },
        403: _error("`signup_disabled`: the project takes no sign-ups by email"),
        409: _error("`email_taken`: an account with this address exists"),
        422: _error("`invalid_email`, `weak_password` (the project's password rules), or `validation_error`"),
        **THROTTLED,
        **NOT_CONFIGURED,
        **AUTH_UNAVAILABLE,
    },
)
async def sign_up(
    auth: SupabaseAuthDep, services: Services, address: ClientAddress, body: SignupRequest, response: Response
) -> AuthSession | JSONResponse:
    """Returns the new user's session (201), or 202 when the email address must be confirmed first."""
    email = checked_email(body.email)
    throttle = services.login_throttle
    throttled(await throttle.charge_signup(address), what="sign-ups")
    try:
        issued = await auth.sign_up(email, body.password)
    except ApiError as exc:
        if exc.code is ErrorCode.AUTH_UNAVAILABLE:
            await throttle.forgive_signup(address)
        raise
    if issued is None:
        pending = SignupPending(
            status="confirmation_required",
            message="Check your inbox: follow the link in the email to confirm your address, then sign in.",
        )
        return JSONResponse(pending.model_dump(), status_code=202)
    return session_out(issued, response)


@router.post(
    "/login",
    response_model=AuthSession,
    summary="Sign in with an email address and a password (Supabase Auth's password grant)",
    responses={
        401: _error("`invalid_credentials`: wrong email or password (one answer for both)"),
        403: _error("`email_not_confirmed`: follow the link in the confirmation email first"),
        422: _error("`invalid_email` or `validation_error`"),
        **THROTTLED,
        **NOT_CONFIGURED,
        **AUTH_UNAVAILABLE,
    },
)
async def log_in(
    auth: SupabaseAuthDep, services: Services, address: ClientAddress, body: LoginRequest, response: Response
) -> AuthSession:
    """Failed attempts are limited per email address and per client address (429 with Retry-After)."""
    email = checked_email(body.email)
    throttle = services.login_throttle
    throttled(await throttle.charge(address=address, email=email), what="failed sign-ins")
    try:
        issued = await auth.sign_in(email, body.password)
    except ApiError as exc:
        # Only a wrong password (or unknown email) counts against the person and the address.
        if exc.code is not ErrorCode.INVALID_CREDENTIALS:
            await throttle.forgive(address=address, email=email)
        raise
    await throttle.forgive(address=address, email=email)
    return session_out(issued, response)


@router.post(
    "/refresh",
    response_model=AuthSession,
    summary="A new session for a refresh token",
    responses={
        401: _error("`invalid_refresh_token`: used, revoked (signed out) or unknown; sign in again"),
        **THROTTLED,
        **NOT_CONFIGURED,
        **AUTH_UNAVAILABLE,
    },
)
async def refresh(
    auth: SupabaseAuthDep,
    services: Services,
    address: ClientAddress,
    body: RefreshRequest,
    response: Response,
) -> AuthSession:
    """The refresh token is rotated: keep the new one from the answer, the old one stops working."""
    throttle = services.login_throttle
    throttled(await throttle.charge(address=address), what="failed attempts")
    try:
        issued = await auth.refresh(body.refresh_token)
    except ApiError as exc:
        if exc.code is not ErrorCode.INVALID_REFRESH_TOKEN:
            await throttle.forgive(address=address)
        raise
    await throttle.forgive(address=address)
    return session_out(issued, response)


Scope = Annotated[
    Literal["local", "global"],
    Query(description="`local`: this session; `global`: every session of this user."),
]


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    summary="Sign out: the session's refresh token stops working",
    responses={**NOT_CONFIGURED, **AUTH_UNAVAILABLE},
)
async def log_out(
    auth: SupabaseAuthDep, _principal: Caller, request: Request, scope: Scope = "local"
) -> Response:
    """Access tokens already handed out stay valid until they expire (keep them short-lived).
    Signing out a session that is already gone succeeds too."""
    await auth.sign_out(bearer_token(request.headers.get("authorization")), scope=scope)
    return Response(status_code=204)
