"""The ConversationStore role's contract for an answer's provenance (the memory ids recalled for
it), run unchanged on every implementation: kept with the answer, read back per account and
channel, gone with the answer."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core.models import ConversationKey, Platform, Role
from core.storage import Store
from tests.core.storage.contract.helpers import IDLE, T0, conversation, identity, new_session, say


async def answer(
    store: Store, session_id: uuid.UUID, account_id: uuid.UUID, ids: list[str], *, seconds: int = 0
) -> None:
    await store.append_message(
        session_id=session_id,
        account_id=account_id,
        role=Role.ASSISTANT,
        text="an answer",
        now=T0 + timedelta(seconds=seconds),
        epoch=0,
        memory_ids=ids,
    )


async def last(store: Store, account_id: uuid.UUID, channel: str = "C1") -> list[str] | None:
    return await store.last_answer_memories(account_id, platform="slack", workspace="T1", channel=channel)


async def test_the_latest_answer_in_the_channel_gives_its_memory_ids_in_order(store: Store) -> None:
    account = await store.resolve_account(identity())
    session_id = await new_session(store)
    await say(store, session_id, account.id, "what do I like?")
    await answer(store, session_id, account.id, ["m-2", "m-1"])
    await answer(store, session_id, account.id, ["m-3", "m-1", "m-9"], seconds=1)

    assert await last(store, account.id) == ["m-3", "m-1", "m-9"]


async def test_no_answer_is_none_and_an_answer_that_recalled_nothing_is_empty(store: Store) -> None:
    account = await store.resolve_account(identity())
    assert await last(store, account.id) is None
    session_id = await new_session(store)
    await say(store, session_id, account.id, "hello")
    assert await last(store, account.id) is None  # the person's own message is not an answer

    await answer(store, session_id, account.id, [])

    assert await last(store, account.id) == []


async def test_threads_of_the_channel_count_and_other_channels_and_people_do_not(store: Store) -> None:
    alice = await store.resolve_account(identity("U1"))
    bob = await store.resolve_account(identity("U2"))
    thread = await store.touch_session(conversation("C1", thread="1700.1"), now=T0, idle_timeout=IDLE)
    await answer(store, thread.id, alice.id, ["alice-thread"])
    other_channel = await new_session(store, "C2")
    await answer(store, other_channel, alice.id, ["alice-c2"], seconds=1)
    await answer(store, thread.id, bob.id, ["bob-thread"], seconds=2)

    assert await last(store, alice.id) == ["alice-thread"]
    assert await last(store, alice.id, "C2") == ["alice-c2"]
    assert await last(store, bob.id) == ["bob-thread"]
    elsewhere = await store.last_answer_memories(alice.id, platform="discord", workspace="T1", channel="C1")
    assert elsewhere is None


async def test_provenance_goes_with_the_answer(store: Store) -> None:
    account = await store.resolve_account(identity())
    session_id = await new_session(store)
    await answer(store, session_id, account.id, ["m-1"])

    await store.erase_account(account.id)

    assert await last(store, account.id) is None


async def test_provenance_goes_with_a_deleted_conversation(store: Store) -> None:
    account = await store.resolve_account(identity())
    web = ConversationKey(Platform.WEB, "", "sub-1", "t1")
    session = await store.touch_session(web, now=T0, idle_timeout=IDLE)
    await answer(store, session.id, account.id, ["m-1"])

    await store.delete_conversation(web)

    assert await store.last_answer_memories(account.id, platform="web", workspace="", channel="sub-1") is None


@pytest.mark.parametrize(
    ("ids", "role", "author"),
    [
        (["m"] * 101, Role.ASSISTANT, None),
        ([""], Role.ASSISTANT, None),
        (["x" * 101], Role.ASSISTANT, None),
        (["bad\nid"], Role.ASSISTANT, None),
        (["m-1"], Role.USER, None),
        (["m-1"], Role.ASSISTANT, "Alice"),
    ],
)
async def test_bad_provenance_is_refused_and_nothing_is_stored(
    store: Store, ids: list[str], role: Role, author: str | None
) -> None:
    account = await store.resolve_account(identity())
    session_id = await new_session(store)

    with pytest.raises(ValueError, match="memory"):
        await store.append_message(
            session_id=session_id,
            account_id=account.id,
            role=role,
            text="x",
            now=T0,
            epoch=0,
            author_name=author,
            memory_ids=ids,
        )

    assert await store.recent_messages(session_id, limit=10) == []
