"""The PostgREST shim answers in PostgREST's shapes, checked over raw HTTP and through supabase-py.

If the shim drifted from PostgREST, the Supabase store tests would prove nothing; these pin the
translation down on a database of small functions with known answers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from postgrest import APIError

from supabase import AsyncClient, AsyncClientOptions
from tests.fakes.postgrest import PostgrestShim, make_key, status_for
from tests.supabase import pg

FUNCTIONS = """
create type public.pair as (a integer, b text);
create function public.t_add(a integer, b integer default 5) returns integer
    language sql as $$ select a + b $$;
create function public.t_pair(a integer, b text) returns public.pair
    language sql as $$ select a, b $$;
create function public.t_series(n integer) returns table (i integer, label text)
    language sql as $$ select g, 'n' || g from generate_series(1, n) g $$;
create function public.t_void(x text) returns void language sql as $$ select $$;
create function public.t_now() returns timestamptz
    language sql as $$ select '2026-11-01T12:00:00Z'::timestamptz $$;
create function public.t_json(doc jsonb, flag boolean, at timestamptz) returns jsonb
    language sql
    as $$ select jsonb_build_object('doc', doc, 'flag', flag, 'epoch', extract(epoch from at)) $$;
create function public.t_unique() returns void language plpgsql as $$
    begin raise unique_violation using message = 'duplicate thing', detail = 'Key (k)=(1) exists.'; end $$;
create function public.t_raise() returns void language plpgsql as $$
    begin raise exception 'boom' using hint = 'try again'; end $$;
create function public.t_whoami() returns text language sql as $$ select current_user::text $$;
create function public.t_private() returns integer language sql as $$ select 1 $$;
revoke all on function public.t_private() from public, anon, authenticated;
"""


@pytest.fixture(scope="module")
def shim() -> Iterator[PostgrestShim]:
    name = pg.create_database()
    try:
        dsn = pg.database_dsn(name)
        pg.bootstrap(dsn)
        with psycopg.connect(dsn) as conn:
            conn.execute(FUNCTIONS)
        with PostgrestShim(dsn, jwt_secret=secrets.token_urlsafe(32), pool_size=2) as running:
            yield running
    finally:
        pg.drop_database(name)


def headers(shim: PostgrestShim, role: str = "service_role") -> dict[str, str]:
    key = shim.key(role)
    return {"apikey": key, "Authorization": f"Bearer {key}"}


def post(shim: PostgrestShim, fn: str, body: Any, *, hdrs: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{shim.url}/rest/v1/rpc/{fn}",
        json=body,
        headers=headers(shim) if hdrs is None else hdrs,
    )


@pytest.fixture
async def client(shim: PostgrestShim) -> AsyncIterator[AsyncClient]:
    http = httpx.AsyncClient(timeout=10)
    created = await AsyncClient.create(shim.url, shim.key(), AsyncClientOptions(httpx_client=http))
    try:
        yield created
    finally:
        await http.aclose()


def test_scalar_is_bare_json_and_defaults_may_be_omitted(shim: PostgrestShim) -> None:
    response = post(shim, "t_add", {"a": 2, "b": 3})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == 5
    assert post(shim, "t_add", {"a": 2}).json() == 7
    assert post(shim, "t_now", {}).json() == "2026-11-01T12:00:00+00:00"


def test_composite_is_an_object_setof_is_an_array_void_is_204(shim: PostgrestShim) -> None:
    assert post(shim, "t_pair", {"a": 1, "b": "x"}).json() == {"a": 1, "b": "x"}
    assert post(shim, "t_series", {"n": 2}).json() == [{"i": 1, "label": "n1"}, {"i": 2, "label": "n2"}]
    assert post(shim, "t_series", {"n": 0}).json() == []
    void = post(shim, "t_void", {"x": "y"})
    assert void.status_code == 204
    assert void.content == b""


def test_arguments_are_typed_from_the_catalog(shim: PostgrestShim) -> None:
    body = {"doc": {"k": [1, "two"]}, "flag": True, "at": "2026-11-01T13:00:00+01:00"}
    assert post(shim, "t_json", body).json() == {"doc": {"k": [1, "two"]}, "flag": True, "epoch": 1793534400}


def test_the_jwt_role_becomes_the_database_role(shim: PostgrestShim) -> None:
    assert post(shim, "t_whoami", {}).json() == "service_role"
    assert post(shim, "t_whoami", {}, hdrs=headers(shim, "anon")).json() == "anon"


@pytest.mark.parametrize(
    ("fn", "body", "status", "code"),
    [
        ("t_unique", {}, 409, "23505"),
        ("t_raise", {}, 400, "P0001"),
        ("t_add", {"a": "not a number"}, 400, "22P02"),
        ("t_nope", {}, 404, "PGRST202"),
        ("t_add", {"a": 1, "c": 2}, 404, "PGRST202"),
        ("t_add", {"b": 1}, 404, "PGRST202"),
        ("t_add", [1, 2], 400, "PGRST102"),
    ],
)
def test_errors_carry_sqlstate_and_postgrests_status(
    shim: PostgrestShim, fn: str, body: Any, status: int, code: str
) -> None:
    response = post(shim, fn, body)
    assert response.status_code == status
    error = response.json()
    assert set(error) == {"code", "message", "details", "hint"}
    assert error["code"] == code
    assert error["message"]


def test_error_fields_come_from_postgres(shim: PostgrestShim) -> None:
    error = post(shim, "t_unique", {}).json()
    assert error == {
        "code": "23505",
        "message": "duplicate thing",
        "details": "Key (k)=(1) exists.",
        "hint": None,
    }
    assert post(shim, "t_raise", {}).json()["hint"] == "try again"


def test_permission_denied_is_401_for_anon_and_403_for_others(shim: PostgrestShim) -> None:
    anon = post(shim, "t_private", {}, hdrs=headers(shim, "anon"))
    authenticated = post(shim, "t_private", {}, hdrs=headers(shim, "authenticated"))
    assert (anon.status_code, anon.json()["code"]) == (401, "42501")
    assert (authenticated.status_code, authenticated.json()["code"]) == (403, "42501")


def test_requests_need_an_apikey_and_a_valid_bearer_token(shim: PostgrestShim) -> None:
    key = shim.key()
    forged = make_key("not-the-project-secret-" * 2, "service_role")
    expired = jwt.encode({"role": "service_role", "exp": int(time.time()) - 10}, shim.jwt_secret, "HS256")
    cases = {
        "no headers": {},
        "no apikey": {"Authorization": f"Bearer {key}"},
        "no bearer": {"apikey": key},
        "forged apikey": {"apikey": forged, "Authorization": f"Bearer {forged}"},
        "forged bearer": {"apikey": key, "Authorization": f"Bearer {forged}"},
        "expired bearer": {"apikey": key, "Authorization": f"Bearer {expired}"},
    }
    calls_before = shim.calls["t_add"]
    for name, hdrs in cases.items():
        response = post(shim, "t_add", {"a": 1}, hdrs=hdrs)
        assert response.status_code == 401, name
        assert response.json()["message"], name
    assert shim.calls["t_add"] == calls_before + len(cases)


def test_status_table_matches_postgrest_docs() -> None:
    assert status_for("08006", role="x") == 503
    assert status_for("23503", role="x") == 409
    assert status_for("25006", role="x") == 405
    assert status_for("40001", role="x") == 500
    assert status_for("53400", role="x") == 500
    assert status_for("53100", role="x") == 503
    assert status_for("P0002", role="x") == 500
    assert status_for("PT418", role="x") == 418
    assert status_for("22023", role="x") == 400


async def test_supabase_py_reads_every_shape(client: AsyncClient) -> None:
    assert (await client.rpc("t_add", {"a": 1}).execute()).data == 6
    assert (await client.rpc("t_pair", {"a": 1, "b": "x"}).execute()).data == {"a": 1, "b": "x"}
    assert (await client.rpc("t_series", {"n": 1}).execute()).data == [{"i": 1, "label": "n1"}]
    assert (await client.rpc("t_void", {"x": "y"}).execute()).data == []


async def test_supabase_py_raises_api_error_with_the_sqlstate(client: AsyncClient) -> None:
    with pytest.raises(APIError) as caught:
        await client.rpc("t_unique", {}).execute()
    assert caught.value.code == "23505"
    assert caught.value.message == "duplicate thing"
    with pytest.raises(APIError) as missing:
        await client.rpc("t_nope", {}).execute()
    assert missing.value.code == "PGRST202"


def test_stop_closes_the_port_and_start_reuses_it(shim: PostgrestShim) -> None:
    port = shim.port
    shim.stop()
    with pytest.raises(httpx.ConnectError):
        post(shim, "t_add", {"a": 1})
    shim.start()
    assert shim.port == port
    assert post(shim, "t_add", {"a": 1}).json() == 6
