"""Per-account request rate limit for the HTTP API: a token bucket per token subject (and, through
`RateLimiter.per_window`, the buckets of the sign-in throttle, login_throttle.py).

A bucket holds up to `per_minute` requests and refills continuously at `per_minute / 60` per
second, so a client may burst up to its minute's allowance and then goes at the steady rate.
Keyed by the token's `sub` (one sub = one account), which is known right after the signature
check, before the store is touched: a flood costs no database work.

In-process by default. Given shared buckets (core.limits; with SUPABASE_DB_URL, a table in that
database), every web process draws from the same bucket; if the shared buckets fail, this process
falls back to its own (a limit per process, never no limit).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import StorageError
from core.limits import Buckets, LocalBuckets, Take

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_seconds: int  # 0 when allowed


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """The IETF RateLimit header fields every authenticated /v1 response carries."""
    return {"RateLimit-Limit": str(decision.limit), "RateLimit-Remaining": str(decision.remaining)}


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        shared: Buckets | None = None,
        name: str = "api",
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be >= 1 (got {per_minute})")
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._local = LocalBuckets(clock=clock)
        self._shared = shared
        self._name = name

    @classmethod
    def per_window(
        cls,
        limit: int,
        *,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        shared: Buckets | None = None,
        name: str = "window",
    ) -> RateLimiter:
        """Up to `limit` hits at once, refilled at `limit` per `window_seconds` (e.g. 5 per 15 min)."""
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be > 0 (got {window_seconds})")
        limiter = cls(limit, clock=clock, shared=shared, name=name)
        limiter._rate = limit / window_seconds
        return limiter

    @property
    def limit(self) -> int:
        return int(self._capacity)

    async def hit(self, key: str) -> Decision:
        """Take one request from `key`'s bucket, or say how long until one is available."""
        taken = await self._take(key)
        if taken.allowed:
            return Decision(True, self.limit, int(taken.tokens), 0)
        wait = (1.0 - taken.tokens) / self._rate
        return Decision(False, self.limit, 0, max(1, math.ceil(wait)))

    async def refund(self, key: str) -> None:
        """Give back one hit taken by `hit` (the attempt turned out not to count)."""
        if self._shared is not None:
            try:
                await self._shared.give_back(self._name, key, capacity=self._capacity, rate=self._rate)
                return
            except StorageError as exc:
                log.warning("shared rate limit unavailable, refunding in this process: %s", exc)
        self._local.give_back_now(self._name, key, capacity=self._capacity, rate=self._rate)

    async def _take(self, key: str) -> Take:
        if self._shared is not None:
            try:
                return await self._shared.take(self._name, key, capacity=self._capacity, rate=self._rate)
            except StorageError as exc:
                log.warning("shared rate limit unavailable, limiting in this process: %s", exc)
        return self._local.take_now(self._name, key, capacity=self._capacity, rate=self._rate)

    def __len__(self) -> int:
        """Keys held in this process (the shared backend keeps its own)."""
        return len(self._local)
