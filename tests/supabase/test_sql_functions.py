"""Every SQL function of the migrations called directly, as service_role, on a real PostgreSQL
database (the contract suite calls them again through supabase-py), and the invariants the database
enforces by itself."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors

from core.storage.supabase import SCHEMA_VERSION
from tests.supabase import pg


def test_the_database_itself_enforces_the_invariants(postgrest_shim: object, supabase_dsn: str) -> None:
    with pg.as_service_role(supabase_dsn) as conn:
        (account_id,) = conn.execute(
            "select id from public.mnemo_resolve_account('slack', 'T1', 'U1')"
        ).fetchone() or (None,)
        with pytest.raises(errors.UniqueViolation):
            conn.execute(
                "insert into mnemo.identities (platform, workspace, user_id, account_id) "
                "values ('slack', 'T1', 'U1', gen_random_uuid())"
            )
        conn.execute("select public.mnemo_touch_session('slack', 'T1', 'C1', '', now(), 3600)")
        with pytest.raises(errors.UniqueViolation):
            conn.execute(
                "insert into mnemo.sessions "
                "(platform, workspace, channel, thread, opened_at, last_active_at) "
                "values ('slack', 'T1', 'C1', '', now(), now())"
            )
        conn.execute("select public.mnemo_claim_event('once', now())")
        with pytest.raises(errors.UniqueViolation):
            conn.execute("insert into mnemo.processed_events (key, processed_at) values ('once', now())")
        (session_id,) = conn.execute(
            "select id from public.mnemo_touch_session('slack', 'T1', 'C1', '', now(), 3600)"
        ).fetchone() or (None,)
        with pytest.raises(errors.CheckViolation):
            conn.execute(
                "select public.mnemo_append_message(%s, %s, 'system', 'x', now())", (session_id, account_id)
            )
        with pytest.raises(errors.ForeignKeyViolation):
            conn.execute(
                "select public.mnemo_append_message(%s, %s, 'user', 'x', now())", (session_id, uuid.uuid4())
            )
        with pytest.raises(errors.ForeignKeyViolation):
            conn.execute(
                "select public.mnemo_append_message_at_epoch(%s, %s, 0, 'user', 'x', now())",
                (session_id, uuid.uuid4()),
            )
        with pytest.raises(errors.InvalidParameterValue):
            conn.execute(
                "select public.mnemo_append_message_at_epoch(%s, %s, null, 'user', 'x', now())",
                (session_id, account_id),
            )
        with pytest.raises(errors.InvalidParameterValue):
            conn.execute("select public.mnemo_reserve_link_code('h', %s, now(), -1)", (account_id,))
        with pytest.raises(errors.InvalidParameterValue):
            conn.execute("select public.mnemo_resolve_account('slack', 'T1', '')")


def test_every_sql_function_called_directly(postgrest_shim: object, supabase_dsn: str) -> None:
    called: set[str] = set()

    def call(
        conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        called.add(query.split("public.", 1)[1].split("(", 1)[0])
        return conn.execute(query, params).fetchall()

    exchange = json.dumps([{"role": "user", "content": "one"}])
    with pg.as_service_role(supabase_dsn) as conn:
        assert call(conn, "select public.mnemo_ping()") == [(SCHEMA_VERSION,)]
        [(account_id, _, name, epoch, _erased_at)] = call(
            conn, "select * from public.mnemo_resolve_account('discord', '', '42', 'Al')"
        )
        assert (name, epoch) == ("Al", 0)
        [(session_id, *_)] = call(
            conn,
            "select * from public.mnemo_touch_session('discord', '', 'D1', '', '2026-11-01T12:00Z', 3600)",
        )
        assert call(conn, "select id from public.mnemo_get_session(%s)", (session_id,)) == [(session_id,)]
        has = call(conn, "select public.mnemo_has_session('discord', '', 'D1', '')")
        assert has == [(True,)]
        call(
            conn,
            "select * from public.mnemo_append_message(%s, %s, 'user', 'one', '2026-11-01T12:00Z', 'Al')",
            (session_id, account_id),
        )  # older bots' name, no epoch check
        rows = call(
            conn,
            "select text from public.mnemo_append_message_and_recent(%s, %s, 'assistant', 'two', "
            "'2026-11-01T12:00:01Z', 5)",
            (session_id, account_id),
        )
        assert rows == [("one",), ("two",)]
        call(
            conn,
            "select * from public.mnemo_append_message_at_epoch(%s, %s, 0, 'user', 'three', "
            "'2026-11-01T12:00:02Z', 'Al')",
            (session_id, account_id),
        )
        rows = call(
            conn,
            "select text from public.mnemo_append_message_and_recent_at_epoch(%s, %s, 0, 'assistant', "
            "'four', '2026-11-01T12:00:03Z', 2)",
            (session_id, account_id),
        )
        assert rows == [("two",), ("three",), ("four",)]
        assert call(conn, "select text from public.mnemo_recent_messages(%s, 1)", (session_id,)) == [
            ("four",)
        ]
        [(role, ids)] = call(
            conn,
            "select role, memory_ids from public.mnemo_append_answer_at_epoch(%s, %s, 0, 'five', "
            "'2026-11-01T12:00:04Z', array['m-2', 'm-1'])",
            (session_id, account_id),
        )
        assert (role, ids) == ("assistant", ["m-2", "m-1"])
        latest = call(
            conn, "select * from public.mnemo_last_answer_memories(%s, 'discord', '', 'D1')", (account_id,)
        )
        assert latest == [(["m-2", "m-1"],)]
        found = call(conn, "select id from public.mnemo_find_account('discord', '', '42')")
        assert found == [(account_id,)]
        assert call(conn, "select public.mnemo_claim_event('e1', now())") == [(True,)]
        call(conn, "select public.mnemo_set_memory_paused(%s, true)", (account_id,))
        paused = call(conn, "select memory_paused from public.mnemo_get_settings(%s)", (account_id,))
        assert paused == [(True,)]
        both = call(conn, "select * from public.mnemo_get_settings_with_epoch(%s)", (account_id,))
        assert both == [(True, 0)]
        assert call(conn, "select public.mnemo_memory_write_target(%s, 0)", (account_id,)) == [(None,)]
        call(conn, "select public.mnemo_set_memory_paused(%s, false)", (account_id,))
        [(write_id,)] = call(
            conn,
            "select public.mnemo_add_pending_write(%s, %s::jsonb, 'discord', 'D1', true, "
            "'2026-11-01T12:00Z', 'down')",
            (account_id, exchange),
        )  # older bots' name: the write takes the account's current epoch
        [(at_epoch_id,)] = call(
            conn,
            "select public.mnemo_add_pending_write_at_epoch(%s, 0, %s::jsonb, 'discord', 'D1', true, "
            "'2026-11-01T12:00:01Z', 'down')",
            (account_id, exchange),
        )
        due = call(conn, "select id, epoch from public.mnemo_due_pending_writes('2026-11-01T12:00:01Z', 10)")
        assert due == [(write_id, 0), (at_epoch_id, 0)]
        call(
            conn,
            "select public.mnemo_reschedule_pending_write(%s, '2026-11-01T13:00Z', 'again')",
            (write_id,),
        )
        due = call(conn, "select id from public.mnemo_due_pending_writes('2026-11-01T12:30Z', 10)")
        assert due == [(at_epoch_id,)]
        assert call(conn, "select public.mnemo_finish_pending_write(%s)", (write_id,)) == [(True,)]
        assert call(conn, "select public.mnemo_finish_pending_write(%s)", (write_id,)) == [(False,)]
        call(conn, "select public.mnemo_complete_pending_write(%s)", (write_id,))  # older bots' name
        assert call(conn, "select public.mnemo_close_idle_sessions('2026-11-01T14:00Z', 3600)") == [(1,)]
        assert call(conn, "select public.mnemo_purge_messages('2026-11-01T12:00:01Z')") == [(1,)]
        # The claim made above (if any) and nothing newer; a cut-off in the past deletes nothing.
        assert call(conn, "select public.mnemo_purge_bookkeeping('2000-01-01T00:00Z')") == [(0,)]
        call(conn, "select public.mnemo_record_feedback(%s, 'slack:T:D:1', 'good', now())", (account_id,))
        rated = call(conn, "select answer, rating from public.mnemo_list_feedback(%s)", (account_id,))
        assert rated == [("slack:T:D:1", "good")]
        usage_args = (account_id,)
        call(conn, "select public.mnemo_add_usage(%s, 'discord', '', '2026-11-01', 40)", usage_args)
        call(conn, "select public.mnemo_add_usage(%s, 'discord', '', '2026-11-01', 2)", usage_args)
        assert call(conn, "select public.mnemo_daily_usage(%s, 'discord', '', '2026-11-01')", usage_args) == [
            ({"person": 42, "workspace": 42},)
        ]
        assert call(conn, "select public.mnemo_erase_account(%s)", (account_id,)) == [(4,)]  # with the answer
        # Erased: no row names the account; its tokens still count for the workspace's day.
        assert call(conn, "select public.mnemo_daily_usage(%s, 'discord', '', '2026-11-01')", usage_args) == [
            ({"person": 0, "workspace": 42},)
        ]
        named = conn.execute("select count(*) from mnemo.token_usage where account_id = %s", usage_args)
        assert named.fetchone() == (0,)
        assert call(conn, "select answer from public.mnemo_list_feedback(%s)", (account_id,)) == []
        assert call(conn, "select epoch from public.mnemo_get_settings_with_epoch(%s)", (account_id,)) == [
            (1,)
        ]
        assert call(conn, "select public.mnemo_due_pending_writes('2026-11-01T13:00Z', 10)") == []
        with pytest.raises(psycopg.Error) as stale:
            conn.execute(
                "select public.mnemo_append_message_at_epoch(%s, %s, 0, 'user', 'stale', now())",
                (session_id, account_id),
            )
        assert stale.value.sqlstate == "MN001"
        refused = conn.execute(
            "select public.mnemo_add_pending_write_at_epoch(%s, 0, %s::jsonb, 'discord', 'D1', true, now())",
            (account_id, exchange),
        ).fetchall()
        assert refused == [(None,)]
        target = call(conn, "select public.mnemo_memory_write_target(%s, 1)", (account_id,))
        assert target == [({"account_id": str(account_id), "epoch": 1},)]
        listed = call(conn, "select public.mnemo_list_conversations('discord', '', 'D1', 0, 10)")
        assert listed[0][0]["total"] == 1
        assert [item["thread"] for item in listed[0][0]["items"]] == [""]
        read = call(conn, "select public.mnemo_conversation_messages('discord', '', 'D1', '', 0, 10)")
        assert read == [({"total": 0, "items": []},)]  # erased just above; the session remains
        assert call(conn, "select public.mnemo_delete_conversation('discord', '', 'D1', '')") == [(1,)]

        # Account linking: Slack's account takes over Discord's (epoch 1), then Web's.
        [(slack_id, *_)] = call(conn, "select * from public.mnemo_resolve_account('slack', 'T1', 'U1')")
        for code in ("hash-1", "hash-2"):
            call(
                conn,
                "select public.mnemo_add_link_code(%s, %s, '2026-11-01T12:00Z', '2026-11-01T12:10Z')",
                (slack_id, code),
            )
        found = call(conn, "select account_id, used_at from public.mnemo_find_link_code('hash-1')")
        assert found == [(slack_id, None)]
        call(conn, "select public.mnemo_record_link_failure('web', '', 'sub', '2026-11-01T12:00Z')")
        failures = call(
            conn, "select public.mnemo_count_link_failures('web', '', 'sub', '2026-11-01T11:00Z')"
        )
        assert failures == [(1,)]
        reserved = call(
            conn,
            "select public.mnemo_reserve_link_code('hash-1', %s, '2026-11-01T12:01Z', 120)",
            (account_id,),
        )
        assert reserved == [(True,)]
        merged = call(
            conn,
            "select public.mnemo_merge_accounts_reserved(%s, %s, 'hash-1', '2026-11-01T12:01Z')",
            (account_id, slack_id),
        )
        assert merged == [(True,)]
        followed = call(conn, "select public.mnemo_memory_write_target(%s, 1)", (account_id,))
        assert followed == [({"account_id": str(slack_id), "epoch": 0},)]
        [(web_id, *_)] = call(conn, "select * from public.mnemo_resolve_account('web', '', 'sub')")
        old_merge = call(
            conn,
            "select public.mnemo_merge_accounts(%s, %s, 'hash-2', '2026-11-01T12:02Z')",
            (web_id, slack_id),
        )  # older bots' name: merges without a reservation of their own
        assert old_merge == [(True,)]
        listed_ids = call(conn, "select platform from public.mnemo_list_identities(%s)", (slack_id,))
        assert sorted(listed_ids) == [("discord",), ("slack",), ("web",)]
        merges = conn.execute(
            "select source, target, source_epoch, target_epoch from mnemo.account_merges order by merged_at"
        ).fetchall()
        assert merges == [(account_id, slack_id, 1, 0), (web_id, slack_id, 0, 0)]
        [(fresh_id, *_)] = call(
            conn, "select * from public.mnemo_detach_identity('discord', '', '42', '2026-11-01T12:02Z')"
        )
        assert fresh_id not in (slack_id, account_id)

    with psycopg.connect(supabase_dsn) as conn:
        every = {
            row[0]
            for row in conn.execute(
                "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "where n.nspname = 'public' and p.proname like 'mnemo\\_%'"
            )
        }
    assert called == every
