"""Embedded SQLite implementation of the storage port (the default: no server needed).

`SQLiteStore` is one connection (`connection.py`: a worker thread, one transaction per operation,
the schema and its migrations in `schema.py`) with one mixin per role of the port, each in its own
module. Use `await SQLiteStore.open(path)`; `close()` when done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.storage.sqlite.accounts import SQLiteAccounts
from core.storage.sqlite.claims import SQLiteEventClaims
from core.storage.sqlite.conversations import PREVIEW_CHARS, SQLiteConversations
from core.storage.sqlite.feedback import SQLiteFeedback
from core.storage.sqlite.links import SQLiteLinks
from core.storage.sqlite.memory_writes import SQLiteMemoryWrites
from core.storage.sqlite.removal import SQLiteRemoval
from core.storage.sqlite.usage import SQLiteUsage

if TYPE_CHECKING:
    from core.storage.ports import Store

__all__ = ["PREVIEW_CHARS", "SQLiteStore"]


class SQLiteStore(
    SQLiteAccounts,
    SQLiteConversations,
    SQLiteEventClaims,
    SQLiteMemoryWrites,
    SQLiteLinks,
    SQLiteFeedback,
    SQLiteRemoval,
    SQLiteUsage,
):
    """The embedded store. Use `await SQLiteStore.open(path)`; `close()` when done."""


if TYPE_CHECKING:
    # mypy (strict on core/) fails here the day the Store port gains a method this class lacks.
    def _implements_the_port(store: SQLiteStore) -> Store:
        return store
