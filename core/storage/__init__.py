"""The storage port (`core.storage.ports`) and its checks of bad input (`core.storage.validation`).
The backends are imported by name where they are chosen: `core.storage.sqlite` (embedded, the
default) and `core.storage.supabase` (which needs supabase-py)."""

from core.storage.ports import (
    AccountStore,
    ConversationStore,
    EventClaimStore,
    FeedbackStore,
    LinkStore,
    MemoryWriteStore,
    RemovalStore,
    Store,
    StoreConnection,
    UsageStore,
)

__all__ = [
    "AccountStore",
    "ConversationStore",
    "EventClaimStore",
    "FeedbackStore",
    "LinkStore",
    "MemoryWriteStore",
    "RemovalStore",
    "Store",
    "StoreConnection",
    "UsageStore",
]
