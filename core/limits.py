"""Limits that several processes can share: token buckets (the HTTP API's rate limit, the sign-in
throttle) and counted slots (the admission limit's cap on replies written at once).

Each is a small port. In-process is the default (`LocalBuckets`; no slots: each process keeps its
own admission limit). With SUPABASE_DB_URL, core.limits_postgres keeps both in that database, so
every web and worker process, on every machine, draws from the same buckets and slots. Postgres
rather than Redis because a Supabase user has it already; one atomic upsert per request.

A shared backend that fails does not lift the limit: callers fall back to their in-process
buckets (a limit per process, as without a shared backend) and log it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

# Idle buckets are dropped past this many keys, so a stream of distinct subjects cannot grow memory.
_PRUNE_ABOVE = 10_000


@dataclass(frozen=True, slots=True)
class Take:
    """One token asked for: given or not, and how many tokens the bucket holds now."""

    allowed: bool
    tokens: float


class Buckets(Protocol):
    """Token buckets, by (bucket name, key). A bucket holds up to `capacity` tokens and refills
    continuously at `rate` tokens per second; a key never seen starts full."""

    async def take(self, bucket: str, key: str, *, capacity: float, rate: float) -> Take: ...

    async def give_back(self, bucket: str, key: str, *, capacity: float, rate: float) -> None:
        """Return one token taken by `take` (capped at capacity); a key never seen stays unseen."""
        ...


class Slots(Protocol):
    """At most `limit` holders of `name` at once, across every process sharing the backend."""

    def slot(self, name: str, limit: int) -> AbstractAsyncContextManager[None]: ...


class LocalBuckets:
    """Buckets in this process's memory (the default)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # -> (tokens, updated_at)

    def _tokens(self, name: tuple[str, str], now: float, capacity: float, rate: float) -> float:
        tokens, updated = self._buckets.get(name, (capacity, now))
        return min(capacity, tokens + (now - updated) * rate)

    def take_now(self, bucket: str, key: str, *, capacity: float, rate: float) -> Take:
        now = self._clock()
        name = (bucket, key)
        tokens = self._tokens(name, now, capacity, rate)
        if tokens >= 1.0:
            self._buckets[name] = (tokens - 1.0, now)
            if len(self._buckets) > _PRUNE_ABOVE:
                self._prune(now, capacity, rate)
            return Take(True, tokens - 1.0)
        self._buckets[name] = (tokens, now)
        return Take(False, tokens)

    def give_back_now(self, bucket: str, key: str, *, capacity: float, rate: float) -> None:
        now = self._clock()
        name = (bucket, key)
        if name in self._buckets:
            self._buckets[name] = (min(capacity, self._tokens(name, now, capacity, rate) + 1.0), now)

    async def take(self, bucket: str, key: str, *, capacity: float, rate: float) -> Take:
        return self.take_now(bucket, key, capacity=capacity, rate=rate)

    async def give_back(self, bucket: str, key: str, *, capacity: float, rate: float) -> None:
        self.give_back_now(bucket, key, capacity=capacity, rate=rate)

    def _prune(self, now: float, capacity: float, rate: float) -> None:
        # A full bucket carries no state worth keeping: a new one starts full too.
        for name in [n for n in self._buckets if self._tokens(n, now, capacity, rate) >= capacity]:
            del self._buckets[name]

    def __len__(self) -> int:
        return len(self._buckets)


__all__ = ["Buckets", "LocalBuckets", "Slots", "Take"]
