"""Per-account request rate limit for the HTTP API: a token bucket per token subject (and, through
`RateLimiter.per_window`, the buckets of the sign-in throttle, login_throttle.py).

A bucket holds up to `per_minute` requests and refills continuously at `per_minute / 60` per
second, so a client may burst up to its minute's allowance and then goes at the steady rate.
Keyed by the token's `sub` (one sub = one account), which is known right after the signature
check, before the store is touched: a flood costs no database work.

In-process: with several web processes each enforces the limit on its own share of traffic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# Idle buckets are dropped past this many keys, so a stream of distinct subjects cannot grow memory.
_PRUNE_ABOVE = 10_000


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
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be >= 1 (got {per_minute})")
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated_at)

    @classmethod
    def per_window(
        cls, limit: int, *, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> RateLimiter:
        """Up to `limit` hits at once, refilled at `limit` per `window_seconds` (e.g. 5 per 15 min)."""
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be > 0 (got {window_seconds})")
        limiter = cls(limit, clock=clock)
        limiter._rate = limit / window_seconds
        return limiter

    @property
    def limit(self) -> int:
        return int(self._capacity)

    def _tokens(self, key: str, now: float) -> float:
        tokens, updated = self._buckets.get(key, (self._capacity, now))
        return min(self._capacity, tokens + (now - updated) * self._rate)

    def hit(self, key: str) -> Decision:
        """Take one request from `key`'s bucket, or say how long until one is available."""
        now = self._clock()
        tokens = self._tokens(key, now)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > _PRUNE_ABOVE:
                self._prune(now)
            return Decision(True, self.limit, int(tokens - 1.0), 0)
        self._buckets[key] = (tokens, now)
        wait = (1.0 - tokens) / self._rate
        return Decision(False, self.limit, 0, max(1, math.ceil(wait)))

    def refund(self, key: str) -> None:
        """Give back one hit taken by `hit` (the attempt turned out not to count)."""
        now = self._clock()
        if key in self._buckets:
            self._buckets[key] = (min(self._capacity, self._tokens(key, now) + 1.0), now)

    def _prune(self, now: float) -> None:
        # A full bucket carries no state worth keeping: a new one starts full too.
        for key in [k for k in self._buckets if self._tokens(k, now) >= self._capacity]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
