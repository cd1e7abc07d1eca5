"""Store round trips and time per chat message: Supabase (supabase-py -> loopback PostgREST shim ->
PostgreSQL) vs the embedded SQLite store, side by side.

One "message" is the store work the orchestrator does for it, in the same shape: claim the event,
[resolve the account || touch the session], then [recent turns || store the message || settings]
in parallel, then store the answer. A round trip is one HTTP request (Supabase) or one transaction on
the store's thread (SQLite). Also per-operation medians, and the one-call append+recent variant.

Needs PostgreSQL (MNEMO_TEST_PG_DSN, default postgresql://postgres@127.0.0.1:5432/postgres); creates
and drops its own database. On loopback the network costs ~nothing: with a real Supabase project,
add (sequential round trips on the critical path) x (your RTT to the project) per message.

    python bench/store_roundtrips.py [--messages 400]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from _common import percentile  # also puts the repository on sys.path

from core.models import ConversationKey, IdentityKey, Platform, Role
from core.storage import Store
from core.storage.sqlite import SQLiteStore
from core.storage.supabase import SupabaseStore
from tests.fakes.postgrest import make_key
from tests.supabase import pg

ROOT = Path(__file__).resolve().parents[1]

T = TypeVar("T")
IDLE = timedelta(minutes=60)
USERS = 20
ROUNDS = 4
SEQUENTIAL_STEPS = 4  # claim -> (resolve || touch) -> (recent || append || settings) -> append answer


class Counting:
    """Counts calls per Store method (= round trips: every method is one transaction or request)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()

    async def __call__(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        self.calls[name] += 1
        return await call()


async def one_message(counting: Counting, i: int, *, combined: bool) -> None:
    store = counting.store
    now = datetime.now(UTC)
    user = f"U{i % USERS}"
    await counting("claim_event", lambda: store.claim_event(f"msg:bench:{secrets.token_hex(8)}", now=now))
    account, session = await asyncio.gather(
        counting(
            "resolve_account",
            lambda: store.resolve_account(IdentityKey(Platform.SLACK, "T1", user), display_name=user),
        ),
        counting(
            "touch_session",
            lambda: store.touch_session(
                ConversationKey(Platform.SLACK, "T1", f"C-{user}"), now=now, idle_timeout=IDLE
            ),
        ),
    )
    text = f"message {i}: " + "words " * 20
    if combined and isinstance(store, SupabaseStore):
        await asyncio.gather(
            counting(
                "append_and_recent",
                lambda: store.append_and_recent(
                    session_id=session.id,
                    account_id=account.id,
                    role=Role.USER,
                    text=text,
                    now=now,
                    limit=16,
                    epoch=0,
                ),
            ),
            counting("get_settings", lambda: store.get_settings(account.id)),
        )
    else:
        await asyncio.gather(
            counting("recent_messages", lambda: store.recent_messages(session.id, limit=16)),
            counting(
                "append_message",
                lambda: store.append_message(
                    session_id=session.id, account_id=account.id, role=Role.USER, text=text, now=now, epoch=0
                ),
            ),
            counting("get_settings", lambda: store.get_settings(account.id)),
        )
    await counting(
        "append_message",
        lambda: store.append_message(
            session_id=session.id,
            account_id=account.id,
            role=Role.ASSISTANT,
            text="answer " * 30,
            now=now,
            epoch=0,
        ),
    )


async def warm_up(counting: Counting, *, combined: bool) -> None:
    for i in range(50):  # connections, caches, accounts and sessions exist before measuring
        await one_message(counting, i, combined=combined)
    counting.calls.clear()


async def measure(counting: Counting, messages: int, *, combined: bool, times: list[float]) -> None:
    for i in range(messages):
        start = time.perf_counter()
        await one_message(counting, i, combined=combined)
        times.append((time.perf_counter() - start) * 1000)


async def per_operation(store: Store, rounds: int) -> dict[str, float]:
    now = datetime.now(UTC)
    account = await store.resolve_account(IdentityKey(Platform.SLACK, "T1", "U-op"))
    session = await store.touch_session(
        ConversationKey(Platform.SLACK, "T1", "C-op"), now=now, idle_timeout=IDLE
    )
    operations: dict[str, Callable[[int], Awaitable[Any]]] = {
        "claim_event": lambda i: store.claim_event(f"op:{secrets.token_hex(8)}", now=now),
        "resolve_account": lambda i: store.resolve_account(IdentityKey(Platform.SLACK, "T1", "U-op")),
        "touch_session": lambda i: store.touch_session(
            ConversationKey(Platform.SLACK, "T1", "C-op"), now=now, idle_timeout=IDLE
        ),
        "append_message": lambda i: store.append_message(
            session_id=session.id, account_id=account.id, role=Role.USER, text=f"op {i}", now=now, epoch=0
        ),
        "recent_messages(16)": lambda i: store.recent_messages(session.id, limit=16),
        "get_settings": lambda i: store.get_settings(account.id),
        "ping": lambda i: store.ping(),
    }
    medians: dict[str, float] = {}
    for name, op in operations.items():
        samples = []
        for i in range(rounds):
            start = time.perf_counter()
            await op(i)
            samples.append((time.perf_counter() - start) * 1000)
        medians[name] = statistics.median(samples)
    return medians


def line(label: str, values: list[float], trips: float) -> str:
    return (
        f"  {label:<34} p50 {statistics.median(values):7.2f} ms   p99 {percentile(values, 99):7.2f} ms   "
        f"round trips/message {trips:4.1f}"
    )


async def main(messages: int) -> None:
    db_name = pg.create_database()
    try:
        dsn = pg.database_dsn(db_name)
        pg.bootstrap(dsn)
        pg.apply_migrations(dsn)
        secret = secrets.token_urlsafe(32)
        # The shim runs in a process of its own, as PostgREST would: sharing this process's GIL
        # would bill its work to the client.
        shim = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fakes.postgrest",
            dsn,
            secret,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        assert shim.stdout is not None
        url = (await shim.stdout.readline()).decode().strip()
        with tempfile.TemporaryDirectory(prefix="mnemo-bench-") as tmp:
            sqlite = await SQLiteStore.open(Path(tmp) / "mnemo.db")
            supabase = await SupabaseStore.connect(url=url, key=make_key(secret, "service_role"))
            try:
                variants = {
                    "embedded SQLite": (Counting(sqlite), False),
                    "Supabase over shim": (Counting(supabase), False),
                    "Supabase, append+recent in one": (Counting(supabase), True),
                }
                times: dict[str, list[float]] = {name: [] for name in variants}
                for counting, combined in variants.values():
                    await warm_up(counting, combined=combined)
                # Interleaved rounds, so a busy moment on the machine hits every variant alike.
                for _ in range(ROUNDS):
                    for name, (counting, combined) in variants.items():
                        await measure(counting, messages // ROUNDS, combined=combined, times=times[name])
                sqlite_ops = await per_operation(sqlite, 200)
                supabase_ops = await per_operation(supabase, 200)
            finally:
                await sqlite.close()
                await supabase.close()
                assert shim.stdin is not None
                shim.stdin.close()  # its signal to stop
                await asyncio.wait_for(shim.wait(), 30)
    finally:
        pg.drop_database(db_name)

    measured = messages // ROUNDS * ROUNDS
    print(f"Store work per chat message ({measured} messages, {USERS} people, after 50 warm-up)")
    for name, (counting, _) in variants.items():
        print(line(name, times[name], sum(counting.calls.values()) / measured))
    print(
        f"  (every store call is one HTTP request, tests/supabase prove it; {SEQUENTIAL_STEPS} of them are "
        "sequential, so a real"
    )
    print(f"   Supabase project adds about {SEQUENTIAL_STEPS} x your RTT to it to every message)")
    print()
    print("Per operation, median of 200 (ms)")
    print(f"  {'operation':<22} {'SQLite':>8} {'Supabase':>9}")
    for op, value in sqlite_ops.items():
        print(f"  {op:<22} {value:8.2f} {supabase_ops[op]:9.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    asyncio.run(main(parser.parse_args().messages))
