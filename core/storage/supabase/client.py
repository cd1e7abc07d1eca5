"""The Supabase store's connection: supabase-py's client, the start-up checks, and one RPC call.

Every operation is one SQL function (`supabase/migrations/`) called through the async supabase-py
client's `rpc()`: one HTTP round trip, one transaction. This module is the one place that knows
supabase-py: its errors (`postgrest.APIError`, httpx transport errors) become `StorageError` here,
with the cause logged (except the stale-epoch SQLSTATE, which becomes `ErasedError`), and its
loosely typed JSON goes through `parsing` before it becomes our dataclasses.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Final, Self, TypeVar

import httpx
from postgrest import APIError
from postgrest.types import JSON

from config import ConfigError, Settings
from core.errors import ErasedError, StorageError
from core.storage.supabase.parsing import MalformedResponseError, as_int
from core.storage.validation import aware
from supabase import AsyncClient, AsyncClientOptions

log = logging.getLogger(__name__)

# The schema version `mnemo_ping()` must report at least; bump with a migration that changes the API.
SCHEMA_VERSION: Final = 13
# Raised by the *_at_epoch functions when the account was erased after the work began (a SQLSTATE
# class of Mnemo's own, so nothing else can mean it): ErasedError, not a failure.
_ERASED_SQLSTATE: Final = "MN001"
DEFAULT_TIMEOUT_SECONDS: Final = 10.0
_CONNECT_TIMEOUT_SECONDS: Final = 5.0
_KEY_REJECTED_CODES: Final = frozenset({"PGRST301", "PGRST302", "PGRST303", "42501", "401", "403"})

T = TypeVar("T")

# The HTTP status of the last response in this task: APIError does not carry it, and an error body
# without PostgREST's fields (a gateway's {"message": ...}, a foreign server's 404) says little else.
_last_status: ContextVar[int | None] = ContextVar("supabase_last_status", default=None)


async def _remember_status(response: httpx.Response) -> None:
    _last_status.set(response.status_code)


def _describe(exc: APIError) -> str:
    status = _last_status.get()
    parts = [f"HTTP {status}" if status is not None else None, exc.code, exc.message]
    return ": ".join(part for part in parts if part) or "no detail"


def timestamp_param(value: datetime, name: str) -> str:
    """A datetime as an RPC parameter: ISO text with its offset (a naive one is refused)."""
    return aware(value, name).isoformat()


def _jwt_role(key: str) -> str | None:
    """The `role` claim of a legacy Supabase JWT key, read without verifying it (the server does)."""
    parts = key.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    role = claims.get("role") if isinstance(claims, dict) else None
    return role if isinstance(role, str) else None


def _key_problem(key: str) -> str | None:
    if key.startswith("sb_publishable_"):
        return "SUPABASE_SERVICE_ROLE_KEY is the publishable key; use the secret key (sb_secret_...)"
    role = _jwt_role(key)
    if role is not None and role != "service_role":
        return (
            f"SUPABASE_SERVICE_ROLE_KEY is a key for the '{role}' role; "
            "use the service_role key (Project Settings > API)"
        )
    return None


class SupabaseConnection:
    """The client and its RPC call; the role mixins of `SupabaseStore` make their calls through it."""

    def __init__(self, *, client: AsyncClient, http: httpx.AsyncClient, url: str) -> None:
        self._client = client
        self._http = http
        self._url = url

    @classmethod
    async def open(cls, settings: Settings) -> Self:
        """Connect and check the project answers with Mnemo's schema. Raises ConfigError with one
        clear line when the URL, the key or the migrations are wrong."""
        if settings.supabase_url is None or settings.supabase_service_role_key is None:
            raise ConfigError("the Supabase store needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY")
        return await cls.connect(
            url=settings.supabase_url,
            key=settings.supabase_service_role_key.get_secret_value(),
        )

    @classmethod
    async def connect(cls, *, url: str, key: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Self:
        """`open()` without Settings: for tests, benchmarks and tools. Same checks, same errors."""
        problem = _key_problem(key)
        if problem is not None:
            raise ConfigError(problem)
        # Our own HTTP client: a bounded timeout (supabase-py's default is 120 s) and one place to close.
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, _CONNECT_TIMEOUT_SECONDS)),
            http2=True,
            follow_redirects=True,
            event_hooks={"response": [_remember_status]},
        )
        try:
            client = await AsyncClient.create(
                url,
                key,
                AsyncClientOptions(
                    httpx_client=http,
                    # Writes are not idempotent; retrying is the caller's decision, not the SDK's.
                    postgrest_client_retry=False,
                    auto_refresh_token=False,
                    persist_session=False,
                ),
            )
        except Exception as exc:  # supabase-py validates the URL and key with its own exception type
            await http.aclose()
            raise ConfigError(
                f"SUPABASE_URL/SUPABASE_SERVICE_ROLE_KEY rejected by supabase-py: {exc}"
            ) from None
        store = cls(client=client, http=http, url=url)
        try:
            await store._check_schema()
        except BaseException:
            await store.close()
            raise
        return store

    async def _check_schema(self) -> None:
        _last_status.set(None)
        try:
            response = await self._client.rpc("mnemo_ping", {}).execute()
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"cannot reach SUPABASE_URL {self._url} ({type(exc).__name__}: {exc or 'no detail'})"
            ) from None
        except APIError as exc:
            code = exc.code or ""
            message = exc.message or ""
            status = _last_status.get()
            if code == "PGRST202":
                raise ConfigError(
                    f"Supabase at {self._url} answers, but Mnemo's database functions are missing: "
                    "apply supabase/migrations (supabase db push)"
                ) from None
            if code in _KEY_REJECTED_CODES or status in (401, 403) or "api key" in message.lower():
                raise ConfigError(
                    f"SUPABASE_SERVICE_ROLE_KEY was rejected by {self._url} ({_describe(exc)})"
                ) from None
            raise ConfigError(
                f"SUPABASE_URL {self._url} did not answer like a Supabase project ({_describe(exc)})"
            ) from None
        version = response.data
        if not isinstance(version, int) or isinstance(version, bool):
            raise ConfigError(
                f"SUPABASE_URL {self._url} did not answer like a Supabase project (ping returned {version!r})"
            )
        if version < SCHEMA_VERSION:
            raise ConfigError(
                f"Mnemo's schema in {self._url} is version {version}, this Mnemo needs {SCHEMA_VERSION}: "
                "apply supabase/migrations (supabase db push)"
            )

    async def _rpc(self, fn: str, params: Mapping[str, object]) -> JSON:
        _last_status.set(None)
        try:
            response = await self._client.rpc(fn, dict(params)).execute()
        except APIError as exc:
            if exc.code == _ERASED_SQLSTATE:
                log.debug("supabase %s: the account was erased after this work began", fn)
                raise ErasedError(f"supabase {fn}: the account was erased after this work began") from exc
            # `details` can echo row contents (message text), so it stays out of the log.
            log.warning(
                "supabase %s failed: code=%s status=%s message=%s hint=%s",
                fn,
                exc.code,
                _last_status.get(),
                exc.message,
                exc.hint,
            )
            raise StorageError(f"supabase {fn}: {_describe(exc)}") from exc
        except httpx.HTTPError as exc:
            log.warning("supabase %s failed: %s: %s", fn, type(exc).__name__, exc)
            raise StorageError(f"supabase {fn}: {type(exc).__name__}: {exc or 'no detail'}") from exc
        data: JSON = response.data
        return data

    async def _call(self, fn: str, params: Mapping[str, object], parse: Callable[[JSON], T]) -> T:
        data = await self._rpc(fn, params)
        try:
            return parse(data)
        except (MalformedResponseError, ValueError, KeyError) as exc:
            log.warning("supabase %s answered in an unexpected shape: %s", fn, exc)
            raise StorageError(f"supabase {fn}: unexpected response ({exc})") from exc

    async def ping(self) -> None:
        await self._call("mnemo_ping", {}, lambda data: as_int(data, "schema version"))

    async def close(self) -> None:
        await self._http.aclose()
