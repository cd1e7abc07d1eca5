"""The long-term memory port the core uses (core.memory.service implements it on mem0).

Every method raises MemoryBackendError when the memory backend fails. Removal follows the
vocabulary: `forget` one memory, `erase` everything of an account, `discard` a write that must not
stand. Reads take the account's erasure epoch: only memories of that epoch come back.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from core.models import MemoryItem, MemoryOrigin, MemoryPage

# New memory (id) -> the older memories (ids) it replaces.
Replacements = dict[str, list[str]]
# Whether a write may still land (its account neither erased nor paused since it began).
StillCurrent = Callable[[], Awaitable[bool]]


class MemoryService(Protocol):
    """Every method raises MemoryBackendError when the memory backend fails."""

    async def recall(
        self, account_id: uuid.UUID, query: str, *, epoch: int, include_private: bool, limit: int
    ) -> list[MemoryItem]:
        """The account's memories (of erasure epoch `epoch`) most relevant to `query`.
        Private-origin memories only when `include_private` (the conversation itself is private)."""
        ...

    async def remember(
        self,
        account_id: uuid.UUID,
        messages: list[dict[str, str]],
        *,
        origin: MemoryOrigin,
        epoch: int,
        said_at: datetime | None = None,
    ) -> list[MemoryItem]:
        """Extract and store what is worth remembering from an exchange, tagged with the account's
        erasure epoch and learned at `said_at` (when the exchange happened; default now), against
        which the extraction resolves relative dates. Returns what was added. (What the new memories
        replace is `find_replaced`, then `forget_replaced`: core.memory.writer.)"""
        ...

    async def find_replaced(
        self,
        account_id: uuid.UUID,
        added: list[MemoryItem],
        *,
        origin: MemoryOrigin,
        epoch: int,
        still_current: StillCurrent | None = None,
    ) -> Replacements:
        """Which of the account's older memories (of epoch `epoch`, and said in public when `origin`
        is public) the newly `added` ones replace: the same subject with a new value, as the model
        judges (one completion for all of them, none without candidates, its tokens counted like
        extraction's). `still_current` is asked before the model is: False asks nothing. Never
        raises: a failing model, store or answer replaces nothing (logged)."""
        ...

    async def forget_replaced(
        self, account_id: uuid.UUID, replaced: Replacements, *, epoch: int
    ) -> list[str]:
        """Forget (as `forget`, purged) the older memories `replaced` names, those still the
        account's at `epoch` and whose new memory is still there. Returns the ids forgotten."""
        ...

    async def page(
        self,
        account_id: uuid.UUID,
        *,
        epoch: int,
        offset: int,
        limit: int,
        query: str | None = None,
    ) -> MemoryPage:
        """Newest first, or by relevance when `query` is given."""
        ...

    async def forget(self, account_id: uuid.UUID, memory_id: str) -> MemoryItem:
        """Delete one memory of this account. NotFoundError if the account has no such memory."""
        ...

    async def erase(self, account_id: uuid.UUID) -> int:
        """Erase every memory of the account (whatever its epoch), and purge the files. Returns how
        many memories there were."""
        ...

    async def discard(self, account_id: uuid.UUID, memory_ids: list[str]) -> None:
        """Undo a write that must not stand (its account was erased or paused meanwhile): delete
        those memories of this account and purge them from the files."""
        ...

    async def export(self, account_id: uuid.UUID, *, epoch: int) -> list[MemoryItem]: ...

    async def items(self, account_id: uuid.UUID, memory_ids: list[str], *, epoch: int) -> list[MemoryItem]:
        """The account's memories with these ids (of erasure epoch `epoch`), in the given order;
        ids that are forgotten, erased or someone else's are left out."""
        ...

    async def move(
        self, source: uuid.UUID, target: uuid.UUID, *, epoch: int, memory_ids: list[str] | None = None
    ) -> list[str]:
        """Re-home memories of `source` to `target` at the target's erasure epoch `epoch` (account
        linking, and writes that landed on an account merged meanwhile): all of them, or only
        `memory_ids`. Exact duplicates of the target's memories collapse. Returns the ids now on
        `target` that came from `source`."""
        ...

    async def account_ids(self) -> list[uuid.UUID]:
        """Every account that has at least one memory (for housekeeping jobs)."""
        ...

    async def consolidate(self, account_id: uuid.UUID, *, epoch: int, similarity: float) -> int:
        """Merge the account's duplicate memories: exact repeats collapse to one (a public copy is
        kept over a private one), and of memories at least `similarity` alike (cosine) only the
        newest survives, which also resolves an updated fact ("lives in Paris" -> "lives in Berlin").
        Memories of an epoch older than `epoch` (a write that landed after an erasure and whose
        discard was cut short by a crash) are purged too. Returns how many were deleted."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
