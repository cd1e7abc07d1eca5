"""Shared by the job tests: a core on a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.wiring import Core, build_core
from tests.conftest import make_settings
from tests.core.jobs.helpers import FakeClock
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def jcore(tmp_path: Path, fake_openai: FakeOpenAI, clock: FakeClock) -> AsyncIterator[Core]:
    settings = make_settings(
        tmp_path / "data",
        fake_openai,
        session_idle_minutes=30,
        message_retention_days=7,
        memory_retry_max_age_hours=24,
    )
    async with build_core(settings, clock=clock) as core:
        yield core
