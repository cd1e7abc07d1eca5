"""The HTTP API on the Supabase store (supabase-py -> the loopback PostgREST shim -> real PostgreSQL
with the migrations): sessions work the same, the project issuer is enforced, and a store outage is
a 503 in our error shape (an `error` event when a stream is already open), then recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.adapters.http.conftest import BOB, Api, api_settings, open_api
from tests.adapters.http.test_streaming import STREAM, parse_events
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.postgrest import PostgrestShim
from tests.supabase.fixtures import private_shim, supabase_dsn

__all__ = ["private_shim", "supabase_dsn"]


@pytest.fixture
async def sb_api(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str, private_shim: PostgrestShim
) -> AsyncIterator[tuple[Api, PostgrestShim]]:
    settings = api_settings(
        tmp_path,
        fake_openai,
        jwt_secret,
        supabase_url=private_shim.url,
        supabase_service_role_key=private_shim.key(),
    )
    async with open_api(settings, jwt_secret) as api:
        yield api, private_shim


def issued(api: Api, sub: str | None = None) -> dict[str, str]:
    """Tokens from this project: SUPABASE_URL is set, so the issuer is checked."""
    issuer = f"{api.settings.supabase_url}/auth/v1"
    return api.auth(sub, issuer=issuer) if sub else api.auth(issuer=issuer)


async def test_sessions_over_supabase(sb_api: tuple[Api, PostgrestShim]) -> None:
    api, _ = sb_api
    chat = await api.client.post("/v1/chat", json={"message": "hello from the web"}, headers=issued(api))
    assert chat.status_code == 200, chat.text
    session_id = chat.json()["session_id"]
    await api.client.post(
        "/v1/chat", json={"message": "second", "session_id": session_id}, headers=issued(api)
    )

    listed = (await api.client.get("/v1/sessions", headers=issued(api))).json()
    messages = (await api.client.get(f"/v1/sessions/{session_id}/messages", headers=issued(api))).json()
    bobs_read = await api.client.get(f"/v1/sessions/{session_id}/messages", headers=issued(api, BOB))
    bobs_delete = await api.client.delete(f"/v1/sessions/{session_id}", headers=issued(api, BOB))
    no_issuer = await api.client.get("/v1/sessions", headers=api.auth())
    deleted = await api.client.delete(f"/v1/sessions/{session_id}", headers=issued(api))
    after = (await api.client.get("/v1/sessions", headers=issued(api))).json()

    assert [s["id"] for s in listed["items"]] == [session_id]
    assert listed["items"][0]["message_count"] == 4
    assert listed["items"][0]["preview"] == "hello from the web"
    assert [m["role"] for m in messages["items"]] == ["user", "assistant", "user", "assistant"]
    assert bobs_read.status_code == 404
    assert bobs_delete.status_code == 404
    assert no_issuer.status_code == 401
    assert deleted.status_code == 204
    assert after["total"] == 0


async def test_a_store_outage_is_a_503_then_recovers(sb_api: tuple[Api, PostgrestShim]) -> None:
    api, shim = sb_api
    session_id = (await api.client.post("/v1/chat", json={"message": "hi"}, headers=issued(api))).json()[
        "session_id"
    ]
    shim.stop()
    try:
        chat = await api.client.post("/v1/chat", json={"message": "anyone?"}, headers=issued(api))
        continued = await api.client.post(
            "/v1/chat", json={"message": "anyone?", "session_id": session_id}, headers=issued(api)
        )
        listing = await api.client.get("/v1/sessions", headers=issued(api))
        me = await api.client.get("/v1/auth/me", headers=issued(api))
        stream = await api.client.post(
            "/v1/chat", json={"message": "streamed"}, headers={**issued(api), **STREAM}
        )
    finally:
        shim.start()
    recovered = await api.client.post(
        "/v1/chat", json={"message": "back?", "session_id": session_id}, headers=issued(api)
    )

    for response in (chat, continued, listing, me):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "service_unavailable"
        assert "127.0.0.1" not in response.text  # no backend detail leaks
    assert parse_events(stream.text)[-1][0] == "error"
    assert parse_events(stream.text)[-1][1]["error"]["code"] == "service_unavailable"
    assert recovered.status_code == 200
    assert recovered.json()["kind"] == "answer"
