"""One `mnemo_vec_*` database for this directory's run (dropped at the end); the table is emptied
before each test that uses it. Tests that need a database of their own call `fresh_database`
(tests/core/conftest.py, with the Supabase fixtures)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core.memory import pgdb


@pytest.fixture(scope="session")
def vector_db() -> Iterator[str]:
    name = pgdb.create_database()
    try:
        yield name
    finally:
        pgdb.drop_database(name)


@pytest.fixture
def vec_db(vector_db: str) -> str:
    """The shared database, with an empty (or not yet created) vector table."""
    pgdb.truncate(vector_db)
    return vector_db
