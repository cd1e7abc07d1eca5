"""core.cache.TTLCache and core.locks.KeyedLocks (moved here from the Slack tests, which used both)."""

from __future__ import annotations

from core.cache import TTLCache
from core.locks import KeyedLocks


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ttl_cache_is_bounded_and_expires() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(max_size=2, ttl=10, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (True, 1)  # a is now the most recently used
    cache.put("c", 3)

    assert len(cache) == 2
    assert cache.get("b") == (False, None)  # least recently used went first
    clock.now = 11
    assert cache.get("a") == (False, None)


async def test_keyed_locks_are_dropped_when_unused() -> None:
    locks = KeyedLocks()
    async with locks.hold("x"):
        assert len(locks) == 1
    assert len(locks) == 0
