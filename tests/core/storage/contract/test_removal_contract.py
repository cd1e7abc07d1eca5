"""The RemovalStore role's contract, run unchanged on every implementation: what erase, delete and
purge remove, and what they leave alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.errors import StorageError
from core.models import Platform
from core.storage import Store
from tests.core.storage.contract.helpers import (
    EXCHANGE,
    IDLE,
    NAIVE,
    ORIGIN,
    T0,
    identity,
    new_session,
    say,
    web_conversation,
)

# -- messages and pending writes -------------------------------------------------------------------


async def test_purge_messages_deletes_only_older_messages(store: Store) -> None:
    account = await store.resolve_account(identity())
    session_id = await new_session(store)
    await say(store, session_id, account.id, "old", now=T0 - timedelta(days=40))
    await say(store, session_id, account.id, "older", now=T0 - timedelta(days=50))
    await say(store, session_id, account.id, "new", now=T0)

    assert await store.purge_messages(before=T0 - timedelta(days=30)) == 2
    assert await store.purge_messages(before=T0 - timedelta(days=30)) == 0
    assert [m.text for m in await store.recent_messages(session_id, limit=10)] == ["new"]


async def test_erase_account_deletes_that_accounts_messages_and_pending_writes_only(store: Store) -> None:
    alice = await store.resolve_account(identity("U-alice"))
    bob = await store.resolve_account(identity("U-bob"))
    session_id = await new_session(store)
    await say(store, session_id, alice.id, "alice 1")
    await say(store, session_id, bob.id, "bob 1")
    await say(store, session_id, alice.id, "alice 2")
    await store.add_pending_write(
        account_id=alice.id, messages=EXCHANGE, origin=ORIGIN, now=T0, error="down", epoch=0
    )
    bob_write = await store.add_pending_write(
        account_id=bob.id, messages=EXCHANGE, origin=ORIGIN, now=T0, error="down", epoch=0
    )

    assert await store.erase_account(alice.id) == 2

    assert [m.text for m in await store.recent_messages(session_id, limit=10)] == ["bob 1"]
    due = await store.due_pending_writes(now=T0, limit=10)
    assert [w.id for w in due] == [bob_write]
    assert await store.erase_account(alice.id) == 0
    assert (await store.resolve_account(identity("U-alice"))).id == alice.id
    await say(store, session_id, alice.id, "after erase", epoch=2)  # erased twice above
    assert [m.text for m in await store.recent_messages(session_id, limit=10)] == ["bob 1", "after erase"]


# -- conversations ---------------------------------------------------------------------------------


async def test_delete_conversation_removes_its_sessions_and_messages_only(store: Store) -> None:
    account = await store.resolve_account(identity("sub-1", workspace="", platform=Platform.WEB))
    first = await store.touch_session(web_conversation("a"), now=T0, idle_timeout=IDLE)
    await say(store, first.id, account.id, "secret one", now=T0)
    second = await store.touch_session(web_conversation("a"), now=T0 + IDLE * 2, idle_timeout=IDLE)
    await say(store, second.id, account.id, "secret two", now=T0 + IDLE * 2)
    kept = await store.touch_session(web_conversation("b"), now=T0, idle_timeout=IDLE)
    await say(store, kept.id, account.id, "kept", now=T0)

    deleted = await store.delete_conversation(web_conversation("a"))
    again = await store.delete_conversation(web_conversation("a"))

    assert deleted == 2
    assert again == 0
    assert await store.get_session(first.id) is None
    assert await store.get_session(second.id) is None
    assert not await store.has_session(web_conversation("a"))
    assert await store.recent_messages(first.id, limit=10) == []
    assert (await store.conversation_messages(web_conversation("a"), offset=0, limit=10)).total == 0
    assert [m.text for m in await store.recent_messages(kept.id, limit=10)] == ["kept"]
    listed = await store.list_conversations(
        platform=Platform.WEB, workspace="", channel="sub-1", offset=0, limit=10
    )
    assert [c.conversation.thread for c in listed.items] == ["b"]


# -- bookkeeping retention -------------------------------------------------------------------------


async def test_purge_bookkeeping_deletes_only_rows_older_than_the_cutoff(store: Store) -> None:
    slack = identity()
    account = await store.resolve_account(slack)
    assert await store.claim_event("old-event", now=T0)
    assert await store.claim_event("new-event", now=T0 + timedelta(days=8))
    await store.record_link_failure(slack, now=T0)
    await store.record_link_failure(slack, now=T0 + timedelta(days=8))
    await store.add_link_code(
        account_id=account.id, code_hash="old", now=T0, expires_at=T0 + timedelta(minutes=10)
    )
    await store.add_link_code(
        account_id=account.id,
        code_hash="new",
        now=T0 + timedelta(days=8),
        expires_at=T0 + timedelta(days=8, minutes=10),
    )

    purged = await store.purge_bookkeeping(before=T0 + timedelta(days=7))

    assert purged == 3
    assert await store.claim_event("old-event", now=T0 + timedelta(days=9))  # forgotten, claimable again
    assert not await store.claim_event("new-event", now=T0 + timedelta(days=9))
    assert await store.count_link_failures(slack, since=T0 - timedelta(days=1)) == 1
    assert await store.find_link_code("old") is None
    assert await store.find_link_code("new") is not None
    with pytest.raises((StorageError, ValueError)):
        await store.purge_bookkeeping(before=NAIVE)
