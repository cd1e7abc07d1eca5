"""supabase-py hands back loosely typed JSON: each value is checked here before it becomes one of
our dataclasses. A value of the wrong shape raises MalformedResponseError (StorageError at the call)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from postgrest.types import JSON

from core.models import (
    Account,
    ConversationKey,
    MemoryOrigin,
    PendingMemoryWrite,
    Platform,
    Role,
    Session,
    StoredMessage,
)


class MalformedResponseError(Exception):
    """The backend answered, but not in the shape the migrations define."""


def as_object(value: JSON) -> Mapping[str, JSON]:
    if not isinstance(value, Mapping):
        raise MalformedResponseError(f"expected an object, got {type(value).__name__}")
    return value


def as_objects(value: JSON) -> list[Mapping[str, JSON]]:
    if not isinstance(value, list):
        raise MalformedResponseError(f"expected an array, got {type(value).__name__}")
    return [as_object(item) for item in value]


def as_bool(value: JSON, what: str) -> bool:
    if not isinstance(value, bool):
        raise MalformedResponseError(f"{what}: expected a boolean, got {type(value).__name__}")
    return value


def as_int(value: JSON, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedResponseError(f"{what}: expected an integer, got {type(value).__name__}")
    return value


def as_uuid(value: JSON, what: str) -> uuid.UUID:
    if not isinstance(value, str):
        raise MalformedResponseError(f"{what}: expected a uuid string, got {type(value).__name__}")
    return uuid.UUID(value)


def string_at(row: Mapping[str, JSON], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise MalformedResponseError(f"{key}: expected a string, got {type(value).__name__}")
    return value


def optional_string_at(row: Mapping[str, JSON], key: str) -> str | None:
    return None if row.get(key) is None else string_at(row, key)


def time_at(row: Mapping[str, JSON], key: str) -> datetime:
    parsed = datetime.fromisoformat(string_at(row, key))
    if parsed.tzinfo is None:
        raise MalformedResponseError(f"{key}: timestamp without a time zone")
    return parsed.astimezone(UTC)


def optional_time_at(row: Mapping[str, JSON], key: str) -> datetime | None:
    return None if row.get(key) is None else time_at(row, key)


def account_from(row: Mapping[str, JSON]) -> Account:
    return Account(
        as_uuid(row.get("id"), "id"),
        time_at(row, "created_at"),
        optional_string_at(row, "display_name"),
        as_int(row.get("epoch"), "epoch"),
        optional_time_at(row, "erased_at"),
    )


def session_from(row: Mapping[str, JSON]) -> Session:
    return Session(
        id=as_uuid(row.get("id"), "id"),
        conversation=ConversationKey(
            Platform(string_at(row, "platform")),
            string_at(row, "workspace"),
            string_at(row, "channel"),
            string_at(row, "thread"),
        ),
        opened_at=time_at(row, "opened_at"),
        last_active_at=time_at(row, "last_active_at"),
        closed_at=optional_time_at(row, "closed_at"),
    )


def message_from(row: Mapping[str, JSON]) -> StoredMessage:
    return StoredMessage(
        id=as_uuid(row.get("id"), "id"),
        session_id=as_uuid(row.get("session_id"), "session_id"),
        account_id=as_uuid(row.get("account_id"), "account_id"),
        role=Role(string_at(row, "role")),
        text=string_at(row, "text"),
        created_at=time_at(row, "created_at"),
        author_name=optional_string_at(row, "author_name"),
    )


def messages_oldest_first(value: JSON) -> list[StoredMessage]:
    # The functions already return oldest first; sorting on seq keeps that true whatever a proxy does.
    rows = as_objects(value)
    rows.sort(key=lambda row: as_int(row.get("seq"), "seq"))
    return [message_from(row) for row in rows]


def pending_write_from(row: Mapping[str, JSON]) -> PendingMemoryWrite:
    raw_messages = row.get("messages")
    if not isinstance(raw_messages, list):
        raise MalformedResponseError("messages: expected an array")
    messages: list[dict[str, str]] = []
    for item in raw_messages:
        entry = as_object(item)
        messages.append({key: string_at(entry, key) for key in entry})
    return PendingMemoryWrite(
        id=as_uuid(row.get("id"), "id"),
        account_id=as_uuid(row.get("account_id"), "account_id"),
        messages=messages,
        origin=MemoryOrigin(
            Platform(string_at(row, "origin_platform")),
            string_at(row, "origin_channel"),
            as_bool(row.get("origin_is_private"), "origin_is_private"),
        ),
        attempts=as_int(row.get("attempts"), "attempts"),
        next_attempt_at=time_at(row, "next_attempt_at"),
        created_at=time_at(row, "created_at"),
        last_error=optional_string_at(row, "last_error"),
        epoch=as_int(row.get("epoch"), "epoch"),
    )
