"""What only the Supabase store has: error translation (ErasedError included), round trips, and the
whole bot running on it (build_core -> Orchestrator.handle -> supabase-py -> shim -> PostgreSQL).
Start-up checks: test_start_up_checks.py."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from bot.wiring import build_core
from core.errors import ErasedError, StorageError
from core.models import (
    ConversationKey,
    IdentityKey,
    IncomingMessage,
    MemoryOrigin,
    Platform,
    ReplyKind,
    Role,
    StoredMessage,
)
from core.replies import STORAGE_DOWN_REPLY
from core.storage.supabase import SupabaseStore
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.postgrest import PostgrestShim

T = TypeVar("T")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
IDLE = timedelta(minutes=60)


def message(text: str, message_id: str, *, user: str = "U1", channel: str = "C1") -> IncomingMessage:
    return IncomingMessage(
        platform=Platform.SLACK,
        workspace="T1",
        user=user,
        channel=channel,
        text=text,
        message_id=message_id,
        is_private=False,
        user_name="Alice",
    )


@pytest.fixture
async def store(postgrest_shim: PostgrestShim) -> AsyncIterator[SupabaseStore]:
    opened = await SupabaseStore.connect(url=postgrest_shim.url, key=postgrest_shim.key())
    try:
        yield opened
    finally:
        await opened.close()


# -- the whole bot on Supabase ---------------------------------------------------------------------------


async def test_the_bot_answers_and_keeps_its_records_in_supabase(
    tmp_path: Path, fake_openai: FakeOpenAI, postgrest_shim: PostgrestShim, supabase_dsn: str
) -> None:
    settings = make_settings(
        tmp_path / "data",
        fake_openai,
        supabase_url=postgrest_shim.url,
        supabase_service_role_key=postgrest_shim.key(),
    )
    async with build_core(settings) as core:
        assert isinstance(core.store, SupabaseStore)
        first = await core.orchestrator.handle(message("my cat is called Miso", "1"))
        again = await core.orchestrator.handle(message("my cat is called Miso", "1"))  # a retry
        second = await core.orchestrator.handle(message("what is my cat called?", "2"))

    assert first is not None
    assert first.kind is ReplyKind.ANSWER
    assert again is None
    assert second is not None
    assert second.session_id == first.session_id
    assert "my cat is called Miso" in second.text  # the fake echoes the prompt: history came back
    with psycopg.connect(supabase_dsn) as conn:
        rows = conn.execute("select role, text, author_name from mnemo.messages order by seq").fetchall()
        accounts = conn.execute("select count(*), max(display_name) from mnemo.accounts").fetchone()
        events = conn.execute("select count(*) from mnemo.processed_events").fetchone()
    assert [(role, text) for role, text, _ in rows][0::2] == [
        ("user", "my cat is called Miso"),
        ("user", "what is my cat called?"),
    ]
    assert [role for role, _, _ in rows] == ["user", "assistant", "user", "assistant"]
    assert rows[0][2] == "Alice"
    assert accounts == (1, "Alice")
    assert events == (2,)
    assert not (tmp_path / "data" / "mnemo.db").exists()  # nothing went to the embedded store


async def test_history_never_repeats_the_message_being_answered(
    tmp_path: Path, fake_openai: FakeOpenAI, postgrest_shim: PostgrestShim
) -> None:
    # recent_messages and append_message run in parallel; over HTTP either may land first.
    settings = make_settings(
        tmp_path / "data",
        fake_openai,
        supabase_url=postgrest_shim.url,
        supabase_service_role_key=postgrest_shim.key(),
    )
    async with build_core(settings) as core:
        for i in range(25):
            reply = await core.orchestrator.handle(message(f"note-{i}-xyz", str(i)))
            assert reply is not None
            assert reply.text.count(f"note-{i}-xyz") == 1, i


async def test_storage_down_means_an_apology_and_the_bot_recovers(
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    private_shim: PostgrestShim,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(
        tmp_path / "data",
        fake_openai,
        supabase_url=private_shim.url,
        supabase_service_role_key=private_shim.key(),
    )
    async with build_core(settings) as core:
        before = await core.orchestrator.handle(message("hello", "1"))
        private_shim.stop()
        with caplog.at_level(logging.WARNING):
            with pytest.raises(StorageError, match="mnemo_ping"):
                await core.store.ping()
            down = await core.orchestrator.handle(message("are you there?", "2"))
        private_shim.start()
        after = await core.orchestrator.handle(message("are you back?", "3"))

    assert before is not None
    assert before.kind is ReplyKind.ANSWER
    assert down is not None
    assert down.kind is ReplyKind.APOLOGY
    assert down.text == STORAGE_DOWN_REPLY
    assert after is not None
    assert after.kind is ReplyKind.ANSWER
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "supabase mnemo_claim_event failed: ConnectError" in logged  # the cause, logged


async def test_a_postgrest_error_is_a_storage_error_with_its_code_logged_but_not_its_details(
    store: SupabaseStore, caplog: pytest.LogCaptureFixture
) -> None:
    account = await store.resolve_account(IdentityKey(Platform.SLACK, "T1", "U1"))
    missing = uuid.uuid4()
    with caplog.at_level(logging.WARNING), pytest.raises(StorageError, match="23503") as caught:
        await store.append_message(
            session_id=missing, account_id=account.id, role=Role.USER, text="secret words", now=T0, epoch=0
        )
    assert isinstance(caught.value.__cause__, Exception)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "mnemo_append_message_at_epoch failed: code=23503" in logged
    assert str(missing) not in logged  # PostgREST's `details` names the row; it stays out of logs
    assert "secret words" not in logged


async def test_a_slow_backend_times_out_as_a_storage_error(private_shim: PostgrestShim) -> None:
    store = await SupabaseStore.connect(url=private_shim.url, key=private_shim.key(), timeout_seconds=1.5)
    try:
        private_shim.delay_seconds = 4.0
        with pytest.raises(StorageError, match="Timeout"):
            await store.claim_event("slow", now=T0)
        private_shim.delay_seconds = 0.0
        await store.ping()
    finally:
        await store.close()


async def test_every_operation_is_one_round_trip(store: SupabaseStore, postgrest_shim: PostgrestShim) -> None:
    calls = postgrest_shim.calls

    async def one_call(fn: str, awaitable: Awaitable[T]) -> T:
        before = sum(calls.values())
        result = await awaitable
        assert sum(calls.values()) == before + 1, fn
        assert calls[fn] >= 1, fn
        return result

    account = await one_call(
        "mnemo_resolve_account", store.resolve_account(IdentityKey(Platform.WEB, "", "a"))
    )
    session = await one_call(
        "mnemo_touch_session",
        store.touch_session(ConversationKey(Platform.WEB, "", "c"), now=T0, idle_timeout=IDLE),
    )
    account_id, session_id = account.id, session.id
    await one_call("mnemo_get_session", store.get_session(session_id))
    await one_call("mnemo_has_session", store.has_session(ConversationKey(Platform.WEB, "", "c")))
    await one_call(
        "mnemo_list_conversations",
        store.list_conversations(platform=Platform.WEB, workspace="", channel="c", offset=0, limit=5),
    )
    await one_call(
        "mnemo_conversation_messages",
        store.conversation_messages(ConversationKey(Platform.WEB, "", "c"), offset=0, limit=5),
    )
    await one_call(
        "mnemo_append_message_at_epoch",
        store.append_message(
            session_id=session_id, account_id=account_id, role=Role.USER, text="a", now=T0, epoch=0
        ),
    )
    await one_call("mnemo_recent_messages", store.recent_messages(session_id, limit=5))
    await one_call(
        "mnemo_append_message_and_recent_at_epoch",
        store.append_and_recent(
            session_id=session_id, account_id=account_id, role=Role.USER, text="b", now=T0, epoch=0, limit=5
        ),
    )
    await one_call("mnemo_claim_event", store.claim_event("e", now=T0))
    await one_call("mnemo_get_settings_with_epoch", store.get_settings(account_id))
    await one_call("mnemo_set_memory_paused", store.set_memory_paused(account_id, True))
    await one_call("mnemo_close_idle_sessions", store.close_idle_sessions(now=T0, idle_timeout=IDLE))
    await one_call("mnemo_purge_messages", store.purge_messages(before=T0 - IDLE))
    write_id = await one_call(
        "mnemo_add_pending_write_at_epoch",
        store.add_pending_write(
            account_id=account_id,
            messages=[{"role": "user", "content": "a"}],
            origin=MemoryOrigin(Platform.WEB, "c", is_private=True),
            now=T0,
            epoch=0,
            error=None,
        ),
    )
    assert write_id is not None
    await one_call("mnemo_due_pending_writes", store.due_pending_writes(now=T0, limit=5))
    await one_call(
        "mnemo_reschedule_pending_write",
        store.reschedule_pending_write(write_id, next_attempt_at=T0 + IDLE, error="x"),
    )
    await one_call("mnemo_finish_pending_write", store.complete_pending_write(write_id))
    await one_call("mnemo_erase_account", store.erase_account(account_id))
    await one_call("mnemo_memory_write_target", store.memory_write_target(account_id, 1))
    await one_call(
        "mnemo_add_link_code",
        store.add_link_code(account_id=account_id, code_hash="h", now=T0, expires_at=T0 + IDLE),
    )
    await one_call("mnemo_find_link_code", store.find_link_code("h"))
    other = IdentityKey(Platform.SLACK, "T1", "b")
    await one_call("mnemo_record_link_failure", store.record_link_failure(other, now=T0))
    await one_call("mnemo_count_link_failures", store.count_link_failures(other, since=T0))
    source = await store.resolve_account(other)
    await one_call(
        "mnemo_reserve_link_code",
        store.reserve_link_code("h", account_id=source.id, now=T0, hold=IDLE),
    )
    await one_call(
        "mnemo_merge_accounts_reserved",
        store.merge_accounts(source=source.id, target=account_id, code_hash="h", now=T0),
    )
    await one_call("mnemo_list_identities", store.list_identities(account_id))
    await one_call("mnemo_detach_identity", store.detach_identity(other, now=T0))
    await one_call(
        "mnemo_delete_conversation", store.delete_conversation(ConversationKey(Platform.WEB, "", "c"))
    )
    await one_call("mnemo_ping", store.ping())


async def test_a_stale_epoch_is_an_erased_error_and_not_logged_as_a_failure(
    store: SupabaseStore, caplog: pytest.LogCaptureFixture
) -> None:
    account = await store.resolve_account(IdentityKey(Platform.SLACK, "T1", "U1"))
    session = await store.touch_session(
        ConversationKey(Platform.SLACK, "T1", "C1"), now=T0, idle_timeout=IDLE
    )
    await store.erase_account(account.id)

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(ErasedError) as caught:
            await store.append_message(
                session_id=session.id,
                account_id=account.id,
                role=Role.USER,
                text="secret words",
                now=T0,
                epoch=0,
            )
        with pytest.raises(ErasedError):
            await store.append_and_recent(
                session_id=session.id,
                account_id=account.id,
                role=Role.USER,
                text="secret words",
                now=T0,
                epoch=0,
                limit=5,
            )
        kept = await store.add_pending_write(
            account_id=account.id,
            messages=[{"role": "user", "content": "secret words"}],
            origin=MemoryOrigin(Platform.SLACK, "C1", is_private=False),
            now=T0,
            epoch=0,
            error=None,
        )

    assert not isinstance(caught.value, StorageError)  # the orchestrator must not apologise for it
    assert kept is None
    store_records = [r.levelname for r in caplog.records if r.name == "core.storage.supabase.client"]
    assert store_records == ["DEBUG", "DEBUG"]
    assert "secret words" not in caplog.text
    assert await store.recent_messages(session.id, limit=5) == []
    assert await store.due_pending_writes(now=T0, limit=5) == []


async def test_a_negative_hold_is_refused_before_any_request(
    store: SupabaseStore, postgrest_shim: PostgrestShim
) -> None:
    account = await store.resolve_account(IdentityKey(Platform.SLACK, "T1", "U1"))
    before = sum(postgrest_shim.calls.values())
    with pytest.raises(ValueError, match="hold"):
        await store.reserve_link_code("h", account_id=account.id, now=T0, hold=timedelta(seconds=-1))
    assert sum(postgrest_shim.calls.values()) == before


async def test_append_and_recent_returns_the_turns_before_the_new_message(store: SupabaseStore) -> None:
    account = await store.resolve_account(IdentityKey(Platform.SLACK, "T1", "U1"))
    where = ConversationKey(Platform.SLACK, "T1", "C1")
    session = await store.touch_session(where, now=T0, idle_timeout=IDLE)

    async def append_and_recent(text: str, limit: int) -> tuple[StoredMessage, list[StoredMessage]]:
        return await store.append_and_recent(
            session_id=session.id,
            account_id=account.id,
            role=Role.USER,
            text=text,
            now=T0,
            epoch=0,
            limit=limit,
        )

    first, before_first = await append_and_recent("one", 5)
    for text in ("two", "three"):
        await store.append_message(
            session_id=session.id, account_id=account.id, role=Role.ASSISTANT, text=text, now=T0, epoch=0
        )
    last, before_last = await append_and_recent("four", 2)

    assert before_first == []
    assert first.text == "one"
    assert [m.text for m in before_last] == ["two", "three"]
    assert last.text == "four"
    recent = await store.recent_messages(session.id, limit=10)
    assert [m.text for m in recent] == ["one", "two", "three", "four"]
    assert recent[0] == first
    with pytest.raises(ValueError, match="limit"):
        await append_and_recent("x", -1)
