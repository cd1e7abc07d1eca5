"""Supabase Auth (GoTrue) for the sign-in endpoints: the one module that knows supabase-py's auth
client (`supabase_auth.AsyncGoTrueClient`, at <SUPABASE_URL>/auth/v1 with the anon key). Everything
about passwords happens there: Mnemo passes a password through once and never stores, hashes or
logs it. Its errors become the API's (ApiError with a stable code) here, per operation.

The client keeps the last session it saw and can refresh it on a timer: fine in a browser, wrong
on a server where every call is someone else's. So each call gets a fresh client with the timer
and the persistence off, over an HTTP client of our own with a bounded timeout that never follows
a redirect (a 307 would replay the password to wherever it points). Sign-ins are rare next to chat
requests, so the connection that costs is not worth a pool with no lifecycle to close it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, TypeVar

import httpx
from pydantic import SecretStr, ValidationError
from supabase_auth import AsyncGoTrueClient
from supabase_auth.errors import AuthError, AuthRetryableError, AuthUnknownError
from supabase_auth.types import Session

from adapters.http.errors import ApiError, ErrorCode, service_unavailable
from config import Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
# Supabase Auth asks clients that it limits to wait; its 429 says nothing about how long.
UPSTREAM_RETRY_AFTER_SECONDS = 60
MAX_MESSAGE_CHARS = 200

T = TypeVar("T")
SignOutScope = Literal["local", "global"]

_EMAIL_TAKEN = frozenset({"email_exists", "user_already_exists", "identity_already_exists"})
_INVALID_EMAIL = frozenset({"email_address_invalid", "validation_failed"})
_SIGNUP_DISABLED = frozenset({"signup_disabled", "email_provider_disabled", "email_address_not_authorized"})
# A 401/403/404 on sign-out: the session is already gone, which is what the caller asked for.
_SIGNED_OUT_STATUSES = frozenset({401, 403, 404})


class _UnexpectedAnswer(Exception):
    pass


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A Supabase Auth session, as the API hands it out."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    expires_at: int | None
    user_id: str
    email: str | None


def unavailable() -> ApiError:
    return service_unavailable(
        "Supabase Auth cannot be reached right now; try again shortly.", code=ErrorCode.AUTH_UNAVAILABLE
    )


def _issued(session: Session) -> IssuedSession:
    return IssuedSession(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        token_type=session.token_type,
        expires_in=session.expires_in,
        expires_at=session.expires_at,
        user_id=session.user.id,
        email=session.user.email,
    )


def _status(exc: AuthError) -> int:
    status = getattr(exc, "status", 0)
    return status if isinstance(status, int) else 0


def _common(exc: AuthError, operation: str) -> ApiError | None:
    """What every operation answers the same way: outages, upstream limits, a refused key."""
    status = _status(exc)
    # Logged by code and status only: Supabase's messages may quote the email address.
    # Not a 4xx: an outage, or not Supabase Auth answering (a redirect, a proxy's page).
    if isinstance(exc, AuthRetryableError | AuthUnknownError) or not 400 <= status < 500:
        log.warning(
            "Supabase Auth unavailable during %s: %s (HTTP %s)", operation, type(exc).__name__, status
        )
        return unavailable()
    if status == 429 or (exc.code or "").startswith("over_"):
        log.warning("Supabase Auth is limiting %s: %s", operation, exc.code)
        return ApiError(
            429,
            ErrorCode.RATE_LIMITED,
            "Supabase Auth is limiting requests right now; try again later.",
            headers={"Retry-After": str(UPSTREAM_RETRY_AFTER_SECONDS)},
        )
    if exc.code is None and status in (401, 403):
        # Supabase's gateway (not Auth itself, which always sends a code) refused the key.
        log.warning("Supabase Auth refused SUPABASE_ANON_KEY during %s (HTTP %s)", operation, status)
        return unavailable()
    return None


def _refused(operation: str, exc: AuthError) -> ApiError:
    """A refusal no endpoint has its own code for: said, never quoted (it may echo the input)."""
    code = "".join(ch for ch in (exc.code or "unknown") if ch.isascii() and (ch.isalnum() or ch == "_"))[:40]
    log.info("Supabase Auth refused %s: %s (HTTP %s)", operation, code, _status(exc))
    return ApiError(400, ErrorCode.BAD_REQUEST, f"Supabase Auth refused the {operation} ({code}).")


def _sign_up_error(exc: AuthError) -> ApiError:
    if exc.code in _EMAIL_TAKEN:
        return ApiError(409, ErrorCode.EMAIL_TAKEN, "An account with this email address already exists.")
    if exc.code == "weak_password":
        # Supabase Auth's own sentence names the project's rules ("at least 8 characters...") and
        # never the password.
        return ApiError(422, ErrorCode.WEAK_PASSWORD, exc.message[:MAX_MESSAGE_CHARS])
    if exc.code in _INVALID_EMAIL:
        return ApiError(422, ErrorCode.INVALID_EMAIL, "Supabase Auth does not accept this email address.")
    if exc.code in _SIGNUP_DISABLED:
        return ApiError(403, ErrorCode.SIGNUP_DISABLED, "This project does not take sign-ups by email.")
    return _refused("sign-up", exc)


def _sign_in_error(exc: AuthError) -> ApiError:
    if exc.code == "invalid_credentials":
        # One answer for an unknown email and a wrong password (Supabase Auth gives one too).
        return ApiError(401, ErrorCode.INVALID_CREDENTIALS, "Wrong email or password.")
    if exc.code == "email_not_confirmed":
        return ApiError(
            403, ErrorCode.EMAIL_NOT_CONFIRMED, "Confirm your email address first (see the link we sent)."
        )
    if exc.code in _INVALID_EMAIL:
        return ApiError(422, ErrorCode.INVALID_EMAIL, "Supabase Auth does not accept this email address.")
    return _refused("sign-in", exc)


def _refresh_error(_exc: AuthError) -> ApiError:
    # Unknown, used, revoked or expired: whichever, the client can only sign in again.
    return ApiError(
        401,
        ErrorCode.INVALID_REFRESH_TOKEN,
        "This refresh token is not valid (used, revoked or unknown); sign in again.",
    )


class SupabaseAuth:
    def __init__(self, *, url: str, anon_key: SecretStr, timeout_seconds: float = TIMEOUT_SECONDS) -> None:
        self._auth_url = f"{url.rstrip('/')}/auth/v1"
        self._anon_key = anon_key
        self._timeout = httpx.Timeout(timeout_seconds, connect=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds))

    @classmethod
    def from_settings(cls, settings: Settings) -> SupabaseAuth | None:
        """None unless SUPABASE_URL and SUPABASE_ANON_KEY are both set."""
        if settings.supabase_url is None or settings.supabase_anon_key is None:
            return None
        return cls(url=settings.supabase_url, anon_key=settings.supabase_anon_key)

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[AsyncGoTrueClient]:
        key = self._anon_key.get_secret_value()
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as http:
            yield AsyncGoTrueClient(
                url=self._auth_url,
                # What supabase-py's create_client sends: Supabase's gateway wants the key as `apikey`.
                headers={"apikey": key, "Authorization": f"Bearer {key}"},
                http_client=http,
                auto_refresh_token=False,
                persist_session=False,
            )

    async def _call(
        self,
        operation: str,
        call: Callable[[AsyncGoTrueClient], Awaitable[T]],
        refused: Callable[[AuthError], ApiError],
    ) -> T:
        try:
            async with self._client() as client:
                return await call(client)
        except AuthError as exc:
            raise (_common(exc, operation) or refused(exc)) from None
        except (httpx.HTTPError, ValidationError, _UnexpectedAnswer) as exc:
            # A body that is not a session or a user: not Supabase Auth, or not a version we know.
            log.warning("Supabase Auth answered %s unexpectedly: %s", operation, type(exc).__name__)
            raise unavailable() from None

    async def sign_up(self, email: str, password: SecretStr) -> IssuedSession | None:
        """The new user's session, or None when the project wants the email confirmed first (then
        the same None comes back for an address that already has an account: Supabase Auth does
        not say which, so nobody can learn who has an account here)."""

        async def sign_up(client: AsyncGoTrueClient) -> IssuedSession | None:
            response = await client.sign_up({"email": email, "password": password.get_secret_value()})
            return _issued(response.session) if response.session is not None else None

        return await self._call("sign-up", sign_up, _sign_up_error)

    async def sign_in(self, email: str, password: SecretStr) -> IssuedSession:
        """The password grant. Raises ApiError `invalid_credentials` (401) for an unknown email and
        a wrong password alike."""

        async def sign_in(client: AsyncGoTrueClient) -> IssuedSession:
            response = await client.sign_in_with_password(
                {"email": email, "password": password.get_secret_value()}
            )
            if response.session is None:
                raise _UnexpectedAnswer("a password grant without a session")
            return _issued(response.session)

        return await self._call("sign-in", sign_in, _sign_in_error)

    async def refresh(self, refresh_token: SecretStr) -> IssuedSession:
        """A new session for a refresh token; Supabase Auth rotates it (the old one stops working)."""

        async def refresh(client: AsyncGoTrueClient) -> IssuedSession:
            response = await client.refresh_session(refresh_token.get_secret_value())
            if response.session is None:
                raise _UnexpectedAnswer("a refresh grant without a session")
            return _issued(response.session)

        return await self._call("refresh", refresh, _refresh_error)

    async def sign_out(self, access_token: str, *, scope: SignOutScope) -> None:
        """Revoke the token's session (`local`) or every session of its user (`global`): their
        refresh tokens stop working. Access tokens already handed out live until they expire."""

        async def sign_out(client: AsyncGoTrueClient) -> None:
            # The user's own token, not the admin key: admin.sign_out is just where supabase-py
            # keeps the POST /logout call (sign_out() would want a stored session).
            try:
                await client.admin.sign_out(access_token, scope)
            except AuthError as exc:
                if exc.code is None or _status(exc) not in _SIGNED_OUT_STATUSES:
                    raise

        await self._call("sign-out", sign_out, lambda exc: _refused("sign-out", exc))
