"""Time, injectable so jobs and idle timeouts can be tested with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
