"""Supabase implementation of the storage port.

Every operation is one SQL function (`supabase/migrations/`) called through the async supabase-py
client's `rpc()`: one HTTP round trip, one transaction, so the invariants (one account per identity,
one open session per conversation, an event claimed once, nothing stored under an erased epoch)
hold in the database even with several bot processes. The tables live in a private `mnemo` schema;
only the `public.mnemo_*` functions are reachable, and only with the service_role key.

This module is the one place that knows supabase-py: its errors (`postgrest.APIError`, httpx
transport errors) become `StorageError` here, with the cause logged (except the stale-epoch
SQLSTATE, which becomes `ErasedError`), and its loosely typed JSON is checked before it becomes our
dataclasses.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeVar

import httpx
from postgrest import APIError
from postgrest.types import JSON

from config import ConfigError, Settings
from core.errors import ErasedError, StorageError
from core.models import (
    Account,
    AccountSettings,
    ConversationKey,
    ConversationPage,
    ConversationSummary,
    IdentityKey,
    LinkCode,
    MemoryOrigin,
    MessagePage,
    PendingMemoryWrite,
    Platform,
    Role,
    Session,
    StoredMessage,
    WriteTarget,
)
from core.storage import Store
from supabase import AsyncClient, AsyncClientOptions

log = logging.getLogger(__name__)

# The schema version `mnemo_ping()` must report at least; bump with a migration that changes the API.
SCHEMA_VERSION: Final = 7
# Raised by the *_at_epoch functions when the account was erased after the work began (a SQLSTATE
# class of Mnemo's own, so nothing else can mean it): ErasedError, not a failure.
_ERASED_SQLSTATE: Final = "MN001"
DEFAULT_TIMEOUT_SECONDS: Final = 10.0
_CONNECT_TIMEOUT_SECONDS: Final = 5.0
_KEY_REJECTED_CODES: Final = frozenset({"PGRST301", "PGRST302", "PGRST303", "42501", "401", "403"})

_Json = JSON
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


class _MalformedResponseError(Exception):
    """The backend answered, but not in the shape the migrations define."""


def _aware(value: datetime, name: str) -> str:
    # A naive datetime would be read in the database server's time zone: refuse it here, clearly.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {value.isoformat()})")
    return value.isoformat()


def _non_negative(value: int, name: str) -> int:
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (got {value})")
    return value


def _row(value: _Json) -> Mapping[str, _Json]:
    if not isinstance(value, Mapping):
        raise _MalformedResponseError(f"expected an object, got {type(value).__name__}")
    return value


def _rows(value: _Json) -> list[Mapping[str, _Json]]:
    if not isinstance(value, list):
        raise _MalformedResponseError(f"expected an array, got {type(value).__name__}")
    return [_row(item) for item in value]


def _str(row: Mapping[str, _Json], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise _MalformedResponseError(f"{key}: expected a string, got {type(value).__name__}")
    return value


def _opt_str(row: Mapping[str, _Json], key: str) -> str | None:
    return None if row.get(key) is None else _str(row, key)


def _bool(value: _Json, what: str) -> bool:
    if not isinstance(value, bool):
        raise _MalformedResponseError(f"{what}: expected a boolean, got {type(value).__name__}")
    return value


def _int(value: _Json, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _MalformedResponseError(f"{what}: expected an integer, got {type(value).__name__}")
    return value


def _id(value: _Json, what: str) -> uuid.UUID:
    if not isinstance(value, str):
        raise _MalformedResponseError(f"{what}: expected a uuid string, got {type(value).__name__}")
    return uuid.UUID(value)


def _time(row: Mapping[str, _Json], key: str) -> datetime:
    parsed = datetime.fromisoformat(_str(row, key))
    if parsed.tzinfo is None:
        raise _MalformedResponseError(f"{key}: timestamp without a time zone")
    return parsed.astimezone(UTC)


def _opt_time(row: Mapping[str, _Json], key: str) -> datetime | None:
    return None if row.get(key) is None else _time(row, key)


def _account(row: Mapping[str, _Json]) -> Account:
    return Account(
        _id(row.get("id"), "id"),
        _time(row, "created_at"),
        _opt_str(row, "display_name"),
        _int(row.get("epoch"), "epoch"),
    )


def _session(row: Mapping[str, _Json]) -> Session:
    return Session(
        id=_id(row.get("id"), "id"),
        conversation=ConversationKey(
            Platform(_str(row, "platform")),
            _str(row, "workspace"),
            _str(row, "channel"),
            _str(row, "thread"),
        ),
        opened_at=_time(row, "opened_at"),
        last_active_at=_time(row, "last_active_at"),
        closed_at=_opt_time(row, "closed_at"),
    )


def _message(row: Mapping[str, _Json]) -> StoredMessage:
    return StoredMessage(
        id=_id(row.get("id"), "id"),
        session_id=_id(row.get("session_id"), "session_id"),
        account_id=_id(row.get("account_id"), "account_id"),
        role=Role(_str(row, "role")),
        text=_str(row, "text"),
        created_at=_time(row, "created_at"),
        author_name=_opt_str(row, "author_name"),
    )


def _messages_in_order(value: _Json) -> list[StoredMessage]:
    # The functions already return oldest first; sorting on seq keeps that true whatever a proxy does.
    rows = _rows(value)
    rows.sort(key=lambda row: _int(row.get("seq"), "seq"))
    return [_message(row) for row in rows]


def _pending(row: Mapping[str, _Json]) -> PendingMemoryWrite:
    raw_messages = row.get("messages")
    if not isinstance(raw_messages, list):
        raise _MalformedResponseError("messages: expected an array")
    messages: list[dict[str, str]] = []
    for item in raw_messages:
        entry = _row(item)
        messages.append({key: _str(entry, key) for key in entry})
    return PendingMemoryWrite(
        id=_id(row.get("id"), "id"),
        account_id=_id(row.get("account_id"), "account_id"),
        messages=messages,
        origin=MemoryOrigin(
            Platform(_str(row, "origin_platform")),
            _str(row, "origin_channel"),
            _bool(row.get("origin_is_private"), "origin_is_private"),
        ),
        attempts=_int(row.get("attempts"), "attempts"),
        next_attempt_at=_time(row, "next_attempt_at"),
        created_at=_time(row, "created_at"),
        last_error=_opt_str(row, "last_error"),
        epoch=_int(row.get("epoch"), "epoch"),
    )


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


class SupabaseStore:
    """The Supabase store. Use `await SupabaseStore.open(settings)`; `close()` when done."""

    def __init__(self, *, client: AsyncClient, http: httpx.AsyncClient, url: str) -> None:
        self._client = client
        self._http = http
        self._url = url

    @classmethod
    async def open(cls, settings: Settings) -> SupabaseStore:
        """Connect and check the project answers with Mnemo's schema. Raises ConfigError with one
        clear line when the URL, the key or the migrations are wrong."""
        if settings.supabase_url is None or settings.supabase_service_role_key is None:
            raise ConfigError("the Supabase store needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY")
        return await cls.connect(
            url=settings.supabase_url,
            key=settings.supabase_service_role_key.get_secret_value(),
        )

    @classmethod
    async def connect(
        cls, *, url: str, key: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    ) -> SupabaseStore:
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

    async def _rpc(self, fn: str, params: Mapping[str, object]) -> _Json:
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
        data: _Json = response.data
        return data

    async def _call(self, fn: str, params: Mapping[str, object], parse: Callable[[_Json], T]) -> T:
        data = await self._rpc(fn, params)
        try:
            return parse(data)
        except (_MalformedResponseError, ValueError, KeyError) as exc:
            log.warning("supabase %s answered in an unexpected shape: %s", fn, exc)
            raise StorageError(f"supabase {fn}: unexpected response ({exc})") from exc

    async def resolve_account(self, identity: IdentityKey, *, display_name: str | None = None) -> Account:
        return await self._call(
            "mnemo_resolve_account",
            {
                "p_platform": identity.platform.value,
                "p_workspace": identity.workspace,
                "p_user_id": identity.user,
                "p_display_name": display_name,
            },
            lambda data: _account(_row(data)),
        )

    async def touch_session(
        self, conversation: ConversationKey, *, now: datetime, idle_timeout: timedelta
    ) -> Session:
        if idle_timeout < timedelta(0):
            raise ValueError(f"idle_timeout must be >= 0 (got {idle_timeout})")
        return await self._call(
            "mnemo_touch_session",
            {
                "p_platform": conversation.platform.value,
                "p_workspace": conversation.workspace,
                "p_channel": conversation.channel,
                "p_thread": conversation.thread,
                "p_now": _aware(now, "now"),
                "p_idle_seconds": idle_timeout.total_seconds(),
            },
            lambda data: _session(_row(data)),
        )

    async def get_session(self, session_id: uuid.UUID) -> Session | None:
        def parse(data: _Json) -> Session | None:
            rows = _rows(data)
            return _session(rows[0]) if rows else None

        return await self._call("mnemo_get_session", {"p_session_id": str(session_id)}, parse)

    async def has_session(self, conversation: ConversationKey) -> bool:
        return await self._call(
            "mnemo_has_session",
            {
                "p_platform": conversation.platform.value,
                "p_workspace": conversation.workspace,
                "p_channel": conversation.channel,
                "p_thread": conversation.thread,
            },
            lambda data: _bool(data, "has_session"),
        )

    async def list_conversations(
        self, *, platform: Platform, workspace: str, channel: str, offset: int, limit: int
    ) -> ConversationPage:
        def parse(data: _Json) -> ConversationPage:
            page = _row(data)
            items = [
                ConversationSummary(
                    conversation=ConversationKey(platform, workspace, channel, _str(row, "thread")),
                    opened_at=_time(row, "opened_at"),
                    last_active_at=_time(row, "last_active_at"),
                    message_count=_int(row.get("message_count"), "message_count"),
                    preview=_opt_str(row, "preview"),
                )
                for row in _rows(page.get("items"))
            ]
            return ConversationPage(items, offset, _int(page.get("total"), "total"))

        return await self._call(
            "mnemo_list_conversations",
            {
                "p_platform": platform.value,
                "p_workspace": workspace,
                "p_channel": channel,
                "p_offset": _non_negative(offset, "offset"),
                "p_limit": _non_negative(limit, "limit"),
            },
            parse,
        )

    async def conversation_messages(
        self, conversation: ConversationKey, *, offset: int, limit: int
    ) -> MessagePage:
        def parse(data: _Json) -> MessagePage:
            page = _row(data)
            items = [_message(row) for row in _rows(page.get("items"))]
            return MessagePage(items, offset, _int(page.get("total"), "total"))

        return await self._call(
            "mnemo_conversation_messages",
            {
                "p_platform": conversation.platform.value,
                "p_workspace": conversation.workspace,
                "p_channel": conversation.channel,
                "p_thread": conversation.thread,
                "p_offset": _non_negative(offset, "offset"),
                "p_limit": _non_negative(limit, "limit"),
            },
            parse,
        )

    async def delete_conversation(self, conversation: ConversationKey) -> int:
        # Like erase_account: the rows stay in PostgreSQL's files until VACUUM reclaims them.
        return await self._call(
            "mnemo_delete_conversation",
            {
                "p_platform": conversation.platform.value,
                "p_workspace": conversation.workspace,
                "p_channel": conversation.channel,
                "p_thread": conversation.thread,
            },
            lambda data: _int(data, "deleted"),
        )

    async def append_message(
        self,
        *,
        session_id: uuid.UUID,
        account_id: uuid.UUID,
        role: Role,
        text: str,
        now: datetime,
        epoch: int,
        author_name: str | None = None,
    ) -> StoredMessage:
        return await self._call(
            "mnemo_append_message_at_epoch",
            {
                "p_session_id": str(session_id),
                "p_account_id": str(account_id),
                "p_epoch": epoch,
                "p_role": role.value,
                "p_text": text,
                "p_now": _aware(now, "now"),
                "p_author_name": author_name,
            },
            lambda data: _message(_row(data)),
        )

    async def append_and_recent(
        self,
        *,
        session_id: uuid.UUID,
        account_id: uuid.UUID,
        role: Role,
        text: str,
        now: datetime,
        epoch: int,
        limit: int,
        author_name: str | None = None,
    ) -> tuple[StoredMessage, list[StoredMessage]]:
        """Store a message and get the (up to `limit`) turns before it, oldest first, in one round
        trip; ErasedError like append_message. Not part of the Store port: the orchestrator calls the
        two halves separately (bench/store_roundtrips.py measures what joining them would save)."""
        _non_negative(limit, "limit")

        def parse(data: _Json) -> tuple[StoredMessage, list[StoredMessage]]:
            messages = _messages_in_order(data)
            if not messages:
                raise _MalformedResponseError("the stored message is missing")
            return messages[-1], messages[:-1]

        return await self._call(
            "mnemo_append_message_and_recent_at_epoch",
            {
                "p_session_id": str(session_id),
                "p_account_id": str(account_id),
                "p_epoch": epoch,
                "p_role": role.value,
                "p_text": text,
                "p_now": _aware(now, "now"),
                "p_limit": limit,
                "p_author_name": author_name,
            },
            parse,
        )

    async def recent_messages(self, session_id: uuid.UUID, *, limit: int) -> list[StoredMessage]:
        return await self._call(
            "mnemo_recent_messages",
            {"p_session_id": str(session_id), "p_limit": _non_negative(limit, "limit")},
            _messages_in_order,
        )

    async def claim_event(self, key: str, *, now: datetime) -> bool:
        if not key:
            raise ValueError("event key must not be empty")
        return await self._call(
            "mnemo_claim_event",
            {"p_key": key, "p_now": _aware(now, "now")},
            lambda data: _bool(data, "claimed"),
        )

    async def get_settings(self, account_id: uuid.UUID) -> AccountSettings:
        def parse(data: _Json) -> AccountSettings:
            rows = _rows(data)
            if not rows:
                return AccountSettings()
            return AccountSettings(
                memory_paused=_bool(rows[0].get("memory_paused"), "memory_paused"),
                epoch=_int(rows[0].get("epoch"), "epoch"),
            )

        return await self._call("mnemo_get_settings_with_epoch", {"p_account_id": str(account_id)}, parse)

    async def set_memory_paused(self, account_id: uuid.UUID, paused: bool) -> None:
        await self._rpc("mnemo_set_memory_paused", {"p_account_id": str(account_id), "p_paused": paused})

    async def close_idle_sessions(self, *, now: datetime, idle_timeout: timedelta) -> int:
        if idle_timeout < timedelta(0):
            raise ValueError(f"idle_timeout must be >= 0 (got {idle_timeout})")
        return await self._call(
            "mnemo_close_idle_sessions",
            {"p_now": _aware(now, "now"), "p_idle_seconds": idle_timeout.total_seconds()},
            lambda data: _int(data, "closed"),
        )

    async def purge_messages(self, *, before: datetime) -> int:
        return await self._call(
            "mnemo_purge_messages",
            {"p_before": _aware(before, "before")},
            lambda data: _int(data, "purged"),
        )

    async def purge_bookkeeping(self, *, before: datetime) -> int:
        return await self._call(
            "mnemo_purge_bookkeeping",
            {"p_before": _aware(before, "before")},
            lambda data: _int(data, "purged"),
        )

    async def erase_account(self, account_id: uuid.UUID) -> int:
        # Deleted rows stay in PostgreSQL's files until VACUUM reclaims them (and in WAL/backups for
        # their retention period); a function cannot VACUUM. See README: Supabase.
        return await self._call(
            "mnemo_erase_account",
            {"p_account_id": str(account_id)},
            lambda data: _int(data, "erased"),
        )

    async def memory_write_target(self, account_id: uuid.UUID, epoch: int) -> WriteTarget | None:
        def parse(data: _Json) -> WriteTarget | None:
            if data is None:
                return None
            row = _row(data)
            return WriteTarget(_id(row.get("account_id"), "account_id"), _int(row.get("epoch"), "epoch"))

        return await self._call(
            "mnemo_memory_write_target", {"p_account_id": str(account_id), "p_epoch": epoch}, parse
        )

    async def add_pending_write(
        self,
        *,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        origin: MemoryOrigin,
        now: datetime,
        epoch: int,
        error: str | None,
    ) -> uuid.UUID | None:
        return await self._call(
            "mnemo_add_pending_write_at_epoch",
            {
                "p_account_id": str(account_id),
                "p_epoch": epoch,
                "p_messages": messages,
                "p_origin_platform": origin.platform.value,
                "p_origin_channel": origin.channel,
                "p_origin_is_private": origin.is_private,
                "p_now": _aware(now, "now"),
                "p_error": error,
            },
            lambda data: None if data is None else _id(data, "id"),
        )

    async def due_pending_writes(self, *, now: datetime, limit: int) -> list[PendingMemoryWrite]:
        return await self._call(
            "mnemo_due_pending_writes",
            {"p_now": _aware(now, "now"), "p_limit": _non_negative(limit, "limit")},
            lambda data: [_pending(row) for row in _rows(data)],
        )

    async def complete_pending_write(self, write_id: uuid.UUID) -> bool:
        return await self._call(
            "mnemo_finish_pending_write",
            {"p_write_id": str(write_id)},
            lambda data: _bool(data, "finished"),
        )

    async def reschedule_pending_write(
        self, write_id: uuid.UUID, *, next_attempt_at: datetime, error: str
    ) -> None:
        await self._rpc(
            "mnemo_reschedule_pending_write",
            {
                "p_write_id": str(write_id),
                "p_next_attempt_at": _aware(next_attempt_at, "next_attempt_at"),
                "p_error": error,
            },
        )

    # -- account linking -------------------------------------------------------------------------
    async def add_link_code(
        self, *, account_id: uuid.UUID, code_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        await self._rpc(
            "mnemo_add_link_code",
            {
                "p_account_id": str(account_id),
                "p_code_hash": code_hash,
                "p_now": _aware(now, "now"),
                "p_expires_at": _aware(expires_at, "expires_at"),
            },
        )

    async def find_link_code(self, code_hash: str) -> LinkCode | None:
        def parse(data: _Json) -> LinkCode | None:
            rows = _rows(data)
            if not rows:
                return None
            row = rows[0]
            return LinkCode(
                code_hash=_str(row, "code_hash"),
                account_id=_id(row.get("account_id"), "account_id"),
                created_at=_time(row, "created_at"),
                expires_at=_time(row, "expires_at"),
                used_at=_opt_time(row, "used_at"),
            )

        return await self._call("mnemo_find_link_code", {"p_code_hash": code_hash}, parse)

    async def reserve_link_code(
        self, code_hash: str, *, account_id: uuid.UUID, now: datetime, hold: timedelta
    ) -> bool:
        if hold < timedelta(0):
            raise ValueError(f"hold must be >= 0 (got {hold})")
        return await self._call(
            "mnemo_reserve_link_code",
            {
                "p_code_hash": code_hash,
                "p_account_id": str(account_id),
                "p_now": _aware(now, "now"),
                "p_hold_seconds": hold.total_seconds(),
            },
            lambda data: _bool(data, "reserved"),
        )

    async def record_link_failure(self, identity: IdentityKey, *, now: datetime) -> None:
        await self._rpc(
            "mnemo_record_link_failure",
            {
                "p_platform": identity.platform.value,
                "p_workspace": identity.workspace,
                "p_user_id": identity.user,
                "p_now": _aware(now, "now"),
            },
        )

    async def count_link_failures(self, identity: IdentityKey, *, since: datetime) -> int:
        return await self._call(
            "mnemo_count_link_failures",
            {
                "p_platform": identity.platform.value,
                "p_workspace": identity.workspace,
                "p_user_id": identity.user,
                "p_since": _aware(since, "since"),
            },
            lambda data: _int(data, "failures"),
        )

    async def merge_accounts(
        self, *, source: uuid.UUID, target: uuid.UUID, code_hash: str, now: datetime
    ) -> bool:
        if source == target:
            raise ValueError("merge_accounts: source and target must be different accounts")
        return await self._call(
            "mnemo_merge_accounts_reserved",
            {
                "p_source": str(source),
                "p_target": str(target),
                "p_code_hash": code_hash,
                "p_now": _aware(now, "now"),
            },
            lambda data: _bool(data, "merged"),
        )

    async def list_identities(self, account_id: uuid.UUID) -> list[IdentityKey]:
        return await self._call(
            "mnemo_list_identities",
            {"p_account_id": str(account_id)},
            lambda data: [
                IdentityKey(Platform(_str(row, "platform")), _str(row, "workspace"), _str(row, "user_id"))
                for row in _rows(data)
            ],
        )

    async def detach_identity(self, identity: IdentityKey, *, now: datetime) -> Account:
        return await self._call(
            "mnemo_detach_identity",
            {
                "p_platform": identity.platform.value,
                "p_workspace": identity.workspace,
                "p_user_id": identity.user,
                "p_now": _aware(now, "now"),
            },
            lambda data: _account(_row(data)),
        )

    async def ping(self) -> None:
        await self._call("mnemo_ping", {}, lambda data: _int(data, "schema version"))

    async def close(self) -> None:
        await self._http.aclose()


if TYPE_CHECKING:
    # mypy (strict on core/) fails here the day the Store port gains a method this class lacks.
    def _implements_the_port(store: SupabaseStore) -> Store:
        return store
