"""Bad input every store refuses with the same clear error, storing nothing
(core/storage/validation.py), and the health check. Run unchanged on every implementation."""

from __future__ import annotations

import uuid
from datetime import timedelta, timezone

import pytest

from core.errors import StorageError
from core.models import Role
from core.storage import Store
from tests.core.storage.contract.helpers import (
    EXCHANGE,
    IDLE,
    NAIVE,
    ORIGIN,
    T0,
    conversation,
    identity,
    new_session,
    say,
)

# -- health and bad input --------------------------------------------------------------------------


async def test_ping_answers(store: Store) -> None:
    await store.ping()


async def test_naive_datetimes_are_refused_and_nothing_is_stored(store: Store) -> None:
    account = await store.resolve_account(identity())
    session_id = await new_session(store)
    calls = {
        "touch_session": lambda: store.touch_session(conversation(), now=NAIVE, idle_timeout=IDLE),
        "touch_new_session": lambda: store.touch_session(conversation("C-new"), now=NAIVE, idle_timeout=IDLE),
        "append_message": lambda: store.append_message(
            session_id=session_id, account_id=account.id, role=Role.USER, text="naive", now=NAIVE, epoch=0
        ),
        "claim_event": lambda: store.claim_event("msg:naive", now=NAIVE),
        "close_idle_sessions": lambda: store.close_idle_sessions(now=NAIVE, idle_timeout=IDLE),
        "purge_messages": lambda: store.purge_messages(before=NAIVE),
        "add_pending_write": lambda: store.add_pending_write(
            account_id=account.id, messages=EXCHANGE, origin=ORIGIN, now=NAIVE, error=None, epoch=0
        ),
        "due_pending_writes": lambda: store.due_pending_writes(now=NAIVE, limit=10),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="timezone") as caught:
            await call()
        assert "naive" in str(caught.value), name

    assert await store.recent_messages(session_id, limit=10) == []
    assert await store.claim_event("msg:naive", now=T0) is True
    assert await store.due_pending_writes(now=T0 + timedelta(days=1), limit=10) == []


async def test_other_offsets_mean_the_same_instant(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    first = await store.touch_session(conversation(), now=T0, idle_timeout=IDLE)
    same = await store.touch_session(
        conversation(), now=T0.astimezone(plus_two) + timedelta(minutes=59), idle_timeout=IDLE
    )
    assert same.id == first.id
    assert same.last_active_at == T0 + timedelta(minutes=59)


async def test_unknown_session_or_account_ids_are_a_storage_error(store: Store) -> None:
    account = await store.resolve_account(identity())
    session_id = await new_session(store)

    with pytest.raises(StorageError):
        await say(store, uuid.uuid4(), account.id, "to nowhere")
    with pytest.raises(StorageError):
        await say(store, session_id, uuid.uuid4(), "from nobody")
    with pytest.raises(StorageError):
        await store.set_memory_paused(uuid.uuid4(), True)
    with pytest.raises(StorageError):
        await store.add_pending_write(
            account_id=uuid.uuid4(), messages=EXCHANGE, origin=ORIGIN, now=T0, error=None, epoch=0
        )
    assert await store.recent_messages(session_id, limit=10) == []
    assert await store.due_pending_writes(now=T0, limit=10) == []


async def test_negative_limits_and_timeouts_and_empty_event_keys_are_refused(store: Store) -> None:
    session_id = await new_session(store)
    with pytest.raises(ValueError, match="limit"):
        await store.recent_messages(session_id, limit=-1)
    with pytest.raises(ValueError, match="limit"):
        await store.due_pending_writes(now=T0, limit=-5)
    with pytest.raises(ValueError, match="idle_timeout"):
        await store.touch_session(conversation(), now=T0, idle_timeout=timedelta(minutes=-1))
    with pytest.raises(ValueError, match="idle_timeout"):
        await store.close_idle_sessions(now=T0, idle_timeout=timedelta(minutes=-1))
    with pytest.raises(ValueError, match="event key"):
        await store.claim_event("", now=T0)
    assert (await store.get_session(session_id)) is not None
    assert (await store.get_session(session_id)).closed_at is None  # type: ignore[union-attr]


# -- account linking: bad input (the behaviour itself: test_linking_contract.py) -------------------


async def test_linking_refuses_bad_input_and_changes_nothing(store: Store) -> None:
    alice = await store.resolve_account(identity("U-alice"))
    bob = await store.resolve_account(identity("U-bob"))
    later = T0 + timedelta(minutes=10)
    await store.add_link_code(account_id=alice.id, code_hash="h-ok", now=T0, expires_at=later)

    with pytest.raises(ValueError, match="timezone"):
        await store.add_link_code(account_id=alice.id, code_hash="h-naive", now=NAIVE, expires_at=later)
    with pytest.raises(ValueError, match="timezone"):
        await store.record_link_failure(identity("U-bob"), now=NAIVE)
    with pytest.raises(ValueError, match="timezone"):
        await store.count_link_failures(identity("U-bob"), since=NAIVE)
    with pytest.raises(StorageError):
        await store.add_link_code(account_id=uuid.uuid4(), code_hash="h-nobody", now=T0, expires_at=later)
    with pytest.raises(StorageError):
        await store.add_link_code(account_id=bob.id, code_hash="h-ok", now=T0, expires_at=later)  # taken
    with pytest.raises(ValueError, match="different"):
        await store.merge_accounts(source=alice.id, target=alice.id, code_hash="h-ok", now=T0)
    with pytest.raises(StorageError):
        await store.merge_accounts(source=uuid.uuid4(), target=alice.id, code_hash="h-ok", now=T0)
    with pytest.raises(StorageError):
        await store.detach_identity(identity("U-nobody"), now=T0)

    code = await store.find_link_code("h-ok")
    assert code is not None
    assert code.account_id == alice.id
    assert code.used_at is None
    assert await store.find_link_code("h-naive") is None
    assert await store.find_link_code("h-nobody") is None
    assert await store.count_link_failures(identity("U-bob"), since=T0 - timedelta(days=1)) == 0
    assert await store.list_identities(alice.id) == [identity("U-alice")]
    assert await store.list_identities(uuid.uuid4()) == []
    assert (await store.resolve_account(identity("U-alice"))).id == alice.id


async def test_a_negative_hold_is_refused_and_leaves_the_reservation_standing(store: Store) -> None:
    alice = await store.resolve_account(identity("U-alice"))
    bob = await store.resolve_account(identity("U-bob"))
    carol = await store.resolve_account(identity("U-carol"))
    await store.add_link_code(account_id=alice.id, code_hash="h", now=T0, expires_at=T0 + IDLE)
    assert await store.reserve_link_code("h", account_id=bob.id, now=T0, hold=IDLE)

    with pytest.raises(ValueError, match="hold"):
        await store.reserve_link_code("h", account_id=carol.id, now=T0, hold=timedelta(seconds=-1))

    assert not await store.reserve_link_code("h", account_id=carol.id, now=T0, hold=IDLE)  # still bob's
    assert await store.reserve_link_code("h", account_id=bob.id, now=T0, hold=IDLE)
