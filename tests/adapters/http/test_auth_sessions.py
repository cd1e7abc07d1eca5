"""POST /v1/auth/signup, /login, /refresh and /logout against a fake Supabase Auth on loopback
(tests/fakes/supabase_auth.py): each endpoint's success and each of its errors, the tokens it
hands out accepted by GET /v1/auth/me, refresh tokens refused after use and after sign-out."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.http.conftest import EMAIL, PASSWORD, Api, bearer, error_code, log_in, refresh, sign_up
from tests.fakes.supabase_auth import FakeGoTrue


async def test_a_sign_up_returns_a_session_that_auth_me_accepts(auth_api: Api, gotrue: FakeGoTrue) -> None:
    created = await sign_up(auth_api)
    me = await auth_api.client.get("/v1/auth/me", headers=bearer(created))

    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "expires_at", "user"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["user"]["email"] == EMAIL
    assert created.headers["Cache-Control"] == "no-store"
    assert me.status_code == 200, me.text
    assert me.json()["subject"] == body["user"]["id"]
    assert me.json()["email"] == EMAIL
    assert gotrue.calls("signup") == 1
    assert gotrue.received(PASSWORD)  # it went to Supabase Auth, as sent


async def test_a_taken_address_is_email_taken_however_it_is_spelled(
    auth_api: Api, gotrue: FakeGoTrue
) -> None:
    assert (await sign_up(auth_api)).status_code == 201
    again = await sign_up(auth_api)
    shouted = await sign_up(auth_api, email=EMAIL.upper())

    for response in (again, shouted):
        assert response.status_code == 409
        assert error_code(response) == "email_taken"
    assert gotrue.calls("signup") == 3


async def test_the_projects_password_rules_are_weak_password(auth_api: Api, gotrue: FakeGoTrue) -> None:
    with gotrue.lock:
        gotrue.state.min_password_length = 12
    weak = await sign_up(auth_api, password="eight ch")

    assert weak.status_code == 422
    assert error_code(weak) == "weak_password"
    assert "at least 12 characters" in weak.json()["error"]["message"]  # the project's rule, said
    assert "eight ch" not in weak.text


async def test_below_the_lowest_minimum_is_refused_before_supabase(auth_api: Api, gotrue: FakeGoTrue) -> None:
    short = await sign_up(auth_api, password="five5")

    assert short.status_code == 422
    assert error_code(short) == "validation_error"
    assert "too short: at least 6 characters" in short.json()["error"]["message"]
    assert gotrue.calls("signup") == 0


@pytest.mark.parametrize(
    "email",
    [
        "alice",
        "@example.com",
        "alice@",
        "ali ce@example.com",
        "ali\u200bce@example.com",  # zero-width space
        "alice@example.com\u202e",  # right-to-left override
        "ali\x00ce@example.com",
        "alice@exa\nmple.com",
        "alice@example.com\u00a0",  # no-break space
    ],
    ids=["no-at", "no-local-part", "no-domain", "space", "zero-width", "bidi", "nul", "newline", "nbsp"],
)
async def test_malformed_addresses_are_invalid_email_without_a_call(
    auth_api: Api, gotrue: FakeGoTrue, email: str
) -> None:
    for path in ("/v1/auth/signup", "/v1/auth/login"):
        response = await auth_api.client.post(path, json={"email": email, "password": PASSWORD})
        assert response.status_code == 422, (path, response.text)
        assert error_code(response) == "invalid_email"
    assert gotrue.calls("signup") + gotrue.calls("password") == 0


async def test_addresses_supabase_refuses_are_invalid_email_and_never_quoted(
    auth_api: Api, gotrue: FakeGoTrue
) -> None:
    # Fullwidth letters and a hyphen-led domain pass Mnemo's check; Supabase Auth's does not, and
    # its message quotes the address.
    for email in ("\uff41lice@example.com", "alice@-example.com"):
        response = await sign_up(auth_api, email=email)
        assert response.status_code == 422
        assert error_code(response) == "invalid_email"
        assert email not in response.text
    assert gotrue.calls("signup") == 2


async def test_a_project_that_confirms_emails_answers_202_without_a_token(
    auth_api: Api, gotrue: FakeGoTrue
) -> None:
    with gotrue.lock:
        gotrue.state.require_confirmation = True
    first = await sign_up(auth_api)
    again = await sign_up(auth_api)  # the address has an account now: the same answer
    too_early = await log_in(auth_api)
    gotrue.confirm(EMAIL)
    confirmed = await log_in(auth_api)

    assert first.status_code == 202, first.text
    assert first.json()["status"] == "confirmation_required"
    assert "inbox" in first.json()["message"]
    assert "token" not in first.text
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert too_early.status_code == 403
    assert error_code(too_early) == "email_not_confirmed"
    assert confirmed.status_code == 200, confirmed.text


async def test_a_login_returns_a_new_session(auth_api: Api) -> None:
    created = await sign_up(auth_api)
    logged_in = await log_in(auth_api, email="Alice@Example.com")
    me = await auth_api.client.get("/v1/auth/me", headers=bearer(logged_in))

    assert logged_in.status_code == 200, logged_in.text
    assert logged_in.headers["Cache-Control"] == "no-store"
    assert logged_in.json()["refresh_token"] != created.json()["refresh_token"]
    assert logged_in.json()["user"] == created.json()["user"]
    assert me.json()["subject"] == created.json()["user"]["id"]


async def test_an_unknown_email_and_a_wrong_password_get_the_same_answer(
    auth_api: Api, gotrue: FakeGoTrue
) -> None:
    assert (await sign_up(auth_api)).status_code == 201
    wrong_password = await log_in(auth_api, password="not the password")
    unknown_email = await log_in(auth_api, email="nobody@example.com", password="not the password")

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert error_code(wrong_password) == "invalid_credentials"
    assert wrong_password.content == unknown_email.content
    assert dict(wrong_password.headers) == dict(unknown_email.headers)
    assert gotrue.calls("password") == 2  # both asked Supabase Auth, once each


async def test_a_refresh_token_works_once(auth_api: Api, gotrue: FakeGoTrue) -> None:
    created = await sign_up(auth_api)
    first = created.json()["refresh_token"]
    renewed = await refresh(auth_api, first)
    reused = await refresh(auth_api, first)
    renewed_again = await refresh(auth_api, renewed.json()["refresh_token"])
    unknown = await refresh(auth_api, "never-issued-token")
    me = await auth_api.client.get("/v1/auth/me", headers=bearer(renewed_again))

    assert renewed.status_code == 200, renewed.text
    assert renewed.headers["Cache-Control"] == "no-store"
    assert renewed.json()["refresh_token"] != first
    assert renewed.json()["user"] == created.json()["user"]
    for refused in (reused, unknown):
        assert refused.status_code == 401
        assert error_code(refused) == "invalid_refresh_token"
    assert renewed_again.status_code == 200
    assert me.status_code == 200
    assert gotrue.calls("refresh_token") == 4


async def test_logout_revokes_the_sessions_refresh_token(auth_api: Api, gotrue: FakeGoTrue) -> None:
    created = await sign_up(auth_api)
    out = await auth_api.client.post("/v1/auth/logout", headers=bearer(created))
    refreshed = await refresh(auth_api, created.json()["refresh_token"])
    out_again = await auth_api.client.post("/v1/auth/logout", headers=bearer(created))

    assert out.status_code == 204, out.text
    assert out.content == b""
    assert refreshed.status_code == 401
    assert error_code(refreshed) == "invalid_refresh_token"
    assert out_again.status_code == 204  # already signed out is signed out
    assert gotrue.active_sessions() == 0
    assert gotrue.calls("logout") == 2


async def test_a_local_logout_keeps_other_sessions_and_a_global_one_ends_them(
    auth_api: Api, gotrue: FakeGoTrue
) -> None:
    phone = await sign_up(auth_api)
    laptop = await log_in(auth_api)
    tablet = await log_in(auth_api)

    local = await auth_api.client.post("/v1/auth/logout?scope=local", headers=bearer(phone))
    laptop_after_local = await refresh(auth_api, laptop.json()["refresh_token"])
    everywhere = await auth_api.client.post(
        "/v1/auth/logout?scope=global", headers=bearer(laptop_after_local)
    )
    tablet_after_global = await refresh(auth_api, tablet.json()["refresh_token"])
    bad_scope = await auth_api.client.post("/v1/auth/logout?scope=others", headers=bearer(tablet))

    assert local.status_code == everywhere.status_code == 204
    assert laptop_after_local.status_code == 200
    assert tablet_after_global.status_code == 401
    assert bad_scope.status_code == 422
    assert gotrue.active_sessions() == 0


async def test_logout_needs_a_valid_bearer_token(auth_api: Api, gotrue: FakeGoTrue) -> None:
    missing = await auth_api.client.post("/v1/auth/logout")
    forged = await auth_api.client.post("/v1/auth/logout", headers={"Authorization": "Bearer not.a.jwt"})

    assert missing.status_code == 401
    assert error_code(missing) == "missing_token"
    assert forged.status_code == 401
    assert error_code(forged) == "invalid_token"
    assert gotrue.calls("logout") == 0


ENDPOINTS: list[tuple[str, dict[str, Any]]] = [
    ("/v1/auth/signup", {"email": EMAIL, "password": PASSWORD}),
    ("/v1/auth/login", {"email": EMAIL, "password": PASSWORD}),
    ("/v1/auth/refresh", {"refresh_token": "some-token"}),
    ("/v1/auth/logout", {}),
]


async def test_without_the_settings_the_endpoints_answer_501_naming_them(api: Api) -> None:
    assert api.settings.supabase_url is None
    for path, body in ENDPOINTS:
        response = await api.client.post(path, json=body or None, headers=api.auth())
        malformed = await api.client.post(path, json={"nonsense": True}, headers=api.auth())
        for answer in (response, malformed):
            assert answer.status_code == 501, (path, answer.text)
            assert error_code(answer) == "not_configured"
            assert "SUPABASE_URL" in answer.json()["error"]["message"]
            assert "SUPABASE_ANON_KEY" in answer.json()["error"]["message"]
    assert (await api.client.get("/v1/auth/me", headers=api.auth())).status_code == 200


async def test_supabase_auth_down_is_503_auth_unavailable(auth_api: Api, gotrue: FakeGoTrue) -> None:
    created = await sign_up(auth_api)
    gotrue.stop()
    for path, body in ENDPOINTS:
        response = await auth_api.client.post(path, json=body or None, headers=bearer(created))
        assert response.status_code == 503, (path, response.text)
        assert error_code(response) == "auth_unavailable"
        assert response.headers["Retry-After"] == "5"
    # The token it handed out is still good: it is verified locally.
    assert (await auth_api.client.get("/v1/auth/me", headers=bearer(created))).status_code == 200


@pytest.mark.parametrize(
    ("status", "body", "location"),
    [
        pytest.param(500, b'{"code": "unexpected_failure", "message": "alice@example.com"}', None, id="500"),
        pytest.param(502, b"<html>bad gateway</html>", None, id="502-html"),
        pytest.param(200, b"<html>a captive portal</html>", None, id="200-not-json"),
        pytest.param(200, b'{"unexpected": "shape"}', None, id="200-unknown-shape"),
        pytest.param(307, b"", "/auth/v1/token?grant_type=password", id="redirect-not-followed"),
    ],
)
async def test_an_answer_that_is_not_supabase_auths_is_503(
    auth_api: Api, gotrue: FakeGoTrue, status: int, body: bytes, location: str | None
) -> None:
    assert (await sign_up(auth_api)).status_code == 201
    gotrue.fail(status, endpoint="password", body=body, location=location)
    response = await log_in(auth_api)

    assert response.status_code == 503, response.text
    assert error_code(response) == "auth_unavailable"
    assert EMAIL not in response.text
    assert gotrue.calls("password") == 1  # a redirect would have replayed the password


async def test_supabase_auths_own_limit_is_a_429(auth_api: Api, gotrue: FakeGoTrue) -> None:
    gotrue.fail(429, endpoint="signup", body=b'{"code": "over_email_send_rate_limit", "message": "x"}')
    response = await sign_up(auth_api)
    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert response.headers["Retry-After"] == "60"
