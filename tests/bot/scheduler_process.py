"""One "bot process" worth of scheduler, for the multi-process tests: run as
`python -m tests.bot.scheduler_process --claims sqlite:PATH|pg:DSN|supabase:URL|KEY --seconds S
--out FILE`.

It runs the real SchedulerService (real APScheduler) with jobs that only record their runs, claims
each run through the given database, and writes what it ran as JSON lines to FILE on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from bot.scheduler import SchedulerService
from core.clock import utc_now
from core.jobs import JobResult, JobSpec, RunClaimer, ScheduledJob, ShouldStop
from core.storage.sqlite import SQLiteStore

CLAIMS_TABLE = """
create table if not exists processed_events (
    key text primary key,
    processed_at timestamptz not null
)"""


class PostgresClaims:
    """Run-slot claims on PostgreSQL: the same primary-key insert the Supabase store's
    mnemo_claim_event SQL function does (insert ... on conflict do nothing)."""

    def __init__(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        self._conn = conn

    @classmethod
    async def connect(cls, dsn: str) -> PostgresClaims:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        return cls(conn)

    async def claim_event(self, key: str, *, now: datetime) -> bool:
        cursor = await self._conn.execute(
            "insert into processed_events (key, processed_at) values (%s, %s) "
            "on conflict (key) do nothing returning 1",
            (key, now),
        )
        return await cursor.fetchone() is not None

    async def close(self) -> None:
        await self._conn.close()


class CountingClaims:
    """Counts the claims this process attempted, to show both processes were competing."""

    def __init__(self, inner: RunClaimer) -> None:
        self._inner = inner
        self.attempts = 0
        self.won = 0

    async def claim_event(self, key: str, *, now: datetime) -> bool:
        self.attempts += 1
        won = await self._inner.claim_event(key, now=now)
        self.won += int(won)
        return won


def recording_jobs(names: list[str], every: timedelta, ran: list[dict[str, object]]) -> list[ScheduledJob]:
    def make(name: str) -> ScheduledJob:
        async def run(should_stop: ShouldStop) -> JobResult:
            ran.append({"name": name, "pid": os.getpid()})
            await asyncio.sleep(0.02)  # long enough for a competing process to be mid-claim
            return JobResult({"ran": 1})

        return ScheduledJob(JobSpec(name, every, "records its runs"), run)

    return [make(name) for name in names]


async def main(claims: str, seconds: float, every: float, out: Path, start_at: float) -> None:
    kind, _, target = claims.partition(":")
    claimer: RunClaimer
    closer = None
    if kind == "sqlite":
        store = await SQLiteStore.open(Path(target))
        claimer, closer = store, store.close
    elif kind == "pg":
        pg = await PostgresClaims.connect(target)
        claimer, closer = pg, pg.close
    elif kind == "supabase":  # supabase:URL|SERVICE_ROLE_KEY, the production path for Postgres
        from core.storage.supabase import SupabaseStore

        url, _, key = target.partition("|")
        supabase = await SupabaseStore.connect(url=url, key=key)
        claimer, closer = supabase, supabase.close
    else:
        raise SystemExit(f"unknown claims backend {kind!r}")
    ran: list[dict[str, object]] = []
    counting = CountingClaims(claimer)
    svc = SchedulerService(
        jobs=recording_jobs(["alpha", "beta"], timedelta(seconds=every), ran),
        claimer=counting,
        clock=utc_now,
        stop_timeout=2,
    )
    # Both processes start their schedulers at the same moment, as two dynos of one deploy would.
    await asyncio.sleep(max(0.0, start_at - utc_now().timestamp()))
    await svc.start()
    await asyncio.sleep(seconds)
    await svc.stop()
    await closer()
    with out.open("w") as fh:
        fh.write(json.dumps({"attempts": counting.attempts, "won": counting.won, "pid": os.getpid()}) + "\n")
        for run in svc.runs:
            fh.write(json.dumps({"name": run.name, "slot": run.slot, "pid": os.getpid()}) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--every", type=float, default=0.5)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.claims, args.seconds, args.every, args.out, args.start_at))
    sys.exit(0)
