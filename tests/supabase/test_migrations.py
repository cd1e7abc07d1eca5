"""The migrations, on a real PostgreSQL database: re-runnable, upgradable from the previous version,
and locked down (RLS everywhere, only service_role). Every function called: test_sql_functions.py."""

from __future__ import annotations

import json
from collections.abc import Iterator

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
    with pg.as_service_role(fresh_db) as conn:
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
            "insert into mnemo.memory_vectors (collection, id, user_id, created_at, vector) "
            "values ('mnemo', 'm1', %s, '2026-11-01T12:00:00', '[1]')",
            (str(account[0]),),
        )
        conn.execute(
            "insert into mnemo.memory_texts (collection, id, user_id, created_at, payload) "
            "values ('mnemo', 'm1', %s, '2026-11-01T12:00:00', '{\"data\": \"likes tea\"}')",
            (str(account[0]),),
        )
    before = pg.catalog_snapshot(fresh_db)["rows"]
    assert ("memory_vectors", 1) in before
    assert ("memory_texts", 1) in before
    assert ("account_merges", 1) in before

    pg.apply_migrations(fresh_db)

    assert pg.catalog_snapshot(fresh_db)["rows"] == before
    with pg.as_service_role(fresh_db) as conn:
        again = conn.execute(
            "select id, epoch from public.mnemo_resolve_account('slack', 'T1', 'U1')"
        ).fetchone()
    assert again == (account[0], 1)


def test_upgrading_to_erasure_epochs_keeps_data_and_older_bots_keep_working(fresh_db: str) -> None:
    files = pg.migration_files()
    at = next(i for i, path in enumerate(files) if path.name.endswith("_mnemo_erasure_epochs.sql"))
    earlier, epochs = files[:at], files[at]
    for path in earlier:
        pg.run_sql_file(fresh_db, path)
    exchange = json.dumps([{"role": "user", "content": "one"}])
    with pg.as_service_role(fresh_db) as conn:
        assert conn.execute("select public.mnemo_ping()").fetchone() == (6,)
        (account_id,) = conn.execute(
            "select id from public.mnemo_resolve_account('slack', 'T1', 'U1')"
        ).fetchone() or (None,)
        (write_id,) = conn.execute(
            "select public.mnemo_add_pending_write(%s, %s::jsonb, 'slack', 'C1', false, now())",
            (account_id, exchange),
        ).fetchone() or (None,)
        conn.execute(
            "select public.mnemo_add_link_code(%s, 'h', now(), now() + interval '10 minutes')", (account_id,)
        )

    pg.run_sql_file(fresh_db, epochs)

    with pg.as_service_role(fresh_db) as conn:
        assert conn.execute("select public.mnemo_ping()").fetchone() == (7,)
        assert conn.execute(
            "select epoch from public.mnemo_resolve_account('slack', 'T1', 'U1')"
        ).fetchone() == (0,)
        due = conn.execute("select id, epoch from public.mnemo_due_pending_writes(now(), 10)").fetchall()
        assert due == [(write_id, 0)]
        target = conn.execute("select public.mnemo_memory_write_target(%s, 0)", (account_id,)).fetchone()
        assert target == ({"account_id": str(account_id), "epoch": 0},)

        # An older bot after a newer one erased the account: its pending write takes the new epoch,
        # so the newer bots' retry job does not drop it as begun before the erasure.
        conn.execute("select public.mnemo_erase_account(%s)", (account_id,))
        (old_write,) = conn.execute(
            "select public.mnemo_add_pending_write(%s, %s::jsonb, 'slack', 'C1', false, now())",
            (account_id, exchange),
        ).fetchone() or (None,)
        assert conn.execute(
            "select epoch from mnemo.pending_memory_writes where id = %s", (old_write,)
        ).fetchone() == (1,)

        # An older bot's merge cannot take a code a newer bot's redemption has reserved.
        (holder,) = conn.execute(
            "select id from public.mnemo_resolve_account('web', '', 'a')"
        ).fetchone() or (None,)
        (other,) = conn.execute("select id from public.mnemo_resolve_account('web', '', 'b')").fetchone() or (
            None,
        )
        assert conn.execute(
            "select public.mnemo_reserve_link_code('h', %s, now(), 120)", (holder,)
        ).fetchone() == (True,)
        assert conn.execute(
            "select public.mnemo_merge_accounts(%s, %s, 'h', now())", (other, account_id)
        ).fetchone() == (False,)
        assert conn.execute(
            "select public.mnemo_merge_accounts_reserved(%s, %s, 'h', now())", (holder, account_id)
        ).fetchone() == (True,)


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
