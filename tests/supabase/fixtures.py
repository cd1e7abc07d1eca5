"""Fixtures shared by the tests that need Supabase, imported by their conftests: the Store contract
(tests/core/storage/contract), the Supabase store's own tests (tests/core/storage/supabase), the
migrations' tests here, and the core, HTTP, jobs and Postgres-memory suites that also run on it.

One migrated database and one PostgREST shim per test run (session scope: creating a database
costs ~0.3 s); every test that uses them starts from empty tables.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.fakes.postgrest import PostgrestShim
from tests.supabase import pg


@pytest.fixture(scope="session")
def supabase_dsn() -> Iterator[str]:
    """A fresh database, bootstrapped like a Supabase project, with Mnemo's migrations applied."""
    name = pg.create_database()
    dsn = pg.database_dsn(name)
    try:
        pg.bootstrap(dsn)
        pg.apply_migrations(dsn)
        yield dsn
    finally:
        pg.drop_database(name)


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="session")
def shared_shim(supabase_dsn: str, jwt_secret: str) -> Iterator[PostgrestShim]:
    with PostgrestShim(supabase_dsn, jwt_secret=jwt_secret) as shim:
        yield shim


@pytest.fixture
def postgrest_shim(shared_shim: PostgrestShim, supabase_dsn: str) -> Iterator[PostgrestShim]:
    """The shared shim over empty tables. Tests that stop or slow it use `private_shim` instead."""
    pg.truncate_all(supabase_dsn)
    shared_shim.calls.clear()
    yield shared_shim
    shared_shim.delay_seconds = 0.0


@pytest.fixture
def private_shim(supabase_dsn: str, jwt_secret: str) -> Iterator[PostgrestShim]:
    """A shim of this test's own (same database, empty tables), free to stop, restart or slow down."""
    pg.truncate_all(supabase_dsn)
    shim = PostgrestShim(supabase_dsn, jwt_secret=jwt_secret, pool_size=2)
    with shim:
        yield shim
