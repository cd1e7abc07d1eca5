"""The embedded store's connection, and how every operation runs on it.

One worker thread owns the connection and runs each operation as one function in one transaction.
That gives atomic operations without an asyncio lock and keeps SQLite's work off the event loop.
(aiosqlite also uses a thread, but interleaves statements of concurrent coroutines inside one
transaction, which is exactly what must not happen here.) Several processes may share the file:
SQLite's own locking plus `BEGIN IMMEDIATE` keeps `claim_event` and account creation exactly-once.

Durability is chosen per transaction (PRAGMA synchronous; SQLite refuses to change it inside one):
- durable (the default, `synchronous=FULL`): the commit fsyncs the WAL before it returns, so it
  survives a power loss or an OS crash, and so does every commit made before it. Erasure, account
  creation and linking, memory-write bookkeeping and anything new use it.
- `durable=False` (`synchronous=NORMAL`): the commit is written to the WAL and is consistent, but
  the fsync waits for the next durable commit or checkpoint. It survives a crash or kill of the
  process (the OS has the pages, which is the promise: "even if a process dies"), not a power loss,
  which may roll back the last few such commits. Only the reply path's own bookkeeping uses it
  (event claims, a session's last activity, the conversation's turns, the tokens a reply spent):
  five commits per message, each an fsync of about 1 ms on a busy disk (much more on network
  disks), on the one store thread that every reply queues behind (bench/mention_burst.py: with
  every commit durable, that thread was busy about 0.3 s of a burst of 20 mentions; without, usually
  under 0.1 s). What a power loss can then cost: the last turns of history and their tokens' count,
  and a delivery answered a second time if the platform or client retries it. Never an erasure:
  erasures are durable, and a durable commit also makes every earlier one durable (the WAL is one
  file, synced up to its end).
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
        self._synchronous = ""  # the level in force on the connection (set on the store thread)

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
        self._set_synchronous(conn, durable=True)
        self._prepare(conn)
        self._conn = conn

    def _set_synchronous(self, conn: sqlite3.Connection, *, durable: bool) -> None:
        """FULL or NORMAL (see the module's docstring), outside a transaction."""
        level = "FULL" if durable else "NORMAL"
        if self._synchronous != level:
            conn.execute(f"PRAGMA synchronous={level}")
            self._synchronous = level

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

    async def _tx(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """`fn` in one write transaction. `durable=False` only for the reply path's bookkeeping
        (the module's docstring says what that gives up, and why)."""

        def in_transaction() -> T:
            conn = self._open_connection()
            self._set_synchronous(conn, durable=durable)
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
            self._set_synchronous(conn, durable=True)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _compact(self) -> None:
        # WAL frames still hold the deleted rows until checkpointed; VACUUM rewrites the file.
        conn = self._conn
        if conn is None:
            return
        self._set_synchronous(conn, durable=True)
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
