"""What the embedded store's rows hold, in and out: timestamps as UTC ISO text, rows as models,
and the checks on an account that several operations make inside their transaction."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime

from core.errors import ErasedError, StorageError
from core.models import ConversationKey, IdentityKey, Platform, Role, Session, StoredMessage
from core.storage.validation import aware


def timestamp_text(value: datetime) -> str:
    # UTC with fixed precision, so text order is time order in SQL comparisons and ORDER BY.
    return aware(value, "datetime").astimezone(UTC).isoformat(timespec="microseconds")


def timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


def identity_text(identity: IdentityKey) -> str:
    return json.dumps([identity.platform.value, identity.workspace, identity.user])


def session_from(row: sqlite3.Row) -> Session:
    return Session(
        id=uuid.UUID(row["id"]),
        conversation=ConversationKey(
            Platform(row["platform"]), row["workspace"], row["channel"], row["thread"]
        ),
        opened_at=timestamp(row["opened_at"]),
        last_active_at=timestamp(row["last_active_at"]),
        closed_at=timestamp(row["closed_at"]) if row["closed_at"] else None,
    )


def message_from(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(
        id=uuid.UUID(row["id"]),
        session_id=uuid.UUID(row["session_id"]),
        account_id=uuid.UUID(row["account_id"]),
        role=Role(row["role"]),
        text=row["text"],
        created_at=timestamp(row["created_at"]),
        author_name=row["author_name"],
    )


def require_account(conn: sqlite3.Connection, account_id: uuid.UUID) -> None:
    # messages/pending writes have no foreign key to accounts here (the Supabase schema does).
    if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (str(account_id),)).fetchone() is None:
        raise StorageError(f"unknown account {account_id}")


def check_epoch(conn: sqlite3.Connection, account_id: uuid.UUID, epoch: int) -> None:
    row = conn.execute("SELECT epoch FROM accounts WHERE id = ?", (str(account_id),)).fetchone()
    if row is None:
        raise StorageError(f"unknown account {account_id}")
    if row["epoch"] != epoch:
        raise ErasedError("the account was erased after this work began")
