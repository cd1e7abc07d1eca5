"""The embedded store's accounts role: accounts, their platform identities and their settings."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime

from core.errors import StorageError
from core.models import Account, AccountSettings, IdentityKey, Platform
from core.storage.sqlite.connection import SQLiteConnection
from core.storage.sqlite.rows import timestamp, timestamp_text
from core.storage.validation import aware


class SQLiteAccounts(SQLiteConnection):
    async def resolve_account(self, identity: IdentityKey, *, display_name: str | None = None) -> Account:
        def find_or_create_account(conn: sqlite3.Connection) -> Account:
            row = conn.execute(
                "SELECT a.id, a.created_at, a.display_name, a.epoch, a.erased_at FROM identities i "
                "JOIN accounts a ON a.id = i.account_id "
                "WHERE i.platform = ? AND i.workspace = ? AND i.user_id = ?",
                (identity.platform.value, identity.workspace, identity.user),
            ).fetchone()
            if row is not None:
                if display_name and display_name != row["display_name"]:
                    conn.execute(
                        "UPDATE accounts SET display_name = ? WHERE id = ?",
                        (display_name, row["id"]),
                    )
                return Account(
                    uuid.UUID(row["id"]),
                    timestamp(row["created_at"]),
                    display_name or row["display_name"],
                    row["epoch"],
                    timestamp(row["erased_at"]) if row["erased_at"] else None,
                )
            account_id = uuid.uuid4()
            now = timestamp_text(datetime.now(UTC))
            conn.execute(
                "INSERT INTO accounts (id, created_at, display_name) VALUES (?, ?, ?)",
                (str(account_id), now, display_name),
            )
            conn.execute(
                "INSERT INTO identities (platform, workspace, user_id, account_id, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    identity.platform.value,
                    identity.workspace,
                    identity.user,
                    str(account_id),
                    now,
                ),
            )
            return Account(account_id, timestamp(now), display_name)

        return await self._tx(find_or_create_account)

    async def find_account(self, identity: IdentityKey) -> Account | None:
        def find(conn: sqlite3.Connection) -> Account | None:
            row = conn.execute(
                "SELECT a.id, a.created_at, a.display_name, a.epoch, a.erased_at FROM identities i "
                "JOIN accounts a ON a.id = i.account_id "
                "WHERE i.platform = ? AND i.workspace = ? AND i.user_id = ?",
                (identity.platform.value, identity.workspace, identity.user),
            ).fetchone()
            if row is None:
                return None
            return Account(
                uuid.UUID(row["id"]),
                timestamp(row["created_at"]),
                row["display_name"],
                row["epoch"],
                timestamp(row["erased_at"]) if row["erased_at"] else None,
            )

        return await self._read(find)

    async def get_settings(self, account_id: uuid.UUID) -> AccountSettings:
        def read_settings(conn: sqlite3.Connection) -> AccountSettings:
            row = conn.execute(
                "SELECT memory_paused, epoch FROM accounts WHERE id = ?", (str(account_id),)
            ).fetchone()
            if row is None:
                return AccountSettings()
            return AccountSettings(memory_paused=bool(row["memory_paused"]), epoch=row["epoch"])

        return await self._tx(read_settings)

    async def set_memory_paused(self, account_id: uuid.UUID, paused: bool) -> None:
        def write_paused(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE accounts SET memory_paused = ? WHERE id = ?",
                (int(paused), str(account_id)),
            )
            if cursor.rowcount == 0:
                raise StorageError(f"unknown account {account_id}")

        await self._tx(write_paused)

    async def list_identities(self, account_id: uuid.UUID) -> list[IdentityKey]:
        def read_identities(conn: sqlite3.Connection) -> list[IdentityKey]:
            rows = conn.execute(
                "SELECT platform, workspace, user_id FROM identities WHERE account_id = ? "
                "ORDER BY created_at, platform",
                (str(account_id),),
            ).fetchall()
            return [IdentityKey(Platform(r["platform"]), r["workspace"], r["user_id"]) for r in rows]

        return await self._tx(read_identities)

    async def detach_identity(self, identity: IdentityKey, *, now: datetime) -> Account:
        aware(now, "now")

        def move_to_a_new_account(conn: sqlite3.Connection) -> Account:
            row = conn.execute(
                "SELECT a.memory_paused, a.display_name FROM identities i "
                "JOIN accounts a ON a.id = i.account_id "
                "WHERE i.platform = ? AND i.workspace = ? AND i.user_id = ?",
                (identity.platform.value, identity.workspace, identity.user),
            ).fetchone()
            if row is None:
                raise sqlite3.IntegrityError("unknown identity")
            account_id = uuid.uuid4()
            conn.execute(
                "INSERT INTO accounts (id, created_at, display_name, memory_paused) VALUES (?, ?, ?, ?)",
                (str(account_id), timestamp_text(now), row["display_name"], row["memory_paused"]),
            )
            conn.execute(
                "UPDATE identities SET account_id = ? WHERE platform = ? AND workspace = ? AND user_id = ?",
                (str(account_id), identity.platform.value, identity.workspace, identity.user),
            )
            return Account(account_id, now, row["display_name"])

        return await self._tx(move_to_a_new_account)
