"""The core's tests run on the embedded store by default; the erasure race suite also runs on
Supabase (through the loopback PostgREST shim) with the memory vectors in the same Postgres.
`fresh_database`: a throwaway `mnemo_vec_*` database on the pgvector server, for a test whose
indexes or tables must not be seen by another test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core.memory import pgdb
from tests.supabase.fixtures import jwt_secret, postgrest_shim, shared_shim, supabase_dsn


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = pgdb.create_database()
    try:
        yield name
    finally:
        pgdb.drop_database(name)


__all__ = ["fresh_database", "jwt_secret", "postgrest_shim", "shared_shim", "supabase_dsn"]
