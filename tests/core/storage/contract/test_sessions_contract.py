"""The ConversationStore role's contract for sessions, run unchanged on every implementation.

`backend.open()` opens a second instance on the same data, which is what a second bot process sees."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from core.storage import Store
from tests.core.storage.contract.conftest import Backend
from tests.core.storage.contract.helpers import IDLE, T0, conversation, new_session


async def test_touch_session_reuses_the_open_session_and_marks_it_active(store: Store) -> None:
    first = await store.touch_session(conversation(), now=T0, idle_timeout=IDLE)
    later = T0 + timedelta(minutes=59)
    again = await store.touch_session(conversation(), now=later, idle_timeout=IDLE)

    assert again.id == first.id
    assert first.opened_at == T0
    assert again.opened_at == T0
    assert again.last_active_at == later
    assert again.closed_at is None
    assert again.conversation == conversation()


async def test_touch_session_closes_an_idle_session_and_opens_a_new_one(store: Store) -> None:
    first = await store.touch_session(conversation(), now=T0, idle_timeout=IDLE)
    later = T0 + IDLE + timedelta(seconds=1)
    second = await store.touch_session(conversation(), now=later, idle_timeout=IDLE)

    assert second.id != first.id
    assert second.opened_at == later
    closed = await store.get_session(first.id)
    assert closed is not None
    assert closed.closed_at == later
    still_open = await store.get_session(second.id)
    assert still_open is not None
    assert still_open.closed_at is None


async def test_a_late_clock_never_moves_last_active_backwards(store: Store) -> None:
    await store.touch_session(conversation(), now=T0 + timedelta(minutes=5), idle_timeout=IDLE)
    touched = await store.touch_session(conversation(), now=T0, idle_timeout=IDLE)
    assert touched.last_active_at == T0 + timedelta(minutes=5)


async def test_each_conversation_and_thread_has_its_own_session(store: Store) -> None:
    ids = {
        (await store.touch_session(key, now=T0, idle_timeout=IDLE)).id
        for key in (
            conversation("C1"),
            conversation("C2"),
            conversation("C1", thread="1700000000.0001"),
            conversation("C1", workspace="T2"),
        )
    }
    assert len(ids) == 4


async def test_concurrent_touches_open_exactly_one_session(store: Store, backend: Backend) -> None:
    second = await backend.open()
    try:
        sessions = await asyncio.gather(
            *(
                s.touch_session(conversation("C-busy"), now=T0, idle_timeout=IDLE)
                for _ in range(15)
                for s in (store, second)
            )
        )
    finally:
        await second.close()
    assert len({session.id for session in sessions}) == 1


async def test_get_session_of_an_unknown_id_is_none(store: Store) -> None:
    assert await store.get_session(uuid.uuid4()) is None


async def test_has_session_remembers_every_conversation_the_bot_took_part_in(store: Store) -> None:
    thread = conversation("C1", thread="1700000000.0001")
    assert await store.has_session(thread) is False

    await store.touch_session(thread, now=T0, idle_timeout=IDLE)
    assert await store.has_session(thread) is True
    assert await store.has_session(conversation("C1")) is False  # the channel is not the thread
    assert await store.has_session(conversation("C1", thread="1700000000.0002")) is False
    assert await store.has_session(conversation("C1", thread="1700000000.0001", workspace="T2")) is False

    await store.close_idle_sessions(now=T0 + 2 * IDLE, idle_timeout=IDLE)
    assert await store.has_session(thread) is True  # closed still counts


async def test_close_idle_sessions_closes_only_idle_open_sessions(store: Store) -> None:
    idle = await new_session(store, "C-idle", now=T0)
    busy = await new_session(store, "C-busy", now=T0 + timedelta(minutes=50))
    now = T0 + IDLE + timedelta(minutes=1)

    assert await store.close_idle_sessions(now=now, idle_timeout=IDLE) == 1
    assert await store.close_idle_sessions(now=now, idle_timeout=IDLE) == 0

    closed = await store.get_session(idle)
    still = await store.get_session(busy)
    assert closed is not None
    assert closed.closed_at == now
    assert still is not None
    assert still.closed_at is None
    reopened = await store.touch_session(conversation("C-idle"), now=now, idle_timeout=IDLE)
    assert reopened.id != idle
