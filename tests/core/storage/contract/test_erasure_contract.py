"""The Store port's erasure-barrier contract (epochs, merge records, link-code reservations), run on
every implementation (SQLite and Supabase). What the core builds on it: tests/core/test_erasure*.py."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import ErasedError, StorageError
from core.models import ConversationKey, IdentityKey, MemoryOrigin, Platform, Role, WriteTarget
from core.storage import Store
from tests.core.storage.contract.conftest import Backend

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HOLD = timedelta(minutes=2)
SLACK = IdentityKey(Platform.SLACK, "T1", "U1")
DISCORD = IdentityKey(Platform.DISCORD, "", "42")
WEB = IdentityKey(Platform.WEB, "", "sub-1")
ORIGIN = MemoryOrigin(Platform.SLACK, "C1", is_private=False)
EXCHANGE = [{"role": "user", "content": "I like tea"}]


async def session_of(store: Store) -> uuid.UUID:
    conversation = ConversationKey(Platform.SLACK, "T1", "C1")
    return (await store.touch_session(conversation, now=T0, idle_timeout=timedelta(hours=1))).id


async def say(store: Store, session_id: uuid.UUID, account_id: uuid.UUID, text: str, *, epoch: int) -> None:
    await store.append_message(
        session_id=session_id, account_id=account_id, role=Role.USER, text=text, now=T0, epoch=epoch
    )


async def keep(store: Store, account_id: uuid.UUID, *, epoch: int) -> uuid.UUID | None:
    return await store.add_pending_write(
        account_id=account_id, messages=EXCHANGE, origin=ORIGIN, now=T0, epoch=epoch, error="down"
    )


async def test_an_erasure_moves_the_epoch(store: Store) -> None:
    account = await store.resolve_account(SLACK)
    assert account.epoch == 0
    assert (await store.get_settings(account.id)).epoch == 0

    await store.erase_account(account.id)
    await store.erase_account(account.id)

    assert (await store.resolve_account(SLACK)).epoch == 2
    assert (await store.get_settings(account.id)).epoch == 2


async def test_an_erasure_records_when_it_happened(store: Store) -> None:
    account = await store.resolve_account(SLACK)
    assert account.erased_at is None
    before = datetime.now(UTC)

    await store.erase_account(account.id)

    erased_at = (await store.resolve_account(SLACK)).erased_at
    assert erased_at is not None
    # The database's clock (Postgres now()) or ours; a second of leeway either side.
    assert before - timedelta(seconds=1) <= erased_at <= datetime.now(UTC) + timedelta(seconds=1)


async def test_a_message_from_before_an_erasure_is_refused_and_nothing_is_stored(store: Store) -> None:
    account = await store.resolve_account(SLACK)
    session_id = await session_of(store)
    await say(store, session_id, account.id, "before", epoch=0)

    await store.erase_account(account.id)

    with pytest.raises(ErasedError):
        await say(store, session_id, account.id, "the canary", epoch=0)
    assert await store.recent_messages(session_id, limit=10) == []
    await say(store, session_id, account.id, "after", epoch=1)
    assert [m.text for m in await store.recent_messages(session_id, limit=10)] == ["after"]


async def test_an_erasure_from_another_process_refuses_this_ones_stale_writes(
    store: Store, backend: Backend
) -> None:
    account = await store.resolve_account(SLACK)
    session_id = await session_of(store)
    other = await backend.open()
    try:
        await other.erase_account(account.id)
    finally:
        await other.close()

    with pytest.raises(ErasedError):
        await say(store, session_id, account.id, "the canary", epoch=0)
    assert await keep(store, account.id, epoch=0) is None
    assert await store.memory_write_target(account.id, 0) is None
    assert await store.due_pending_writes(now=T0 + HOLD, limit=10) == []


async def test_a_pending_write_from_before_an_erasure_is_not_kept(store: Store) -> None:
    account = await store.resolve_account(SLACK)
    kept = await keep(store, account.id, epoch=0)
    assert kept is not None

    await store.erase_account(account.id)

    assert await keep(store, account.id, epoch=0) is None
    assert await store.due_pending_writes(now=T0 + HOLD, limit=10) == []
    fresh = await keep(store, account.id, epoch=1)
    assert [w.id for w in await store.due_pending_writes(now=T0 + HOLD, limit=10)] == [fresh]
    assert [w.epoch for w in await store.due_pending_writes(now=T0 + HOLD, limit=10)] == [1]


async def test_memory_write_target_holds_only_while_nothing_changed(store: Store) -> None:
    account = await store.resolve_account(SLACK)
    assert await store.memory_write_target(account.id, 0) == WriteTarget(account.id, 0)
    assert await store.memory_write_target(account.id, 1) is None  # an epoch that never was
    assert await store.memory_write_target(uuid.uuid4(), 0) is None  # no such account

    await store.set_memory_paused(account.id, True)
    assert await store.memory_write_target(account.id, 0) is None
    await store.set_memory_paused(account.id, False)
    assert await store.memory_write_target(account.id, 0) == WriteTarget(account.id, 0)

    await store.erase_account(account.id)
    assert await store.memory_write_target(account.id, 0) is None
    assert await store.memory_write_target(account.id, 1) == WriteTarget(account.id, 1)


async def merge(store: Store, *, source: uuid.UUID, target: uuid.UUID, code: str) -> None:
    await store.add_link_code(account_id=target, code_hash=code, now=T0, expires_at=T0 + HOLD)
    assert await store.reserve_link_code(code, account_id=source, now=T0, hold=HOLD)
    assert await store.merge_accounts(source=source, target=target, code_hash=code, now=T0)


async def test_writes_for_a_merged_account_follow_the_merge_unless_an_erasure_intervened(
    store: Store,
) -> None:
    target = await store.resolve_account(SLACK)
    await store.erase_account(target.id)  # the target is at epoch 1
    source = await store.resolve_account(DISCORD)
    pending = await keep(store, source.id, epoch=0)
    assert pending is not None

    await merge(store, source=source.id, target=target.id, code="c1")

    # Begun for the source before the merge: they land on the target, at the target's epoch.
    assert await store.memory_write_target(source.id, 0) == WriteTarget(target.id, 1)
    assert [(w.account_id, w.epoch) for w in await store.due_pending_writes(now=T0, limit=5)] == [
        (target.id, 1)
    ]
    # Begun under a source epoch that the merge did not see: nowhere.
    assert await store.memory_write_target(source.id, 3) is None
    # Merges chain.
    third = await store.resolve_account(WEB)
    await merge(store, source=target.id, target=third.id, code="c2")
    assert await store.memory_write_target(source.id, 0) == WriteTarget(third.id, 0)
    # "Forget all" after the link: nothing begun before it lands.
    await store.erase_account(third.id)
    assert await store.memory_write_target(source.id, 0) is None
    assert await store.memory_write_target(target.id, 1) is None


async def test_one_of_two_processes_reserving_a_code_wins(store: Store, backend: Backend) -> None:
    issuer = await store.resolve_account(SLACK)
    first = await store.resolve_account(DISCORD)
    second = await store.resolve_account(WEB)
    await store.add_link_code(account_id=issuer.id, code_hash="r1", now=T0, expires_at=T0 + HOLD)
    other = await backend.open()
    try:
        results = await asyncio.gather(
            *(
                (store if i % 2 else other).reserve_link_code(
                    "r1", account_id=(first if i % 2 else second).id, now=T0, hold=HOLD
                )
                for i in range(8)
            )
        )
    finally:
        await other.close()
    winners = {(first if i % 2 else second).id for i, won in enumerate(results) if won}
    assert len(winners) == 1
    winner = winners.pop()
    loser = second.id if winner == first.id else first.id
    assert await store.reserve_link_code("r1", account_id=winner, now=T0, hold=HOLD)  # again: still ours
    assert not await store.merge_accounts(source=loser, target=issuer.id, code_hash="r1", now=T0)
    assert await store.merge_accounts(source=winner, target=issuer.id, code_hash="r1", now=T0)


async def test_a_reservation_refuses_used_expired_unknown_and_own_codes_and_lapses(store: Store) -> None:
    issuer = await store.resolve_account(SLACK)
    first = await store.resolve_account(DISCORD)
    second = await store.resolve_account(WEB)
    await store.add_link_code(account_id=issuer.id, code_hash="r2", now=T0, expires_at=T0 + HOLD * 10)

    assert not await store.reserve_link_code("unknown", account_id=first.id, now=T0, hold=HOLD)
    assert not await store.reserve_link_code("r2", account_id=issuer.id, now=T0, hold=HOLD)  # own
    assert not await store.reserve_link_code("r2", account_id=first.id, now=T0 + HOLD * 11, hold=HOLD)
    assert await store.reserve_link_code("r2", account_id=first.id, now=T0, hold=HOLD)
    assert not await store.reserve_link_code("r2", account_id=second.id, now=T0 + HOLD / 2, hold=HOLD)
    # A redemption that died mid-way frees the code after the hold.
    assert await store.reserve_link_code("r2", account_id=second.id, now=T0 + HOLD * 2, hold=HOLD)
    assert not await store.merge_accounts(source=first.id, target=issuer.id, code_hash="r2", now=T0)
    assert await store.merge_accounts(source=second.id, target=issuer.id, code_hash="r2", now=T0)
    third = await store.resolve_account(IdentityKey(Platform.WEB, "", "sub-3"))
    assert not await store.reserve_link_code("r2", account_id=third.id, now=T0, hold=HOLD)  # used


async def test_an_erasure_drops_the_accounts_reservations(store: Store) -> None:
    issuer = await store.resolve_account(SLACK)
    source = await store.resolve_account(DISCORD)
    await store.add_link_code(account_id=issuer.id, code_hash="r3", now=T0, expires_at=T0 + HOLD)
    assert await store.reserve_link_code("r3", account_id=source.id, now=T0, hold=HOLD)

    await store.erase_account(source.id)

    assert not await store.merge_accounts(source=source.id, target=issuer.id, code_hash="r3", now=T0)
    assert (await store.resolve_account(DISCORD)).id == source.id


async def test_reserving_refuses_bad_input(store: Store) -> None:
    source = await store.resolve_account(DISCORD)
    with pytest.raises((ValueError, StorageError)):
        await store.reserve_link_code("r4", account_id=source.id, now=datetime(2026, 11, 1), hold=HOLD)
