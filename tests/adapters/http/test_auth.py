"""Bearer tokens: the good ones open an account on first use; every bad one is a 401 in our error
shape that touches nothing (no account, no message, no model call)."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.http.auth import TokenVerifier
from tests.adapters.http.conftest import ALICE, BOB, Api, api_settings, open_api
from tests.conftest import make_settings
from tests.fakes.jwks import SigningKey, mint
from tests.fakes.openai_server import FakeOpenAI


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, object]) -> str:
    """An `alg: none` token: what an attacker sends hoping the signature is not checked."""
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def valid_claims() -> dict[str, object]:
    now = int(time.time())
    return {"sub": ALICE, "aud": "authenticated", "role": "authenticated", "iat": now, "exp": now + 3600}


def tampered(token: str) -> str:
    header, _, signature = token.split(".")
    claims = valid_claims() | {"sub": BOB}
    return f"{header}.{b64(claims)}.{signature}"


async def test_a_valid_token_opens_an_account_on_first_use_and_finds_it_again(api: Api) -> None:
    assert api.account_count() == 0

    first = await api.client.get("/v1/auth/me", headers=api.auth())
    again = await api.client.get("/v1/auth/me", headers=api.auth())
    other = await api.client.get("/v1/auth/me", headers=api.auth(BOB))

    assert first.status_code == 200, first.text
    body = first.json()
    assert body["subject"] == ALICE
    assert body["display_name"] == "Pat Example"
    assert body["email"] == "person@example.com"
    assert body["memory_paused"] is False
    assert again.json()["account_id"] == body["account_id"]
    assert other.json()["account_id"] != body["account_id"]
    assert api.account_count() == 2


BAD_HEADERS: dict[str, Callable[[str], dict[str, str]]] = {
    "missing": lambda secret: {},
    "empty": lambda secret: {"Authorization": ""},
    "basic scheme": lambda secret: {"Authorization": "Basic dXNlcjpwYXNz"},
    "bearer without token": lambda secret: {"Authorization": "Bearer "},
    "malformed": lambda secret: {"Authorization": "Bearer not-a-jwt"},
    "three garbage parts": lambda secret: {"Authorization": "Bearer a.b.c"},
    "alg none": lambda secret: {"Authorization": f"Bearer {unsigned(valid_claims())}"},
    "wrong secret": lambda secret: {"Authorization": f"Bearer {mint('another-secret-' + 'x' * 32)}"},
    "wrong audience": lambda secret: {"Authorization": f"Bearer {mint(secret, aud='anon')}"},
    "no audience": lambda secret: {"Authorization": f"Bearer {mint(secret, aud=None)}"},
    "expired": lambda secret: {"Authorization": f"Bearer {mint(secret, expires_in=-3600)}"},
    "no expiry": lambda secret: {"Authorization": f"Bearer {mint(secret, exp=None)}"},
    "no subject": lambda secret: {"Authorization": f"Bearer {mint(secret, sub=None)}"},  # type: ignore[arg-type]
    "empty subject": lambda secret: {"Authorization": f"Bearer {mint(secret, sub='')}"},
    "subject with a separator": lambda secret: {"Authorization": f"Bearer {mint(secret, sub='a|b')}"},
    "tampered payload": lambda secret: {"Authorization": f"Bearer {tampered(mint(secret))}"},
    "HS512 with the right secret": lambda secret: {"Authorization": f"Bearer {mint(secret, alg='HS512')}"},
    "far too long": lambda secret: {"Authorization": "Bearer " + "a" * 9000},
    "not yet valid": lambda secret: {"Authorization": f"Bearer {mint(secret, nbf=int(time.time()) + 3600)}"},
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
async def test_every_bad_token_is_a_401_that_touches_nothing(
    api: Api, fake_openai: FakeOpenAI, case: str
) -> None:
    headers = BAD_HEADERS[case](api.secret)

    responses = [
        await api.client.get("/v1/auth/me", headers=headers),
        await api.client.post("/v1/chat", json={"message": "hello"}, headers=headers),
        await api.client.get("/v1/sessions", headers=headers),
        await api.client.get("/v1/memory-profiles/me", headers=headers),
        await api.client.delete("/v1/memory-profiles/me", headers=headers),
    ]

    for response in responses:
        assert response.status_code == 401, (case, response.text)
        error = response.json()["error"]
        expected = {"missing": "missing_token", "empty": "missing_token", "expired": "token_expired"}
        assert error["code"] == expected.get(case, "invalid_token"), (case, error)
        assert error["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.account_count() == 0
    assert api.message_count() == 0
    assert fake_openai.count("chat") == 0


async def test_error_messages_say_what_is_wrong(api: Api) -> None:
    expired = await api.client.get("/v1/auth/me", headers=api.auth(expires_in=-3600))
    audience = await api.client.get("/v1/auth/me", headers=api.auth(aud="anon"))
    missing = await api.client.get("/v1/auth/me")

    assert "expired" in expired.json()["error"]["message"]
    assert "audience" in audience.json()["error"]["message"]
    assert "Authorization: Bearer" in missing.json()["error"]["message"]
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="mnemo"'
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


async def test_a_little_clock_skew_is_tolerated(api: Api) -> None:
    # Issued by a clock a few seconds ahead of ours, and expired a few seconds ago by ours.
    response = await api.client.get("/v1/auth/me", headers=api.auth(expires_in=-5, iat=int(time.time()) + 5))
    assert response.status_code == 200


async def test_the_issuer_is_checked_when_configured(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str
) -> None:
    issuer = "https://project-ref.supabase.co/auth/v1"
    settings = api_settings(tmp_path, fake_openai, jwt_secret, supabase_jwt_issuer=issuer)
    async with open_api(settings, jwt_secret) as api:
        good = await api.client.get("/v1/auth/me", headers=api.auth(issuer=issuer))
        wrong = await api.client.get(
            "/v1/auth/me", headers=api.auth(issuer="https://other.supabase.co/auth/v1")
        )
        missing = await api.client.get("/v1/auth/me", headers=api.auth())

        assert good.status_code == 200
        assert wrong.status_code == 401
        assert "another project" in wrong.json()["error"]["message"]
        assert missing.status_code == 401
        assert api.account_count() == 1


def test_the_issuer_defaults_to_the_supabase_project_url(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    with_url = make_settings(
        tmp_path,
        fake_openai,
        supabase_jwt_secret="s" * 40,
        supabase_url="https://project-ref.supabase.co/",
        supabase_service_role_key="sb_secret_abcdefghijklmnop",
    )
    explicit = make_settings(
        tmp_path, fake_openai, supabase_jwt_secret="s" * 40, supabase_jwt_issuer="https://x/y"
    )
    neither = make_settings(tmp_path, fake_openai, supabase_jwt_secret="s" * 40)

    assert TokenVerifier.from_settings(with_url).issuer == "https://project-ref.supabase.co/auth/v1"
    assert TokenVerifier.from_settings(explicit).issuer == "https://x/y"
    assert TokenVerifier.from_settings(neither).issuer is None


async def test_tokens_never_reach_the_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    good = api.token()
    bad = mint("wrong-secret-" + "y" * 32)

    await api.client.post("/v1/chat", json={"message": "hi"}, headers={"Authorization": f"Bearer {good}"})
    await api.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {bad}"})
    await api.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {unsigned(valid_claims())}"})

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged  # something was logged (the chat), so the check below is not vacuous
    for token in (good, bad):
        assert token not in logged
        assert token.split(".")[2] not in logged
    assert api.secret not in logged


def test_a_verifier_needs_a_key() -> None:
    with pytest.raises(ValueError, match="secret or a JWKS URL"):
        TokenVerifier()


def test_signing_key_helper_publishes_only_public_parts() -> None:
    jwk = SigningKey.ec().public_jwk()
    assert "d" not in jwk
    assert jwk["alg"] == "ES256"
