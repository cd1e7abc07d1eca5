"""Supabase implementation of the storage port.

Every operation is one SQL function (`supabase/migrations/`) called through the async supabase-py
client's `rpc()`: one HTTP round trip, one transaction, so the invariants (one account per identity,
one open session per conversation, an event claimed once, nothing stored under an erased epoch)
hold in the database even with several bot processes. The tables live in a private `mnemo` schema;
only the `public.mnemo_*` functions are reachable, and only with the service_role key.

`SupabaseStore` is one connection (`client.py`: supabase-py, the start-up checks, the RPC call and
its error mapping; `parsing.py` checks the JSON that comes back) with one mixin per role of the port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.storage.supabase.accounts import SupabaseAccounts
from core.storage.supabase.claims import SupabaseEventClaims
from core.storage.supabase.client import DEFAULT_TIMEOUT_SECONDS, SCHEMA_VERSION
from core.storage.supabase.conversations import SupabaseConversations
from core.storage.supabase.feedback import SupabaseFeedback
from core.storage.supabase.links import SupabaseLinks
from core.storage.supabase.memory_writes import SupabaseMemoryWrites
from core.storage.supabase.removal import SupabaseRemoval
from core.storage.supabase.usage import SupabaseUsage

if TYPE_CHECKING:
    from core.storage.ports import Store

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "SCHEMA_VERSION", "SupabaseStore"]


class SupabaseStore(
    SupabaseAccounts,
    SupabaseConversations,
    SupabaseEventClaims,
    SupabaseMemoryWrites,
    SupabaseLinks,
    SupabaseFeedback,
    SupabaseRemoval,
    SupabaseUsage,
):
    """The Supabase store. Use `await SupabaseStore.open(settings)`; `close()` when done."""


if TYPE_CHECKING:
    # mypy (strict on core/) fails here the day the Store port gains a method this class lacks.
    def _implements_the_port(store: SupabaseStore) -> Store:
        return store
