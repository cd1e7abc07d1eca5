"""The MemoryWriteStore role's contract for pending memory writes, run unchanged on every
implementation. Where writes may land (epochs, merges): test_erasure_contract.py."""

from __future__ import annotations

from datetime import timedelta

from core.models import MemoryOrigin, Platform
from core.storage import Store
from tests.core.storage.contract.helpers import EXCHANGE, ORIGIN, T0, identity


async def test_pending_write_round_trip(store: Store) -> None:
    account = await store.resolve_account(identity())
    private = MemoryOrigin(Platform.DISCORD, "D42", is_private=True)
    write_id = await store.add_pending_write(
        account_id=account.id, messages=EXCHANGE, origin=private, now=T0, error="mem0 down", epoch=0
    )

    assert await store.due_pending_writes(now=T0 - timedelta(seconds=1), limit=10) == []
    (due,) = await store.due_pending_writes(now=T0, limit=10)
    assert due.id == write_id
    assert due.account_id == account.id
    assert due.messages == EXCHANGE
    assert due.origin == private
    assert due.attempts == 0
    assert due.next_attempt_at == T0
    assert due.created_at == T0
    assert due.last_error == "mem0 down"


async def test_reschedule_counts_attempts_and_moves_the_write(store: Store) -> None:
    account = await store.resolve_account(identity())
    write_id = await store.add_pending_write(
        account_id=account.id, messages=EXCHANGE, origin=ORIGIN, now=T0, error=None, epoch=0
    )
    retry_at = T0 + timedelta(minutes=10)
    await store.reschedule_pending_write(write_id, next_attempt_at=retry_at, error="x" * 2000)

    assert await store.due_pending_writes(now=T0 + timedelta(minutes=9), limit=10) == []
    (due,) = await store.due_pending_writes(now=retry_at, limit=10)
    assert due.attempts == 1
    assert due.next_attempt_at == retry_at
    assert due.last_error == "x" * 500

    assert await store.complete_pending_write(write_id) is True
    assert await store.due_pending_writes(now=retry_at, limit=10) == []
    assert await store.complete_pending_write(write_id) is False  # twice is harmless, and says so
    await store.reschedule_pending_write(write_id, next_attempt_at=retry_at, error="gone")  # so is this
    assert await store.due_pending_writes(now=retry_at, limit=10) == []


async def test_due_pending_writes_oldest_first_within_the_limit(store: Store) -> None:
    account = await store.resolve_account(identity())
    ids = [
        await store.add_pending_write(
            account_id=account.id,
            messages=[{"role": "user", "content": f"m{i}"}],
            origin=ORIGIN,
            now=T0 + timedelta(seconds=10 - i),
            error=None,
            epoch=0,
        )
        for i in range(4)
    ]
    due = await store.due_pending_writes(now=T0 + timedelta(minutes=1), limit=3)
    assert [w.id for w in due] == [ids[3], ids[2], ids[1]]
    assert await store.due_pending_writes(now=T0 + timedelta(minutes=1), limit=0) == []
