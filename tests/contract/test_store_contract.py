"""The Store port's contract (core/storage.py), run unchanged on every implementation.

Each test gets an empty store. `backend.open()` opens a second instance on the same data, which is
what a second bot process sees; `backend.worker_argv` runs a real second OS process.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.errors import StorageError
from core.models import ConversationKey, IdentityKey, MemoryOrigin, Platform, Role
from core.storage import Store
from tests.contract.conftest import Backend

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
IDLE = timedelta(minutes=60)
NAIVE = datetime(2026, 11, 1, 12, 0)  # the bad input under test
ORIGIN = MemoryOrigin(Platform.SLACK, "C1", is_private=False)
EXCHANGE = [{"role": "user", "content": "I like tea"}, {"role": "assistant", "content": "Noted"}]


def identity(user: str = "U1", *, workspace: str = "T1", platform: Platform = Platform.SLACK) -> IdentityKey:
    return IdentityKey(platform, workspace, user)


def conversation(channel: str = "C1", *, thread: str = "", workspace: str = "T1") -> ConversationKey:
    return ConversationKey(Platform.SLACK, workspace, channel, thread)


async def new_session(store: Store, channel: str = "C1", *, now: datetime = T0) -> uuid.UUID:
    return (await store.touch_session(conversation(channel), now=now, idle_timeout=IDLE)).id


async def say(
    store: Store,
    session_id: uuid.UUID,
    account_id: uuid.UUID,
    text: str,
    *,
    now: datetime = T0,
    role: Role = Role.USER,
    epoch: int = 0,
) -> None:
    await store.append_message(
        session_id=session_id, account_id=account_id, role=role, text=text, now=now, epoch=epoch
    )


# -- accounts ----------------------------------------------------------------------------------------


async def test_resolve_account_is_idempotent_and_keeps_the_display_name(store: Store) -> None:
    first = await store.resolve_account(identity(), display_name="Alice")
    again = await store.resolve_account(identity())
    renamed = await store.resolve_account(identity(), display_name="Alice B")
    after = await store.resolve_account(identity())

    assert first.display_name == "Alice"
    assert again.id == first.id
    assert again.display_name == "Alice"
    assert renamed.id == first.id
    assert renamed.display_name == "Alice B"
    assert after.display_name == "Alice B"
    assert first.created_at.tzinfo is not None


async def test_identities_are_per_platform_and_workspace(store: Store) -> None:
    slack_t1 = await store.resolve_account(identity("U1", workspace="T1"))
    slack_t2 = await store.resolve_account(identity("U1", workspace="T2"))
    discord = await store.resolve_account(identity("U1", workspace="", platform=Platform.DISCORD))
    other = await store.resolve_account(identity("U2", workspace="T1"))

    assert len({slack_t1.id, slack_t2.id, discord.id, other.id}) == 4


async def test_fifty_concurrent_first_messages_create_exactly_one_account(store: Store) -> None:
    who = identity("U-new")
    accounts = await asyncio.gather(*(store.resolve_account(who, display_name="Bo") for _ in range(50)))

    assert len({account.id for account in accounts}) == 1
    assert (await store.resolve_account(who)).id == accounts[0].id


async def test_two_instances_resolving_a_new_identity_agree(store: Store, backend: Backend) -> None:
    second = await backend.open()
    try:
        who = identity("U-two")
        results = await asyncio.gather(
            *(s.resolve_account(who) for _ in range(10) for s in (store, second)),
        )
    finally:
        await second.close()
    assert len({account.id for account in results}) == 1


# -- sessions ----------------------------------------------------------------------------------------


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


# -- messages ----------------------------------------------------------------------------------------


async def test_messages_come_back_oldest_first_with_every_field(store: Store) -> None:
    account = await store.resolve_account(identity())
    session_id = await new_session(store)
    stored = await store.append_message(
        session_id=session_id,
        account_id=account.id,
        role=Role.USER,
        text="hello ✓ 'quoted' \"double\" \\ back",
        now=T0,
        author_name="Alice",
        epoch=0,
    )
    await say(store, session_id, account.id, "hi Alice", role=Role.ASSISTANT, now=T0 + timedelta(seconds=1))

    recent = await store.recent_messages(session_id, limit=10)

    assert [m.text for m in recent] == ["hello ✓ 'quoted' \"double\" \\ back", "hi Alice"]
    assert recent[0] == stored
    assert recent[0].author_name == "Alice"
    assert recent[0].created_at == T0
    assert recent[1].role is Role.ASSISTANT
    assert recent[1].author_name is None
    assert {m.session_id for m in recent} == {session_id}
    assert {m.account_id for m in recent} == {account.id}


async def test_recent_messages_keeps_the_newest_within_the_limit(store: Store) -> None:
    account = await store.resolve_account(identity())
    session_id = await new_session(store)
    for i in range(7):
        # Same timestamp on purpose: order is insertion order, not clock order.
        await say(store, session_id, account.id, f"m{i}")

    assert [m.text for m in await store.recent_messages(session_id, limit=3)] == ["m4", "m5", "m6"]
    assert len(await store.recent_messages(session_id, limit=100)) == 7
    assert await store.recent_messages(session_id, limit=0) == []


async def test_sessions_do_not_share_messages(store: Store) -> None:
    account = await store.resolve_account(identity())
    one = await new_session(store, "C1")
    two = await new_session(store, "C2")
    await say(store, one, account.id, "in one")
    await say(store, two, account.id, "in two")

    assert [m.text for m in await store.recent_messages(one, limit=10)] == ["in one"]
    assert [m.text for m in await store.recent_messages(two, limit=10)] == ["in two"]
    assert await store.recent_messages(uuid.uuid4(), limit=10) == []


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


# -- events ------------------------------------------------------------------------------------------


async def test_claim_event_is_true_once(store: Store) -> None:
    assert await store.claim_event("msg:slack:T1:C1:1", now=T0) is True
    assert await store.claim_event("msg:slack:T1:C1:1", now=T0 + timedelta(minutes=5)) is False
    assert await store.claim_event("msg:slack:T1:C1:2", now=T0) is True


async def test_concurrent_claims_of_one_event_have_one_winner(store: Store, backend: Backend) -> None:
    second = await backend.open()
    try:
        results = await asyncio.gather(
            *(s.claim_event("msg:slack:T1:C1:race", now=T0) for _ in range(20) for s in (store, second))
        )
    finally:
        await second.close()
    assert results.count(True) == 1


async def test_two_processes_claiming_the_same_events_win_each_exactly_once(
    store: Store, backend: Backend
) -> None:
    keys = [f"msg:discord::C9:{i}" for i in range(150)]
    workers = [
        await asyncio.create_subprocess_exec(
            *backend.worker_argv,
            *keys,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert (await asyncio.wait_for(worker.stdout.readline(), 60)).strip() == b"ready"
    for worker in workers:  # both are connected and waiting: release them together
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    outputs = [await asyncio.wait_for(worker.communicate(), 60) for worker in workers]

    won = [set(json.loads(stdout)) for stdout, _ in outputs]
    assert all(worker.returncode == 0 for worker in workers)
    assert won[0].isdisjoint(won[1])
    assert won[0] | won[1] == set(keys)
    # The store this test holds sees them all as taken.
    assert not any(await asyncio.gather(*(store.claim_event(k, now=T0) for k in keys[:10])))


# -- settings ----------------------------------------------------------------------------------------


async def test_memory_pause_and_resume_per_account(store: Store) -> None:
    alice = await store.resolve_account(identity("U-alice"))
    bob = await store.resolve_account(identity("U-bob"))
    assert (await store.get_settings(alice.id)).memory_paused is False

    await store.set_memory_paused(alice.id, True)
    assert (await store.get_settings(alice.id)).memory_paused is True
    assert (await store.get_settings(bob.id)).memory_paused is False

    await store.set_memory_paused(alice.id, True)  # idempotent
    await store.set_memory_paused(alice.id, False)
    assert (await store.get_settings(alice.id)).memory_paused is False


async def test_settings_of_an_unknown_account_are_the_defaults(store: Store) -> None:
    assert (await store.get_settings(uuid.uuid4())).memory_paused is False


# -- pending memory writes -----------------------------------------------------------------------------


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


# -- health and bad input ------------------------------------------------------------------------------


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


# -- conversations: listing, reading across sessions, deleting (the HTTP API's sessions) ------------


def web_conversation(thread: str, *, channel: str = "sub-1") -> ConversationKey:
    return ConversationKey(Platform.WEB, "", channel, thread)


async def test_list_conversations_newest_activity_first_with_counts_and_previews(store: Store) -> None:
    account = await store.resolve_account(identity("sub-1", workspace="", platform=Platform.WEB))
    for minute, thread in enumerate(["a", "b", "c"]):
        now = T0 + timedelta(minutes=minute)
        session = await store.touch_session(web_conversation(thread), now=now, idle_timeout=IDLE)
        await say(store, session.id, account.id, f"hello from {thread} " + "x" * 300, now=now)
    await store.touch_session(web_conversation("a"), now=T0 + timedelta(minutes=10), idle_timeout=IDLE)
    # Another channel of the same platform is not listed, nor another platform's same channel name.
    await store.touch_session(web_conversation("z", channel="sub-2"), now=T0, idle_timeout=IDLE)
    await store.touch_session(
        ConversationKey(Platform.SLACK, "", "sub-1", "a"), now=T0 + timedelta(hours=1), idle_timeout=IDLE
    )

    page = await store.list_conversations(
        platform=Platform.WEB, workspace="", channel="sub-1", offset=0, limit=10
    )

    assert page.total == 3
    assert [item.conversation.thread for item in page.items] == ["a", "c", "b"]
    first = page.items[0]
    assert first.conversation == web_conversation("a")
    assert first.message_count == 1
    assert first.opened_at == T0
    assert first.last_active_at == T0 + timedelta(minutes=10)
    assert first.preview is not None
    assert first.preview.startswith("hello from a x")
    assert len(first.preview) == 120


async def test_list_conversations_pages_and_counts_every_session_of_a_thread(store: Store) -> None:
    account = await store.resolve_account(identity("sub-1", workspace="", platform=Platform.WEB))
    first = await store.touch_session(web_conversation("a"), now=T0, idle_timeout=IDLE)
    await say(store, first.id, account.id, "before the idle gap", now=T0)
    later = T0 + IDLE * 3
    second = await store.touch_session(web_conversation("a"), now=later, idle_timeout=IDLE)
    await say(store, second.id, account.id, "after it", now=later)
    assert second.id != first.id
    for minute in range(1, 5):
        await store.touch_session(
            web_conversation(f"t{minute}"), now=T0 + timedelta(minutes=minute), idle_timeout=IDLE
        )

    whole = await store.list_conversations(
        platform=Platform.WEB, workspace="", channel="sub-1", offset=0, limit=100
    )
    pages = [
        await store.list_conversations(
            platform=Platform.WEB, workspace="", channel="sub-1", offset=offset, limit=2
        )
        for offset in (0, 2, 4)
    ]

    assert whole.total == 5
    assert whole.items[0].conversation.thread == "a"
    assert whole.items[0].message_count == 2
    assert whole.items[0].preview == "before the idle gap"
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p.items] == whole.items
    assert all(p.total == 5 for p in pages)
    past_the_end = await store.list_conversations(
        platform=Platform.WEB, workspace="", channel="sub-1", offset=50, limit=10
    )
    assert past_the_end.items == []
    assert past_the_end.total == 5


async def test_conversation_messages_span_its_sessions_oldest_first_and_page(store: Store) -> None:
    account = await store.resolve_account(identity("sub-1", workspace="", platform=Platform.WEB))
    first = await store.touch_session(web_conversation("a"), now=T0, idle_timeout=IDLE)
    await say(store, first.id, account.id, "one", now=T0)
    await say(store, first.id, account.id, "two", now=T0, role=Role.ASSISTANT)
    later = T0 + IDLE * 2
    second = await store.touch_session(web_conversation("a"), now=later, idle_timeout=IDLE)
    await say(store, second.id, account.id, "three", now=later)
    other = await store.touch_session(web_conversation("b"), now=T0, idle_timeout=IDLE)
    await say(store, other.id, account.id, "elsewhere", now=T0)

    whole = await store.conversation_messages(web_conversation("a"), offset=0, limit=10)
    tail = await store.conversation_messages(web_conversation("a"), offset=1, limit=1)
    nothing = await store.conversation_messages(web_conversation("missing"), offset=0, limit=10)

    assert [m.text for m in whole.items] == ["one", "two", "three"]
    assert [m.role for m in whole.items] == [Role.USER, Role.ASSISTANT, Role.USER]
    assert {m.session_id for m in whole.items} == {first.id, second.id}
    assert whole.items[2].created_at == later
    assert whole.items[0].account_id == account.id
    assert whole.total == 3
    assert [m.text for m in tail.items] == ["two"]
    assert tail.total == 3
    assert tail.offset == 1
    assert nothing.items == []
    assert nothing.total == 0


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


async def test_conversation_paging_refuses_negative_offsets_and_limits(store: Store) -> None:
    with pytest.raises(ValueError, match="offset"):
        await store.list_conversations(platform=Platform.WEB, workspace="", channel="c", offset=-1, limit=1)
    with pytest.raises(ValueError, match="limit"):
        await store.list_conversations(platform=Platform.WEB, workspace="", channel="c", offset=0, limit=-1)
    with pytest.raises(ValueError, match="offset"):
        await store.conversation_messages(web_conversation("a"), offset=-1, limit=1)
    with pytest.raises(ValueError, match="limit"):
        await store.conversation_messages(web_conversation("a"), offset=0, limit=-1)


# -- account linking: bad input (the behaviour itself: test_linking_contract.py) -----------------------


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


async def test_a_detached_identity_leaves_its_messages_behind(store: Store) -> None:
    account = await store.resolve_account(identity("U1"), display_name="Alice")
    await store.add_link_code(account_id=account.id, code_hash="h", now=T0, expires_at=T0 + IDLE)
    other = await store.resolve_account(identity("42", workspace="", platform=Platform.DISCORD))
    session_id = await new_session(store)
    await say(store, session_id, other.id, "said on discord")
    assert await store.reserve_link_code("h", account_id=other.id, now=T0, hold=IDLE)
    assert await store.merge_accounts(source=other.id, target=account.id, code_hash="h", now=T0)

    fresh = await store.detach_identity(identity("42", workspace="", platform=Platform.DISCORD), now=T0)

    assert fresh.display_name == "Alice"
    assert fresh.created_at == T0
    assert await store.list_identities(fresh.id) == [identity("42", workspace="", platform=Platform.DISCORD)]
    assert [m.account_id for m in await store.recent_messages(session_id, limit=5)] == [account.id]
    assert (await store.get_settings(fresh.id)).memory_paused is False


# -- bookkeeping retention ------------------------------------------------------------------------


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
