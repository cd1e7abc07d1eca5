"""`python -m bot` with a Supabase URL or key the server rejects stops at once with one clear line
(exit code 2, like any configuration error), never a traceback, never the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.storage.supabase.test_start_up_checks import free_port
from tests.fakes.postgrest import PostgrestShim, make_key

ROOT = Path(__file__).resolve().parents[2]


def run_bot(tmp_path: Path, *, url: str, key: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "MEM0_TELEMETRY": "False",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # never reached: the store fails first
        "DATA_DIR": str(tmp_path / "data"),
        "SUPABASE_URL": url,
        "SUPABASE_SERVICE_ROLE_KEY": key,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,  # no .env from the checkout
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("problem", ["unreachable", "wrong key"])
def test_a_bad_supabase_url_or_key_is_one_line_at_start_up(
    tmp_path: Path, postgrest_shim: PostgrestShim, problem: str
) -> None:
    if problem == "unreachable":
        url, key = f"http://127.0.0.1:{free_port()}", make_key("s" * 32, "service_role")
        expected = f"Configuration error: cannot reach SUPABASE_URL {url} (ConnectError"
    else:
        url, key = postgrest_shim.url, make_key("another-projects-secret-0123456789", "service_role")
        expected = f"Configuration error: SUPABASE_SERVICE_ROLE_KEY was rejected by {url} (HTTP 401"

    result = run_bot(tmp_path, url=url, key=key)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected), lines[0]
    assert key not in result.stderr
    assert result.stdout == ""
