"""Connections to the memory vector database (SUPABASE_DB_URL), for core.memory.vectors.postgres.

The URL is parsed once and given our libpq defaults; what goes wrong at start-up is one line
without the password (libpq quotes URL fragments, and can echo the URL back); and mem0's two stores
(memories and entities), called from several threads, share one small pool per URL in the process.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from config import ConfigError

SETTING = "SUPABASE_DB_URL"

# libpq settings used unless the URL sets them: fail a dead host in seconds, and notice a silently
# dropped connection (a NAT or proxy timing out) instead of blocking a memory worker forever.
_CONNECT_DEFAULTS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}
_POOL_SIZE = 4  # mem0 runs on Mem0Memory's 4 worker threads
_ACQUIRE_TIMEOUT_SECONDS = 30.0

# Checks (and prepares) a database for use, given a connection and where it is (for messages).
Prepare = Callable[[psycopg.Connection[Any], str], None]
# Sets up each new connection of a pool (type adapters), after the database was prepared.
Configure = Callable[[psycopg.Connection[Any]], None]


def _redact(text: str, password: str | None) -> str:
    if password and len(password) >= 4:
        text = text.replace(password, "***")
    # scheme://user:password@host, in case libpq echoed a URL back
    return re.sub(r"(://[^\s:/@]*:)[^\s@/]+@", r"\1***@", text)


def _one_line(exc: BaseException, password: str | None) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return _redact(text.removeprefix("connection failed: "), password)


def _conninfo(url: str) -> tuple[str, dict[str, Any]]:
    """The connection string with our libpq defaults added, and its parsed parameters. ConfigError
    with one line (never the password) when libpq cannot parse it."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        # libpq quotes the offending fragment, which can be part of the password: drop the quotes.
        detail = re.sub(r'"[^"]*"', '"..."', " ".join(str(exc).split()))
        detail = detail.removeprefix("invalid connection string: ")
        raise ConfigError(
            f"{SETTING} is not a valid Postgres connection string ({detail}); expected "
            "postgresql://user:password@host:5432/dbname"
        ) from None
    if not params.get("dbname") and not params.get("host"):
        raise ConfigError(f"{SETTING} names no host or database; expected postgresql://user:password@host/db")
    extra = {key: value for key, value in _CONNECT_DEFAULTS.items() if key not in params}
    return make_conninfo(url, **extra), params


def parse_url(url: str) -> tuple[str, dict[str, Any]]:
    """The connection string with our libpq defaults, and its parameters (ConfigError if bad)."""
    return _conninfo(url)


def _where(params: dict[str, Any]) -> str:
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or ''}"


class ConnectionPool:
    """A few autocommit connections, opened on demand and reused; a broken one is dropped.

    psycopg_pool is not a dependency and a pool this size needs no background threads: a connection
    is opened by the thread that needs it, and returned idle (autocommit, no open transaction)."""

    def __init__(
        self,
        conninfo: str,
        *,
        max_size: int = _POOL_SIZE,
        password: str | None = None,
        configure: Configure | None = None,
    ) -> None:
        self._conninfo = conninfo
        self._configure = configure
        self._password = password
        self._max_size = max_size
        self._idle: list[psycopg.Connection[Any]] = []
        self._open = 0
        self._closed = False
        self._cond = threading.Condition()

    def _connect(self) -> psycopg.Connection[Any]:
        # prepare_threshold=None: Supabase's transaction pooler (port 6543) has no prepared statements.
        conn = psycopg.connect(self._conninfo, autocommit=True, prepare_threshold=None)
        if self._configure is not None:
            try:
                self._configure(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self._acquire()
        try:
            yield conn
        finally:
            self._release(conn)

    def _acquire(self) -> psycopg.Connection[Any]:
        with self._cond:
            if not self._cond.wait_for(
                lambda: self._closed or self._idle or self._open < self._max_size,
                timeout=_ACQUIRE_TIMEOUT_SECONDS,
            ):
                raise TimeoutError(f"no free database connection after {_ACQUIRE_TIMEOUT_SECONDS:.0f}s")
            if self._closed:
                raise RuntimeError("the memory vector store is closed")
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self._connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def _release(self, conn: psycopg.Connection[Any]) -> None:
        reusable = (
            not conn.closed and not conn.broken and conn.info.transaction_status == pq.TransactionStatus.IDLE
        )
        with self._cond:
            if reusable and not self._closed:
                self._idle.append(conn)
                self._cond.notify()
                return
            self._open -= 1
            self._cond.notify()
        conn.close()

    def discard_idle(self) -> None:
        """After a broken connection (a server restart, a pooler timeout) the idle ones are likely
        broken too: close them so the next use opens a fresh one."""
        with self._cond:
            stale, self._idle = self._idle, []
            self._open -= len(stale)
            self._cond.notify_all()
        for conn in stale:
            conn.close()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            conn.close()


class SharedPools:
    """One pool per connection string in the process, shared by mem0's memory and entity stores;
    the first user checks the database with `prepare` (which raises ConfigError for what it
    finds wrong)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, tuple[ConnectionPool, int]] = {}

    def acquire(
        self, url: str, *, prepare: Prepare, configure: Configure | None = None
    ) -> tuple[str, ConnectionPool]:
        conninfo, params = _conninfo(url)
        with self._lock:
            entry = self._pools.get(conninfo)
            if entry is not None:
                self._pools[conninfo] = (entry[0], entry[1] + 1)
                return conninfo, entry[0]
            password = params.get("password")
            pool = ConnectionPool(conninfo, password=password, configure=configure)
            try:
                # A connection of its own: the pool's are configured for what `prepare` creates.
                with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
                    prepare(conn, _where(params))
                with pool.connection():
                    pass  # and one configured connection, so a problem shows here, at start-up
            except psycopg.Error as exc:
                pool.close()
                raise ConfigError(
                    f"{SETTING}: cannot use the database at {_where(params)} ({_one_line(exc, password)})"
                ) from None
            except BaseException:
                pool.close()
                raise
            self._pools[conninfo] = (pool, 1)
            return conninfo, pool

    def release(self, conninfo: str) -> None:
        with self._lock:
            entry = self._pools.get(conninfo)
            if entry is None:
                return
            if entry[1] > 1:
                self._pools[conninfo] = (entry[0], entry[1] - 1)
                return
            del self._pools[conninfo]
        entry[0].close()


POOLS = SharedPools()
