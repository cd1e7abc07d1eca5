"""Idempotent chat: a retry with the same `Idempotency-Key` gets the first answer, not a second one.

The store's event claim makes the key exactly-once across processes and restarts; this cache (per
/v1 router, so per process; bounded, 24 h) is what lets the retry see the original reply.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from adapters.http.errors import ApiError
from adapters.http.schemas import ChatRequest, ChatResponse
from core.admission import SwampedError

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
IDEMPOTENCY_MAX_ENTRIES = 10_000

# What a chat reply's task ends with: the response, or the error to send instead.
ChatOutcome = ChatResponse | ApiError
# (token subject, Idempotency-Key): keys are per caller, never shared between people.
CacheKey = tuple[str, str]


@dataclass
class PendingChat:
    fingerprint: str
    task: asyncio.Task[ChatOutcome]
    created: float


def fingerprint(body: ChatRequest) -> str:
    """What makes two requests "the same request" for one key: the session and the message."""
    return hashlib.sha256(f"{body.session_id or ''}\n{body.message}".encode()).hexdigest()


class IdempotencyCache:
    """Chat outcomes by (subject, Idempotency-Key)."""

    def __init__(
        self,
        *,
        ttl: float = IDEMPOTENCY_TTL_SECONDS,
        max_entries: int = IDEMPOTENCY_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[CacheKey, PendingChat] = OrderedDict()

    def get(self, key: CacheKey) -> PendingChat | None:
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.created > self._ttl:
            del self._entries[key]
            return None
        return entry

    def drop_if_swamped(self, key: CacheKey, task: asyncio.Task[ChatOutcome]) -> None:
        """Refused for load, nothing was handled: the same key must work again later."""
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry.task is task
            and not task.cancelled()
            and isinstance(task.exception(), SwampedError)
        ):
            del self._entries[key]

    def forget_caller(self, subject: str) -> int:
        """Drop every answer kept for this caller (they forgot or erased what it may quote: a retry
        must not replay it). Returns how many were dropped."""
        mine = [key for key in self._entries if key[0] == subject]
        for key in mine:
            del self._entries[key]
        return len(mine)

    def put(self, key: CacheKey, fingerprint: str, task: asyncio.Task[ChatOutcome]) -> None:
        self._entries[key] = PendingChat(fingerprint, task, self._clock())
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
