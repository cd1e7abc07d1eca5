"""The erasure barrier inside PostgreSQL, with the two transactions interleaved on purpose: an
append, pending write or merge racing "forget all" either lands before it (and is erased with the
rest) or is refused after it; it never survives it. The contract suite checks the same rules one
call at a time; this holds one transaction open while the other runs into its lock.

Each side is a real connection as service_role calling the migration's functions, as PostgREST
does. "The other side is waiting for my lock" is read from pg_blocking_pids, not assumed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
import pytest

from tests.fakes.postgrest import PostgrestShim

T = TypeVar("T")
EXCHANGE = json.dumps([{"role": "user", "content": "I like tea"}])


@pytest.fixture
def dsn(postgrest_shim: PostgrestShim, supabase_dsn: str) -> str:
    return supabase_dsn  # postgrest_shim: empty tables


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield executor


def connect(dsn: str, *, autocommit: bool) -> psycopg.Connection[Any]:
    conn = psycopg.connect(dsn, autocommit=autocommit)
    conn.execute("set role service_role")
    if not autocommit:
        conn.commit()
    return conn


def wait_until_blocked(dsn: str, waiter_pid: int, holder_pid: int) -> None:
    """Return once `waiter_pid` waits for a lock `holder_pid` holds (fails after 10 s)."""
    deadline = time.monotonic() + 10
    with psycopg.connect(dsn, autocommit=True) as monitor:
        while True:
            row = monitor.execute("select pg_blocking_pids(%s)", (waiter_pid,)).fetchone()
            if row is not None and holder_pid in row[0]:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"backend {waiter_pid} never waited for {holder_pid}")
            time.sleep(0.01)  # polling for an observable state, not standing in for one


def in_background(
    pool: ThreadPoolExecutor, dsn: str, work: Callable[[psycopg.Connection[Any]], T]
) -> tuple[Future[T], int]:
    """Run `work` on a fresh autocommit connection in another thread; returns its future and pid."""
    conn = connect(dsn, autocommit=True)
    pid = conn.info.backend_pid

    def run() -> T:
        with conn:
            return work(conn)

    return pool.submit(run), pid


def setup(dsn: str) -> tuple[uuid.UUID, uuid.UUID]:
    with connect(dsn, autocommit=True) as conn:
        account = conn.execute("select id from public.mnemo_resolve_account('slack', 'T1', 'U1')").fetchone()
        session = conn.execute(
            "select id from public.mnemo_touch_session('slack', 'T1', 'C1', '', now(), 3600)"
        ).fetchone()
    assert account is not None
    assert session is not None
    return account[0], session[0]


def scalar(dsn: str, query: str, *params: object) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def erase(account_id: uuid.UUID) -> Callable[[psycopg.Connection[Any]], int]:
    def work(conn: psycopg.Connection[Any]) -> int:
        row = conn.execute("select public.mnemo_erase_account(%s)", (account_id,)).fetchone()
        assert row is not None
        erased: int = row[0]
        return erased

    return work


def test_an_append_in_flight_when_the_erasure_starts_is_erased_with_the_rest(
    dsn: str, pool: ThreadPoolExecutor
) -> None:
    account_id, session_id = setup(dsn)
    with connect(dsn, autocommit=False) as appender:
        appender.execute(
            "select public.mnemo_append_message_at_epoch(%s, %s, 0, 'user', 'the canary', now())",
            (session_id, account_id),
        )
        erasure, eraser_pid = in_background(pool, dsn, erase(account_id))
        wait_until_blocked(dsn, eraser_pid, appender.info.backend_pid)
        appender.commit()

    assert erasure.result(timeout=10) == 1  # the message committed while it waited, and went
    assert scalar(dsn, "select count(*) from mnemo.messages") == 0
    assert scalar(dsn, "select epoch from mnemo.accounts where id = %s", account_id) == 1


def test_an_append_that_runs_into_an_erasure_is_refused_once_it_commits(
    dsn: str, pool: ThreadPoolExecutor
) -> None:
    account_id, session_id = setup(dsn)

    def append(conn: psycopg.Connection[Any]) -> str | None:
        try:
            conn.execute(
                "select public.mnemo_append_message_at_epoch(%s, %s, 0, 'user', 'the canary', now())",
                (session_id, account_id),
            )
        except psycopg.Error as exc:
            return exc.sqlstate
        return None

    with connect(dsn, autocommit=False) as eraser:
        eraser.execute("select public.mnemo_erase_account(%s)", (account_id,))
        appended, appender_pid = in_background(pool, dsn, append)
        wait_until_blocked(dsn, appender_pid, eraser.info.backend_pid)
        eraser.commit()

    assert appended.result(timeout=10) == "MN001"
    assert scalar(dsn, "select count(*) from mnemo.messages") == 0


def test_a_pending_write_that_runs_into_an_erasure_is_not_kept(dsn: str, pool: ThreadPoolExecutor) -> None:
    account_id, _ = setup(dsn)

    def keep(conn: psycopg.Connection[Any]) -> uuid.UUID | None:
        row = conn.execute(
            "select public.mnemo_add_pending_write_at_epoch(%s, 0, %s::jsonb, 'slack', 'C1', false, now())",
            (account_id, EXCHANGE),
        ).fetchone()
        assert row is not None
        kept: uuid.UUID | None = row[0]
        return kept

    with connect(dsn, autocommit=False) as eraser:
        eraser.execute("select public.mnemo_erase_account(%s)", (account_id,))
        kept, keeper_pid = in_background(pool, dsn, keep)
        wait_until_blocked(dsn, keeper_pid, eraser.info.backend_pid)
        eraser.commit()

    assert kept.result(timeout=10) is None
    assert scalar(dsn, "select count(*) from mnemo.pending_memory_writes") == 0


def test_a_pending_write_in_flight_when_the_erasure_starts_is_erased(
    dsn: str, pool: ThreadPoolExecutor
) -> None:
    account_id, _ = setup(dsn)
    with connect(dsn, autocommit=False) as keeper:
        keeper.execute(
            "select public.mnemo_add_pending_write_at_epoch(%s, 0, %s::jsonb, 'slack', 'C1', false, now())",
            (account_id, EXCHANGE),
        )
        erasure, eraser_pid = in_background(pool, dsn, erase(account_id))
        wait_until_blocked(dsn, eraser_pid, keeper.info.backend_pid)
        keeper.commit()

    assert erasure.result(timeout=10) == 0  # no messages; the pending write went with them
    assert scalar(dsn, "select count(*) from mnemo.pending_memory_writes") == 0


def test_a_merge_that_runs_into_the_sources_erasure_moves_nothing(dsn: str, pool: ThreadPoolExecutor) -> None:
    source_id, session_id = setup(dsn)
    with connect(dsn, autocommit=True) as conn:
        target = conn.execute("select id from public.mnemo_resolve_account('discord', '', '42')").fetchone()
        assert target is not None
        target_id = target[0]
        conn.execute(
            "select public.mnemo_append_message_at_epoch(%s, %s, 0, 'user', 'source text', now())",
            (session_id, source_id),
        )
        conn.execute(
            "select public.mnemo_add_link_code(%s, 'h', now(), now() + interval '10 minutes')", (target_id,)
        )
        reserved = conn.execute("select public.mnemo_reserve_link_code('h', %s, now(), 120)", (source_id,))
        assert reserved.fetchone() == (True,)

    def merge(conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute(
            "select public.mnemo_merge_accounts_reserved(%s, %s, 'h', now())", (source_id, target_id)
        ).fetchone()
        assert row is not None
        merged: bool = row[0]
        return merged

    with connect(dsn, autocommit=False) as eraser:
        eraser.execute("select public.mnemo_erase_account(%s)", (source_id,))
        merged, merger_pid = in_background(pool, dsn, merge)
        wait_until_blocked(dsn, merger_pid, eraser.info.backend_pid)
        eraser.commit()

    assert merged.result(timeout=10) is False  # the erasure dropped the source's reservation
    assert scalar(dsn, "select count(*) from mnemo.accounts") == 2
    assert scalar(dsn, "select count(*) from mnemo.account_merges") == 0
    assert scalar(dsn, "select used_at from mnemo.link_codes where code_hash = 'h'") is None
