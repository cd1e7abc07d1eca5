"""A small bounded cache with expiry, for look-ups that must not grow with every user and channel."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A small LRU with an expiry: bounded memory, however many users and channels pass through."""

    def __init__(self, *, max_size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._max_size = max_size
        self._ttl = ttl
        self._clock = clock

    def get(self, key: K) -> tuple[bool, V | None]:
        entry = self._data.get(key)
        if entry is None:
            return False, None
        expires, value = entry
        if expires < self._clock():
            del self._data[key]
            return False, None
        self._data.move_to_end(key)
        return True, value

    def put(self, key: K, value: V, *, ttl: float | None = None) -> None:
        self._data[key] = (self._clock() + (self._ttl if ttl is None else ttl), value)
        self._data.move_to_end(key)
        while len(self._data) > self._max_size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
