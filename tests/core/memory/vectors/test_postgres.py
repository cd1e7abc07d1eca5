"""What only the PostgreSQL vector store has: its table (created or upgraded if needed, private, the
same as the migrations'), start-up errors in one line without the password, recall and keyword
search ranked in the database, erasure that is immediate and leaves the table's files at the
scheduled purge, and connections that come back after the server drops them."""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest

from config import ConfigError
from core.memory.vectors.postgres import PostgresVectorStore
from core.memory.vectors.postgres_purge import VectorPurge
from tests.core.memory import pgdb
from tests.core.memory.pgdb import PASSWORD, free_port
from tests.fakes.openai_server import embed_text
from tests.supabase import pg

DIMS = 16
MIGRATION = next(p for p in pg.migration_files() if p.name.endswith("_mnemo_memory_vectors.sql"))
PGVECTOR_MIGRATION = next(
    p for p in pg.migration_files() if p.name.endswith("_mnemo_memory_vectors_pgvector.sql")
)
TEXTS_MIGRATION = next(p for p in pg.migration_files() if p.name.endswith("_mnemo_memory_texts.sql"))


def migrate(name: str) -> None:
    """The tables as `supabase db push` makes them: the first layout, the pgvector upgrade, then
    the words apart from the vectors (and the HNSW index)."""
    pg.run_sql_file(pgdb.dsn(name), MIGRATION)
    pg.run_sql_file(pgdb.dsn(name), PGVECTOR_MIGRATION)
    pg.run_sql_file(pgdb.dsn(name), TEXTS_MIGRATION)


def open_store(
    name: str, *, collection: str = "mnemo", dims: int = DIMS, **query: str
) -> PostgresVectorStore:
    return PostgresVectorStore(
        collection_name=collection, url=pgdb.url(name, **query), embedding_model_dims=dims
    )


def add(store: PostgresVectorStore, user: str, text: str, *, created: str = "2026-11-01T12:00:00") -> str:
    vid = str(uuid.uuid4())
    store.insert(
        [embed_text(text, store.embedding_model_dims)],
        payloads=[{"user_id": user, "data": text, "created_at": created}],
        ids=[vid],
    )
    return vid


_CATALOG = {
    "columns": """
        select a.attrelid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               coll.collname, a.attstorage
          from pg_attribute a left join pg_collation coll on coll.oid = a.attcollation
         where a.attrelid = any(%s::regclass[]) and a.attnum > 0 and not a.attisdropped
         order by 1, a.attnum""",
    "constraints": """
        select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint
         where conrelid = any(%s::regclass[]) order by 1, 2""",
    "indexes": """
        select pg_get_indexdef(indexrelid) from pg_index
         where indrelid = any(%s::regclass[]) order by 1""",
    "security": """
        select c.relname, c.relrowsecurity, c.relacl::text[], n.nspacl::text[],
               (select count(*) from pg_policies where schemaname = 'mnemo')
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.oid = any(%s::regclass[]) order by 1""",
}
TABLES = ["mnemo.memory_vectors", "mnemo.memory_texts"]


def catalog(name: str) -> dict[str, list[tuple[Any, ...]]]:
    return {key: pgdb.query(name, sql, (TABLES,)) for key, sql in _CATALOG.items()}


def test_the_store_creates_the_same_private_table_as_the_migration(fresh_database: str) -> None:
    other = pgdb.create_database()
    try:
        # Both start as a Supabase project does (its roles and default grants), one gets the migration
        # file alone (it stands on its own), the other only the bot.
        pg.bootstrap(pgdb.dsn(fresh_database))
        pg.bootstrap(pgdb.dsn(other))
        migrate(fresh_database)
        # The migration's HNSW index is for 1536 dimensions (EMBEDDING_DIMS' default); the bot makes
        # the one for its own size.
        open_store(other, dims=1536).close()

        migrated, created = catalog(fresh_database), catalog(other)
    finally:
        pgdb.drop_database(other)

    assert created == migrated
    for _, rls, table_acl, _, policies in created["security"]:
        assert rls is True
        assert policies == 0
        grantees = {entry.split("=", 1)[0] for entry in table_acl}
        assert grantees == {"postgres", "service_role"}  # the owner and the bot's API role; no anon
    columns = [(c[0], c[1]) for c in created["columns"]]
    key = ["collection", "id", "user_id", "created_at"]
    assert columns == [("mnemo.memory_texts", c) for c in [*key, "payload", "tsv"]] + [
        ("mnemo.memory_vectors", c) for c in [*key, "vector"]
    ]
    indexes = [idx[0] for idx in created["indexes"]]
    assert sum("(collection, user_id, created_at)" in idx for idx in indexes) == 2
    assert any("memory_texts USING gin (tsv)" in idx for idx in indexes)
    assert any(
        "memory_vectors_hnsw_1536 ON mnemo.memory_vectors USING hnsw" in idx and "vector_cosine_ops" in idx
        for idx in indexes
    )
    constraints = [c[:2] for c in created["constraints"]]
    assert ("mnemo.memory_texts", "memory_texts_collection_id_fkey") in constraints


def test_on_a_plain_postgres_without_supabase_roles_the_table_is_created_too(fresh_database: str) -> None:
    store = open_store(fresh_database)
    try:
        add(store, "alice", "alice likes tea")
        assert pgdb.query(fresh_database, "select count(*) from mnemo.memory_vectors") == [(1,)]
        assert pgdb.query(
            fresh_database, "select relrowsecurity from pg_class where oid = 'mnemo.memory_vectors'::regclass"
        ) == [(True,)]
    finally:
        store.close()


def test_many_processes_starting_at_once_create_the_table_once(fresh_database: str) -> None:
    # Different application names: separate pools, so each thread really runs the start-up check.
    errors: list[BaseException] = []
    stores: list[PostgresVectorStore] = []
    barrier = threading.Barrier(6)

    def start(n: int) -> None:
        barrier.wait()
        try:
            stores.append(open_store(fresh_database, application_name=f"machine{n}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for store in stores:
        store.close()

    assert errors == []
    assert len(stores) == 6
    assert pgdb.query(
        fresh_database,
        "select count(*) from pg_class where relname = 'memory_vectors' and relkind = 'r'",
    ) == [(1,)]


@pytest.mark.parametrize(
    ("make_url", "expected"),
    [
        (
            lambda db: f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/{db}",
            "SUPABASE_DB_URL: cannot use the database at 127.0.0.1:",
        ),
        (
            lambda db: f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/mnemo_vec_missing_{db[-6:]}",
            "SUPABASE_DB_URL: cannot use the database at 127.0.0.1:5432/mnemo_vec_missing_",
        ),
        (
            lambda db: f"postgres ql://postgres:{PASSWORD}@127.0.0.1/{db}",
            "SUPABASE_DB_URL is not a valid Postgres connection string",
        ),
        (
            lambda db: f"postgresql://postgres:{PASSWORD}%zz@127.0.0.1/{db}",
            "SUPABASE_DB_URL is not a valid Postgres connection string",
        ),
        (
            lambda db: f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/{db}?sslmode=bogus{PASSWORD}",
            "SUPABASE_DB_URL: cannot use the database at 127.0.0.1:5432/",
        ),
    ],
    ids=["nothing listening", "no such database", "not a URL", "bad escape", "bad option"],
)
def test_a_bad_or_unreachable_url_is_one_line_without_the_password(
    vector_db: str, make_url: Any, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        PostgresVectorStore(collection_name="mnemo", url=make_url(vector_db), embedding_model_dims=DIMS)
    text = str(caught.value)
    assert text.startswith(expected), text
    assert "\n" not in text
    assert PASSWORD not in text
    assert caught.value.__cause__ is None  # no chained exception repeating libpq's text


def test_a_table_of_that_name_with_other_columns_is_a_clear_error(fresh_database: str) -> None:
    pgdb.query(fresh_database, "create schema mnemo; create table mnemo.memory_vectors (id int, text text)")
    with pytest.raises(ConfigError, match=r"memory_vectors at .* has other columns than Mnemo's"):
        open_store(fresh_database)


def test_a_role_that_may_not_create_the_table_is_told_to_apply_the_migrations(fresh_database: str) -> None:
    pg.bootstrap(pgdb.dsn(fresh_database))
    with pytest.raises(ConfigError, match=r"does not exist .* apply supabase/migrations"):
        open_store(fresh_database, options="-c role=service_role")


def test_a_role_that_does_not_own_the_table_works_and_is_warned_that_erasure_cannot_rewrite(
    fresh_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    pg.bootstrap(pgdb.dsn(fresh_database))
    migrate(fresh_database)
    with caplog.at_level(logging.WARNING, logger="core.memory.vectors.postgres_schema"):
        store = open_store(fresh_database, options="-c role=service_role")
    try:
        assert any("does not own mnemo.memory_texts" in r.getMessage() for r in caplog.records)
        add(store, "alice", "alice likes tea")
        assert store.erase_user("alice") == 1  # rows go at once
        assert store.list(filters={"user_id": "alice"})[0] == []
        with caplog.at_level(logging.WARNING, logger="core.memory.vectors.postgres_purge"):
            assert VectorPurge(pgdb.url(fresh_database, options="-c role=service_role")).run() is False
        assert any("cannot be rewritten" in r.getMessage() for r in caplog.records)
    finally:
        store.close()


def test_nul_characters_in_ids_are_refused_and_match_nothing(vec_db: str) -> None:
    store = open_store(vec_db)
    try:
        with pytest.raises(ValueError, match="NUL"):
            store.insert(
                [embed_text("a", DIMS), embed_text("b", DIMS)],
                payloads=[{"user_id": "alice"}, {"user_id": "ali\x00ce"}],
                ids=["ok", "bad"],
            )
        with pytest.raises(ValueError, match="NUL"):
            store.insert([embed_text("a", DIMS)], payloads=[{"user_id": "alice"}], ids=["b\x00d"])
        assert store.col_info()["count"] == 0  # the good row of the batch was not written either
        assert store.search("q", embed_text("a", DIMS), top_k=3, filters={"user_id": "a\x00"}) == []
        assert store.list(filters={"user_id": "a\x00"}) == [[]]
        assert store.get("x\x00") is None
    finally:
        store.close()


def test_vectors_of_another_size_are_left_out_of_scoring(vec_db: str) -> None:
    old = open_store(vec_db, dims=DIMS)
    add(old, "alice", "written before EMBEDDING_DIMS changed")
    old.close()
    new = open_store(vec_db, dims=8)
    try:
        add(new, "alice", "written after")
        found = new.search("q", embed_text("written", 8), top_k=5, filters={"user_id": "alice"})
        assert [r.payload["data"] for r in found] == ["written after"]
        assert len(new.list(filters={"user_id": "alice"})[0]) == 2  # still listed, still erasable
        assert new.erase_user("alice") == 2
    finally:
        new.close()


def _kill_connections(name: str, application_name: str) -> int:
    rows = pgdb.query(
        "postgres",  # pg_stat_activity is server-wide; the database itself may refuse connections
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and application_name = %s",
        (name, application_name),
    )
    return len(rows)


def test_a_connection_the_server_dropped_is_replaced_without_an_error(vec_db: str) -> None:
    app = "mnemo-drop-" + secrets.token_hex(3)
    store = open_store(vec_db, application_name=app)
    try:
        add(store, "alice", "alice likes tea")
        assert _kill_connections(vec_db, app) >= 1  # a restart, a failover, a pooler's idle timeout

        found = store.search("q", embed_text("tea", DIMS), top_k=1, filters={"user_id": "alice"})

        assert [r.payload["data"] for r in found] == ["alice likes tea"]
    finally:
        store.close()


def test_while_the_database_refuses_connections_calls_fail_then_recover(vec_db: str) -> None:
    app = "mnemo-outage-" + secrets.token_hex(3)
    store = open_store(vec_db, application_name=app)
    try:
        add(store, "alice", "alice likes tea")
        pgdb.query("postgres", f'alter database "{vec_db}" allow_connections false')
        try:
            _kill_connections(vec_db, app)
            with pytest.raises(psycopg.OperationalError):
                store.search("q", embed_text("tea", DIMS), top_k=1, filters={"user_id": "alice"})
            with pytest.raises(psycopg.OperationalError):
                add(store, "alice", "written during the outage")
        finally:
            pgdb.query("postgres", f'alter database "{vec_db}" allow_connections true')

        found = store.search("q", embed_text("tea", DIMS), top_k=5, filters={"user_id": "alice"})
        assert [r.payload["data"] for r in found] == ["alice likes tea"]
    finally:
        store.close()


def test_memory_and_entity_stores_share_one_small_pool(vec_db: str) -> None:
    app = "mnemo-pool-" + secrets.token_hex(3)
    memories = open_store(vec_db, application_name=app)
    entities = open_store(vec_db, collection="mnemo_entities", application_name=app)
    try:
        add(memories, "alice", "a memory")
        add(entities, "alice", "an entity")
        assert _connections(vec_db, app) == 1
        entities.close()
        assert memories.get(memories.list(filters={"user_id": "alice"})[0][0].id) is not None
    finally:
        memories.close()
    # The last store closed the pool; the server notices the closed connection a moment later.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _connections(vec_db, app) != 0:
        time.sleep(0.05)
    assert _connections(vec_db, app) == 0


def _connections(name: str, app: str) -> int:
    rows = pgdb.query(name, "select count(*) from pg_stat_activity where application_name = %s", (app,))
    return int(rows[0][0])


def test_a_closed_store_refuses_work(vec_db: str) -> None:
    store = open_store(vec_db)
    store.close()
    store.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        store.list(filters={"user_id": "alice"})
