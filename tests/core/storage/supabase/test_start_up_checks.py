"""The Supabase store's start-up checks: a wrong URL, key or schema stops the bot with one clear
line (never the key), before it answers anyone."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from config import ConfigError
from core.storage.supabase import SCHEMA_VERSION, SupabaseStore
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.postgrest import PostgrestShim, make_key
from tests.supabase import pg


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_one_clear_line(error: ConfigError, *must_contain: str, secret: str | None = None) -> None:
    text = str(error)
    assert "\n" not in text
    for part in must_contain:
        assert part in text, text
    if secret is not None:
        assert secret not in text


async def test_a_wrong_key_fails_at_start_up(postgrest_shim: PostgrestShim) -> None:
    wrong = make_key("some-other-projects-secret-0123456789", "service_role")
    with pytest.raises(ConfigError) as caught:
        await SupabaseStore.connect(url=postgrest_shim.url, key=wrong)
    assert_one_clear_line(
        caught.value, "SUPABASE_SERVICE_ROLE_KEY was rejected", "HTTP 401: Invalid API key", secret=wrong
    )


@pytest.mark.parametrize(
    ("key_of", "expected"),
    [
        ("anon", "'anon' role"),
        ("authenticated", "'authenticated' role"),
        ("publishable", "publishable key"),
    ],
)
async def test_a_non_service_role_key_is_refused_before_any_request(
    postgrest_shim: PostgrestShim, key_of: str, expected: str
) -> None:
    key = "sb_publishable_abc123" if key_of == "publishable" else postgrest_shim.key(key_of)
    with pytest.raises(ConfigError) as caught:
        await SupabaseStore.connect(url=postgrest_shim.url, key=key)
    assert_one_clear_line(caught.value, expected, secret=key)
    assert sum(postgrest_shim.calls.values()) == 0


async def test_an_unreachable_url_fails_at_start_up() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConfigError) as caught:
        await SupabaseStore.connect(url=url, key=make_key("x" * 32, "service_role"))
    assert_one_clear_line(caught.value, f"cannot reach SUPABASE_URL {url}", "ConnectError")


async def test_a_url_that_is_not_supabase_fails_at_start_up(fake_openai: FakeOpenAI) -> None:
    url = fake_openai.base_url.removesuffix("/v1")
    with pytest.raises(ConfigError) as caught:
        await SupabaseStore.connect(url=url, key=make_key("x" * 32, "service_role"))
    assert_one_clear_line(
        caught.value, f"SUPABASE_URL {url} did not answer like a Supabase project (HTTP 404)"
    )


async def test_missing_migrations_fail_at_start_up_with_the_fix(jwt_secret: str) -> None:
    name = pg.create_database()
    try:
        dsn = pg.database_dsn(name)
        pg.bootstrap(dsn)
        with (
            PostgrestShim(dsn, jwt_secret=jwt_secret, pool_size=1) as shim,
            pytest.raises(ConfigError) as caught,
        ):
            await SupabaseStore.connect(url=shim.url, key=shim.key())
    finally:
        pg.drop_database(name)
    assert_one_clear_line(caught.value, "apply supabase/migrations")


async def test_open_reads_url_and_key_from_settings(
    tmp_path: Path, fake_openai: FakeOpenAI, postgrest_shim: PostgrestShim
) -> None:
    settings = make_settings(
        tmp_path,
        fake_openai,
        supabase_url=postgrest_shim.url + "/",
        supabase_service_role_key=postgrest_shim.key(),
    )
    store = await SupabaseStore.open(settings)
    try:
        await store.ping()
    finally:
        await store.close()
    assert postgrest_shim.calls["mnemo_ping"] == 2
    with pytest.raises(ConfigError, match="SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY"):
        await SupabaseStore.open(make_settings(tmp_path, fake_openai))


@pytest.mark.parametrize(
    ("applied", "version"),
    [
        pytest.param(1, 1, id="only-the-first-migration"),
        # Everything but the erasure-epoch migration: a project that updated the bot, not the database.
        pytest.param(-1, SCHEMA_VERSION - 1, id="one-migration-behind"),
    ],
)
async def test_an_older_schema_fails_at_start_up_with_the_fix(
    jwt_secret: str, applied: int, version: int
) -> None:
    name = pg.create_database()
    try:
        dsn = pg.database_dsn(name)
        pg.bootstrap(dsn)
        for path in pg.migration_files()[:applied]:  # a project that missed the later migrations
            pg.run_sql_file(dsn, path)
        with (
            PostgrestShim(dsn, jwt_secret=jwt_secret, pool_size=1) as shim,
            pytest.raises(ConfigError) as caught,
        ):
            await SupabaseStore.connect(url=shim.url, key=shim.key())
    finally:
        pg.drop_database(name)
    assert_one_clear_line(
        caught.value, f"is version {version}, this Mnemo needs {SCHEMA_VERSION}", "apply supabase/migrations"
    )
