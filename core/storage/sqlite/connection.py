"""The embedded store's connection, and how every operation runs on it.

One worker thread owns the connection and runs each operation as one function in one transaction.
That gives atomic operations without an asyncio lock and keeps SQLite's work off the event loop.
(aiosqlite also uses a thread, but interleaves statements of concurrent coroutines inside one
transaction, which is exactly what must not happen here.) Several processes may share the file:
SQLite's own locking plus `BEGIN IMMEDIATE` keeps `claim_event` and account creation exactly-once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self, TypeVar

from core.errors import StorageError
from core.storage.sqlite.schema import SCHEMA, migrate

T = TypeVar("T")


class SQLiteConnection:
    """The connection and its worker thread; the role mixins of `SQLiteStore` run their SQL here.
    (The intake's inbox, core.intake.sqlite, runs on the same kind of connection: `_prepare` is
    what differs.)"""

    thread_name = "sqlite-store"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.thread_name)
        self._conn: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: Path) -> Self:
        store = cls(path)
        await store._run(store._connect)
        return store

    def _connect(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=30.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        # Erasure must really erase: overwrite deleted content instead of leaving it in free pages.
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        self._prepare(conn)
        self._conn = conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Create or upgrade the tables this connection serves."""
        conn.executescript(SCHEMA)
        migrate(conn)

    def _open_connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise sqlite3.ProgrammingError("store is closed")
        return self._conn

    async def _run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite: {exc}") from exc

    async def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def in_transaction() -> T:
            conn = self._open_connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self._run(in_transaction)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """One read outside a transaction: it takes no write lock (BEGIN IMMEDIATE would)."""
        return await self._run(lambda: fn(self._open_connection()))

    def _checkpoint(self) -> None:
        conn = self._conn
        if conn is not None:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _compact(self) -> None:
        # WAL frames still hold the deleted rows until checkpointed; VACUUM rewrites the file.
        conn = self._conn
        if conn is None:
            return
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def ping(self) -> None:
        await self._tx(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        def close_connection() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._run(close_connection)
        self._executor.shutdown(wait=True)
