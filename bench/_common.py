"""Shared set-up for the benchmarks: the loopback fake model and a core in a temporary directory."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["MEM0_TELEMETRY"] = "False"

from bot.wiring import Core, build_core
from config import Settings
from tests.fakes.openai_server import FakeOpenAI


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values_ms: list[float]) -> str:
    return (
        f"p50 {statistics.median(values_ms):7.2f} ms  p99 {percentile(values_ms, 99):7.2f} ms  "
        f"(n={len(values_ms)})"
    )


@asynccontextmanager
async def bench_core(fake: FakeOpenAI | str, **overrides: Any) -> AsyncIterator[Core]:
    """A core on a temporary DATA_DIR, talking to the fake model (or to the model at this URL: a
    fake in another process, bench/mention_burst.py)."""
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-") as tmp:
        values: dict[str, Any] = {
            "openai_base_url": fake if isinstance(fake, str) else fake.base_url,
            "openai_api_key": "bench",
            "embedding_dims": 64,
            "data_dir": Path(tmp) / "data",
            "llm_max_retries": 0,
        }
        values.update(overrides)
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        async with build_core(settings) as core:
            yield core
