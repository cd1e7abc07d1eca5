"""Two bot processes, one database: every job runs exactly once per slot.

Each process is a real OS process running the real SchedulerService (APScheduler) and claiming its
runs through the database: the real PostgreSQL on 127.0.0.1:5432 (databases created and dropped
here), directly and through the production Supabase store, or one shared SQLite file. A control
run with two separate databases shows the check does catch double runs.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.bot.scheduler_process import CLAIMS_TABLE
from tests.fakes.postgrest import PostgrestShim
from tests.supabase import pg
from tests.supabase.fixtures import jwt_secret, supabase_dsn

__all__ = ["jwt_secret", "supabase_dsn"]  # pytest fixtures, used by name below

ROOT = Path(__file__).resolve().parents[2]
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_PREFIX = "mnemo_jobs_"
EVERY = 0.5
SECONDS = 3.2


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    name = DB_PREFIX + secrets.token_hex(6)
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = make_conninfo(ADMIN_DSN, dbname=name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(CLAIMS_TABLE)
        yield dsn
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def run_processes(tmp_path: Path, claims: list[str]) -> list[dict[str, object]]:
    """Every run of every process; also checks each process fired on every slot (competed)."""
    start_at = time.time() + 2.5  # time for both interpreters to import and connect
    procs = []
    outs = []
    for i, target in enumerate(claims):
        out = tmp_path / f"runs-{i}.jsonl"
        outs.append(out)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.bot.scheduler_process",
                    "--claims",
                    target,
                    "--seconds",
                    str(SECONDS),
                    "--every",
                    str(EVERY),
                    "--start-at",
                    str(start_at),
                    "--out",
                    str(out),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.decode()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    runs = []
    for out in outs:
        header, *lines = [json.loads(line) for line in out.read_text().splitlines()]
        # Both jobs fired in every slot in this process too, whoever won the claim.
        assert header["attempts"] >= 2 * (int(SECONDS / EVERY) - 1), header
        runs += lines
    return runs


def assert_each_slot_ran_once(runs: list[dict[str, object]]) -> None:
    for name in ("alpha", "beta"):
        per_slot = Counter(int(str(r["slot"])) for r in runs if r["name"] == name)
        doubled = {slot: n for slot, n in per_slot.items() if n > 1}
        assert not doubled, f"{name} ran more than once in slots {doubled}"
        ran = sorted(per_slot)
        assert len(ran) >= int(SECONDS / EVERY) - 1, f"{name} ran too rarely: {ran}"
        assert ran[-1] - ran[0] == len(ran) - 1, f"{name} skipped a slot: {ran}"


def test_two_processes_on_one_postgres_database_run_each_job_once(tmp_path: Path, pg_dsn: str) -> None:
    runs = run_processes(tmp_path, [f"pg:{pg_dsn}", f"pg:{pg_dsn}"])
    assert_each_slot_ran_once(runs)
    with psycopg.connect(pg_dsn) as conn:
        keys = [row[0] for row in conn.execute("select key from processed_events order by key")]
    # Every run that happened holds exactly one claim row, and no claim was made without a run.
    assert sorted(f"job:{r['name']}:{r['slot']}" for r in runs) == keys


def test_two_processes_through_the_supabase_store_run_each_job_once(
    tmp_path: Path, supabase_dsn: str, jwt_secret: str
) -> None:
    """The production path on Postgres: SupabaseStore.claim_event -> PostgREST (our loopback shim)
    -> the migrations' mnemo_claim_event SQL function on the real database."""
    pg.truncate_all(supabase_dsn)
    with PostgrestShim(supabase_dsn, jwt_secret=jwt_secret) as shim:
        target = f"supabase:{shim.url}|{shim.key()}"
        runs = run_processes(tmp_path, [target, target])
        claimed = shim.calls["mnemo_claim_event"]
    assert_each_slot_ran_once(runs)
    assert claimed >= 2 * 2 * (int(SECONDS / EVERY) - 1)  # both processes claimed every slot


def test_two_processes_on_one_sqlite_file_run_each_job_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    runs = run_processes(tmp_path, [f"sqlite:{db}", f"sqlite:{db}"])
    assert_each_slot_ran_once(runs)


def test_control_without_a_shared_database_jobs_do_run_twice(tmp_path: Path) -> None:
    runs = run_processes(tmp_path, [f"sqlite:{tmp_path / 'a.db'}", f"sqlite:{tmp_path / 'b.db'}"])
    with pytest.raises(AssertionError, match="ran more than once"):
        assert_each_slot_ran_once(runs)
    assert len({r["pid"] for r in runs}) == 2
