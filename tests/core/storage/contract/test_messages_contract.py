"""The ConversationStore role's contract for messages: per session, and per conversation across its
sessions (the HTTP API's sessions), run unchanged on every implementation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core.models import ConversationKey, Platform, Role
from core.storage import Store
from tests.core.storage.contract.helpers import IDLE, T0, identity, new_session, say, web_conversation

# -- messages of a session -------------------------------------------------------------------------


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


# -- conversations: listing and reading across sessions --------------------------------------------


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


async def test_conversation_paging_refuses_negative_offsets_and_limits(store: Store) -> None:
    with pytest.raises(ValueError, match="offset"):
        await store.list_conversations(platform=Platform.WEB, workspace="", channel="c", offset=-1, limit=1)
    with pytest.raises(ValueError, match="limit"):
        await store.list_conversations(platform=Platform.WEB, workspace="", channel="c", offset=0, limit=-1)
    with pytest.raises(ValueError, match="offset"):
        await store.conversation_messages(web_conversation("a"), offset=-1, limit=1)
    with pytest.raises(ValueError, match="limit"):
        await store.conversation_messages(web_conversation("a"), offset=0, limit=-1)
