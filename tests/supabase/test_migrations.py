"""The migrations, on a real PostgreSQL database: re-runnable, locked down, and every SQL function
called directly (the contract suite calls them again through supabase-py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors

from tests.supabase import pg


@pytest.fixture
def fresh_db() -> Iterator[str]:
    """A database of this test's own, bootstrapped like a Supabase project, no migrations yet."""
    name = pg.create_database()
    try:
        dsn = pg.database_dsn(name)
        pg.bootstrap(dsn)
        yield dsn
    finally:
        pg.drop_database(name)


def as_service_role(dsn: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("set role service_role")
    return conn


def test_migration_files_follow_the_supabase_cli_layout() -> None:
    files = pg.migration_files()
    assert files, "no migrations found"
    for path in files:
        version, _, name = path.stem.partition("_")
        assert len(version) == 14, path.name
        assert version.isdigit(), path.name
        assert name, path.name


def test_applying_the_migrations_twice_changes_nothing(fresh_db: str) -> None:
    pg.apply_migrations(fresh_db)
    first = pg.catalog_snapshot(fresh_db)
    pg.apply_migrations(fresh_db)
    second = pg.catalog_snapshot(fresh_db)

    assert second == first
    # The snapshot is not vacuous: it saw every table, function and the row-level security flags.
    assert {row[1] for row in first["relations"] if row[2] == "r"} == set(pg.MNEMO_TABLES)
    assert len([row for row in first["functions"] if row[1].startswith("mnemo_")]) >= 18


def test_reapplying_keeps_existing_data(fresh_db: str) -> None:
    pg.apply_migrations(fresh_db)
    with as_service_role(fresh_db) as conn:
        account = conn.execute("select id from public.mnemo_resolve_account('slack', 'T1', 'U1')").fetchone()
        assert account is not None
        conn.execute("select public.mnemo_claim_event('k1', now())")
        # An erasure moved the epoch; a merge left its record (both must survive a re-run).
        conn.execute("select public.mnemo_erase_account(%s)", account)
        (source,) = conn.execute(
            "select id from public.mnemo_resolve_account('web', '', 's')"
        ).fetchone() or (None,)
        conn.execute("select public.mnemo_add_link_code(%s, 'h', now(), now() + interval '1 hour')", account)
        conn.execute("select public.mnemo_reserve_link_code('h', %s, now(), 60)", (source,))
        conn.execute("select public.mnemo_merge_accounts_reserved(%s, %s, 'h', now())", (source, account[0]))
        # The bot writes mem0's vectors straight into this table (SUPABASE_DB_URL).
        conn.execute(
            "insert into mnemo.memory_vectors (collection, id, user_id, created_at, vector, payload) "
            "values ('mnemo', 'm1', %s, '2026-11-01T12:00:00', %s, '{\"data\": \"likes tea\"}')",
            (str(account[0]), b"\x00\x00\x80\x3f"),
        )
    before = pg.catalog_snapshot(fresh_db)["rows"]
    assert ("memory_vectors", 1) in before
    assert ("account_merges", 1) in before

    pg.apply_migrations(fresh_db)

    assert pg.catalog_snapshot(fresh_db)["rows"] == before
    with as_service_role(fresh_db) as conn:
        again = conn.execute(
            "select id, epoch from public.mnemo_resolve_account('slack', 'T1', 'U1')"
        ).fetchone()
    assert again == (account[0], 1)


def test_every_table_has_rls_and_no_policy_and_only_service_role_may_touch_it(supabase_dsn: str) -> None:
    with psycopg.connect(supabase_dsn) as conn:
        tables = conn.execute(
            "select c.relname, c.relrowsecurity "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'mnemo' and c.relkind = 'r' order by 1"
        ).fetchall()
        policies = conn.execute("select count(*) from pg_policies where schemaname = 'mnemo'").fetchone()
        privileges = conn.execute(
            "select r.rolname, c.relname, "
            "has_table_privilege(r.oid, c.oid, 'select, insert, update, delete') "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "cross join pg_roles r "
            "where n.nspname = 'mnemo' and c.relkind = 'r' "
            "and r.rolname in ('anon', 'authenticated', 'service_role')"
        ).fetchall()
        schema_usage = dict(
            conn.execute(
                "select rolname, has_schema_privilege(oid, 'mnemo', 'usage') from pg_roles "
                "where rolname in ('anon', 'authenticated', 'service_role')"
            ).fetchall()
        )

    assert {name for name, _ in tables} == set(pg.MNEMO_TABLES)
    assert all(rls for _, rls in tables)
    assert policies == (0,)
    for role, table, allowed in privileges:
        assert allowed == (role == "service_role"), (role, table)
    assert schema_usage == {"anon": False, "authenticated": False, "service_role": True}


def test_functions_pin_search_path_run_as_invoker_and_only_service_role_may_execute(
    supabase_dsn: str,
) -> None:
    with psycopg.connect(supabase_dsn) as conn:
        functions = conn.execute(
            "select p.proname, p.proconfig, p.prosecdef, "
            "has_function_privilege('anon', p.oid, 'execute'), "
            "has_function_privilege('authenticated', p.oid, 'execute'), "
            "has_function_privilege('service_role', p.oid, 'execute') "
            "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = 'public' and p.proname like 'mnemo\\_%'"
        ).fetchall()

    assert functions
    for name, config, security_definer, anon, authenticated, service_role in functions:
        assert config == ['search_path=""'], name
        assert security_definer is False, name
        assert (anon, authenticated, service_role) == (False, False, True), name


def test_anon_and_authenticated_cannot_call_or_read_anything(supabase_dsn: str) -> None:
    for role in ("anon", "authenticated"):
        with psycopg.connect(supabase_dsn, autocommit=True) as conn:
            conn.execute(f"set role {role}")
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("select public.mnemo_ping()")
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("select * from mnemo.messages")


def test_the_database_itself_enforces_the_invariants(postgrest_shim: object, supabase_dsn: str) -> None:
    with as_service_role(supabase_dsn) as conn:
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
    with as_service_role(supabase_dsn) as conn:
        assert call(conn, "select public.mnemo_ping()") == [(7,)]
        [(account_id, _, name, epoch)] = call(
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
        assert call(conn, "select public.mnemo_erase_account(%s)", (account_id,)) == [(3,)]
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
