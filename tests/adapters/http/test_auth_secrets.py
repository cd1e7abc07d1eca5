"""What an attacker (or a careless log reader) must never get from the sign-in endpoints: a
password or token in a log line, in a file under DATA_DIR, or echoed in an error; and what bad
bodies get instead (the API's body cap, its error shape, nothing sent to Supabase Auth)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.adapters.http.conftest import (
    ANON_KEY,
    EMAIL,
    PASSWORD,
    Api,
    api_settings,
    bearer,
    error_code,
    log_in,
    open_api,
    refresh,
    sign_up,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.supabase_auth import FakeGoTrue

WRONG = "wrong-Pa55word-\u00e9\u4e2d"  # non-ASCII too: its JSON-escaped form is checked as well


def forms(secret: str) -> list[bytes]:
    """The ways a secret could be written down: as is, and JSON-escaped."""
    return [secret.encode(), json.dumps(secret).strip('"').encode()]


def files_under(directory: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in directory.rglob("*") if path.is_file()}


async def test_passwords_and_tokens_are_in_no_log_line_and_no_file(
    auth_api: Api, gotrue: FakeGoTrue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await sign_up(auth_api)
    await log_in(auth_api, password=WRONG)
    await log_in(auth_api, email="nobody@example.com", password=WRONG)
    logged_in = await log_in(auth_api)
    renewed = await refresh(auth_api, logged_in.json()["refresh_token"])
    await refresh(auth_api, logged_in.json()["refresh_token"])  # refused: used
    chat = await auth_api.client.post(
        "/v1/chat", json={"message": "Hello, I like tea."}, headers=bearer(renewed)
    )
    await auth_api.client.post("/v1/auth/login", json={"email": EMAIL, "password": WRONG, "extra": 1})
    gotrue.fail(500, endpoint="password", body=json.dumps({"message": WRONG}).encode())
    await log_in(auth_api, password=WRONG)  # Supabase Auth's error quotes it; nobody repeats it
    await auth_api.client.post("/v1/auth/logout", headers=bearer(renewed))
    await auth_api.core.writer.drain(timeout=10)

    secrets = [
        PASSWORD,
        WRONG,
        ANON_KEY,
        *(s.json()[key] for s in (created, logged_in, renewed) for key in ("access_token", "refresh_token")),
    ]
    log_text = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    stored = files_under(Path(auth_api.settings.data_dir))

    assert chat.status_code == 200, chat.text
    assert "/auth/v1/token" in log_text  # the calls to Supabase Auth were logged (at DEBUG and up)
    assert any(path.name == "mnemo.db" for path in stored)  # the account and the chat were stored
    for secret in secrets:
        for form in forms(secret):
            assert form.decode() not in log_text, secret[:8]
            for path, content in stored.items():
                assert form not in content, (secret[:8], path)
    assert gotrue.received(PASSWORD)  # the only place it went


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"email": EMAIL, "password": "\u00e9" * 37}, id="over-72-bytes"),
        pytest.param({"email": EMAIL, "password": "x" * 73}, id="over-72-characters"),
        pytest.param({"email": EMAIL, "password": "Sh0rt"}, id="too-short"),
        pytest.param(
            {"email": EMAIL, "password": "correct horse", "pasword": "correct horse"}, id="unknown-field"
        ),
        pytest.param({"email": "correct horse", "password": "correct horse"}, id="password-as-email"),
        pytest.param({"email": EMAIL, "password": ["correct horse"]}, id="wrong-type"),
        pytest.param({"password": "correct horse"}, id="no-email"),
    ],
)
async def test_a_refused_body_never_echoes_the_password(
    auth_api: Api, gotrue: FakeGoTrue, body: dict[str, object]
) -> None:
    response = await auth_api.client.post("/v1/auth/signup", json=body)

    assert response.status_code == 422, response.text
    assert error_code(response) in ("validation_error", "invalid_email")
    password = body["password"]
    secret = password[0] if isinstance(password, list) else str(password)
    for form in forms(secret):
        assert form not in response.content
    assert gotrue.calls("signup") == 0


async def test_a_lone_surrogate_is_refused_not_a_crash(auth_api: Api, gotrue: FakeGoTrue) -> None:
    # Valid JSON, but not text that can be sent on as UTF-8.
    for path, raw in [
        ("/v1/auth/login", b'{"email": "alice@example.com", "password": "pass\\ud800word"}'),
        ("/v1/auth/login", b'{"email": "al\\udfffice@example.com", "password": "password"}'),
        ("/v1/auth/refresh", b'{"refresh_token": "tok\\ud800en"}'),
    ]:
        response = await auth_api.client.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, (path, response.text)
    assert gotrue.calls("password") + gotrue.calls("refresh_token") == 0


async def test_huge_and_malformed_bodies_never_reach_supabase_auth(auth_api: Api, gotrue: FakeGoTrue) -> None:
    huge = json.dumps({"email": EMAIL, "password": "p" * 300_000}).encode()
    too_large = await auth_api.client.post(
        "/v1/auth/login", content=huge, headers={"Content-Type": "application/json"}
    )
    not_json = await auth_api.client.post(
        "/v1/auth/login",
        content=b"email=a@b.c&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    broken = await auth_api.client.post(
        "/v1/auth/login",
        content=b'{"email": "a@b.c", "password": ',
        headers={"Content-Type": "application/json"},
    )
    huge_refresh = await auth_api.client.post("/v1/auth/refresh", json={"refresh_token": "t" * 513})

    assert too_large.status_code == 413
    assert error_code(too_large) == "payload_too_large"
    assert not_json.status_code == 415
    assert broken.status_code == 422
    assert huge_refresh.status_code == 422
    assert sum(gotrue.calls(e) for e in ("signup", "password", "refresh_token", "logout")) == 0


async def test_a_wrong_anon_key_is_503_and_logged_without_the_key(
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    jwt_secret: str,
    gotrue: FakeGoTrue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong_key = "sb_publishable_" + "w" * 32
    settings = api_settings(
        tmp_path, fake_openai, jwt_secret, supabase_url=gotrue.url, supabase_anon_key=wrong_key
    )
    caplog.set_level(logging.DEBUG)
    async with open_api(settings, jwt_secret) as api:
        response = await sign_up(api)

    assert response.status_code == 503
    assert error_code(response) == "auth_unavailable"
    assert "SUPABASE_ANON_KEY" in caplog.text  # the operator learns which setting to check
    assert wrong_key not in caplog.text
    assert gotrue.calls("signup") == 1
