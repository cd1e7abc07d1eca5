"""The Store port's account-linking contract, run on every implementation (SQLite and Supabase)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.models import ConversationKey, IdentityKey, MemoryOrigin, Platform, Role
from core.storage import Store
from tests.core.storage.contract.conftest import Backend

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SLACK = IdentityKey(Platform.SLACK, "T1", "U1")
DISCORD = IdentityKey(Platform.DISCORD, "", "42")
WEB = IdentityKey(Platform.WEB, "", "sub-1")
HOLD = timedelta(minutes=2)


async def test_link_code_round_trip(store: Store) -> None:
    account = await store.resolve_account(SLACK)
    await store.add_link_code(
        account_id=account.id, code_hash="h1", now=T0, expires_at=T0 + timedelta(minutes=10)
    )
    found = await store.find_link_code("h1")
    assert found is not None
    assert found.account_id == account.id
    assert found.expires_at == T0 + timedelta(minutes=10)
    assert found.used_at is None
    assert await store.find_link_code("unknown") is None


async def test_link_failures_are_counted_per_identity_in_a_window(store: Store) -> None:
    for minutes in (0, 10, 70):
        await store.record_link_failure(DISCORD, now=T0 + timedelta(minutes=minutes))
    await store.record_link_failure(WEB, now=T0)
    assert await store.count_link_failures(DISCORD, since=T0) == 3
    assert await store.count_link_failures(DISCORD, since=T0 + timedelta(minutes=5)) == 2
    assert await store.count_link_failures(WEB, since=T0) == 1
    assert await store.count_link_failures(SLACK, since=T0) == 0


async def test_merge_moves_everything_and_consumes_the_code(store: Store) -> None:
    target = await store.resolve_account(SLACK)
    source = await store.resolve_account(DISCORD)
    await store.set_memory_paused(source.id, True)
    session = await store.touch_session(
        ConversationKey(Platform.DISCORD, "", "D1"), now=T0, idle_timeout=timedelta(hours=1)
    )
    await store.append_message(
        session_id=session.id, account_id=source.id, role=Role.USER, text="hi", now=T0, epoch=0
    )
    await store.add_pending_write(
        account_id=source.id,
        messages=[{"role": "user", "content": "x"}],
        origin=MemoryOrigin(Platform.DISCORD, "D1", True),
        now=T0,
        error="down",
        epoch=0,
    )
    await store.add_link_code(
        account_id=target.id, code_hash="h2", now=T0, expires_at=T0 + timedelta(minutes=10)
    )

    assert await store.reserve_link_code("h2", account_id=source.id, now=T0, hold=HOLD)
    assert await store.merge_accounts(source=source.id, target=target.id, code_hash="h2", now=T0) is True

    assert (await store.resolve_account(DISCORD)).id == target.id
    assert sorted(i.platform.value for i in await store.list_identities(target.id)) == ["discord", "slack"]
    assert [m.account_id for m in await store.recent_messages(session.id, limit=5)] == [target.id]
    pending = await store.due_pending_writes(now=T0 + timedelta(seconds=1), limit=5)
    assert [p.account_id for p in pending] == [target.id]
    assert (await store.get_settings(target.id)).memory_paused is True
    used = await store.find_link_code("h2")
    assert used is not None
    assert used.used_at is not None
    # A used code cannot merge again, and a code only merges into the account that issued it.
    other = await store.resolve_account(WEB)
    assert await store.merge_accounts(source=other.id, target=target.id, code_hash="h2", now=T0) is False
    await store.add_link_code(
        account_id=target.id, code_hash="h3", now=T0, expires_at=T0 + timedelta(minutes=10)
    )
    assert await store.merge_accounts(source=target.id, target=other.id, code_hash="h3", now=T0) is False
    assert (await store.resolve_account(WEB)).id == other.id


async def test_concurrent_redemptions_of_one_code_merge_once(store: Store, backend: Backend) -> None:
    target = await store.resolve_account(SLACK)
    first = await store.resolve_account(DISCORD)
    second = await store.resolve_account(WEB)
    await store.add_link_code(
        account_id=target.id, code_hash="h4", now=T0, expires_at=T0 + timedelta(minutes=10)
    )
    other_process = await backend.open()
    try:
        reserved = await asyncio.gather(
            store.reserve_link_code("h4", account_id=first.id, now=T0, hold=HOLD),
            other_process.reserve_link_code("h4", account_id=second.id, now=T0, hold=HOLD),
        )
        # Only the redemption holding the reservation can merge, whichever process it runs in.
        results = await asyncio.gather(
            store.merge_accounts(source=first.id, target=target.id, code_hash="h4", now=T0),
            other_process.merge_accounts(source=second.id, target=target.id, code_hash="h4", now=T0),
        )
    finally:
        await other_process.close()
    assert sorted(reserved) == [False, True]
    assert results == reserved
    assert len(await store.list_identities(target.id)) == 2


async def test_detach_identity_gets_a_fresh_account_with_the_same_settings(store: Store) -> None:
    account = await store.resolve_account(SLACK)
    await store.add_link_code(
        account_id=account.id, code_hash="h5", now=T0, expires_at=T0 + timedelta(minutes=10)
    )
    source = await store.resolve_account(DISCORD)
    assert await store.reserve_link_code("h5", account_id=source.id, now=T0, hold=HOLD)
    assert await store.merge_accounts(source=source.id, target=account.id, code_hash="h5", now=T0)
    await store.set_memory_paused(account.id, True)

    fresh = await store.detach_identity(DISCORD, now=T0)

    assert fresh.id != account.id
    assert (await store.resolve_account(DISCORD)).id == fresh.id
    assert [i.platform for i in await store.list_identities(account.id)] == [Platform.SLACK]
    assert (await store.get_settings(fresh.id)).memory_paused is True
