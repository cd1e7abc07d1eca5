"""Asymmetric Supabase keys (RS256/ES256) from a JWKS endpoint on loopback: key pairs generated in
the test, fetched by PyJWKClient over real HTTP, cached, refreshed for a rotated key, and an outage
that is a 503 (retry), not a 401 (sign out)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from adapters.http.auth import TokenVerifier
from tests.adapters.http.conftest import ALICE, Api, api_settings, open_api
from tests.fakes.jwks import FakeSupabaseAuth, SigningKey, mint
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.rsa("rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey.ec("ec-1")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me(api: Api, token: str) -> tuple[int, dict[str, object]]:
    response = await api.client.get("/v1/auth/me", headers=bearer(token))
    return response.status_code, response.json()


async def test_rs256_and_es256_tokens_verify_with_the_published_keys(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    with FakeSupabaseAuth([rsa_key, ec_key]) as auth:
        settings = api_settings(tmp_path, fake_openai, jwt_secret, supabase_jwks_url=auth.jwks_url)
        async with open_api(settings, jwt_secret) as api:
            rsa_status, rsa_body = await me(api, mint(rsa_key, sub=ALICE))
            ec_status, ec_body = await me(api, mint(ec_key, sub=ALICE))
            # A project moving to asymmetric keys still has live HS256 tokens: both are configured.
            hs_status, hs_body = await me(api, mint(jwt_secret, sub=ALICE))
            fetches = auth.requests

            for _ in range(5):
                assert (await me(api, mint(ec_key)))[0] == 200

    assert (rsa_status, ec_status, hs_status) == (200, 200, 200)
    assert rsa_body["account_id"] == ec_body["account_id"] == hs_body["account_id"]  # same sub
    assert rsa_body["subject"] == ALICE
    assert fetches == 1  # the key set is cached, not fetched per request
    assert auth.requests == 1


BAD_ASYMMETRIC = [
    "unknown kid",
    "another key under a published kid",
    "ES256 header on an RSA key",
    "HS256 signed with the RSA public key",
    "expired",
    "wrong audience",
]


@pytest.mark.parametrize("case", BAD_ASYMMETRIC)
async def test_bad_asymmetric_tokens_are_401_and_touch_nothing(
    tmp_path: Path, fake_openai: FakeOpenAI, rsa_key: SigningKey, ec_key: SigningKey, case: str
) -> None:
    # JWKS only: no HS256 secret, so an HS256 token must not verify against anything.
    impostor = SigningKey.rsa("rsa-1")
    public_pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with FakeSupabaseAuth([rsa_key, ec_key]) as auth:
        tokens = {
            "unknown kid": mint(rsa_key, kid="not-published"),
            "another key under a published kid": mint(impostor),
            "ES256 header on an RSA key": mint(ec_key, kid="rsa-1"),
            "HS256 signed with the RSA public key": _hmac_with(public_pem),
            "expired": mint(ec_key, expires_in=-600),
            "wrong audience": mint(rsa_key, aud="anon"),
        }
        settings = api_settings(tmp_path, fake_openai, "unused-" + "z" * 40, supabase_jwks_url=auth.jwks_url)
        verifier = TokenVerifier(jwks_url=auth.jwks_url)
        async with open_api(settings, "unused", verifier=verifier) as api:
            status, body = await me(api, tokens[case])
            account_count = api.account_count()

    assert status == 401, body
    assert body["error"]["code"] in {"invalid_token", "token_expired"}  # type: ignore[index]
    assert account_count == 0


def _hmac_with(key: bytes) -> str:
    """The classic key-confusion forgery: HS256 with the server's public key as the HMAC secret.
    PyJWT refuses to encode that, so the signature is computed by hand."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    header = part({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"})
    claims = part({"sub": ALICE, "aud": "authenticated", "exp": 2_000_000_000})
    signing_input = f"{header}.{claims}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


async def test_an_unreachable_key_set_is_a_503_not_a_401(
    tmp_path: Path, fake_openai: FakeOpenAI, rsa_key: SigningKey
) -> None:
    with FakeSupabaseAuth([rsa_key]) as auth:
        auth.fail(500)
        settings = api_settings(tmp_path, fake_openai, "unused-" + "z" * 40)
        verifier = TokenVerifier(jwks_url=auth.jwks_url)
        async with open_api(settings, "unused", verifier=verifier) as api:
            down = await api.client.get("/v1/auth/me", headers=bearer(mint(rsa_key)))
            auth.fail(None)
            back = await api.client.get("/v1/auth/me", headers=bearer(mint(rsa_key)))

    assert down.status_code == 503
    assert down.json()["error"]["code"] == "auth_unavailable"
    assert down.headers["Retry-After"]
    assert back.status_code == 200


async def test_a_rotated_in_key_is_fetched_and_forged_kids_do_not_flood_the_endpoint(
    tmp_path: Path, fake_openai: FakeOpenAI, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    with FakeSupabaseAuth([rsa_key]) as auth:
        settings = api_settings(tmp_path, fake_openai, "unused-" + "z" * 40)
        calm = TokenVerifier(jwks_url=auth.jwks_url)  # default 30 s refresh cooldown
        async with open_api(settings, "unused", verifier=calm) as api:
            assert (await me(api, mint(rsa_key)))[0] == 200
            for n in range(20):
                assert (await me(api, mint(rsa_key, kid=f"forged-{n}")))[0] == 401
            flood_fetches = auth.requests

        eager = TokenVerifier(jwks_url=auth.jwks_url, jwks_cooldown=0)
        async with open_api(settings, "unused", verifier=eager) as api:
            assert (await me(api, mint(rsa_key)))[0] == 200
            before = auth.requests
            auth.set_keys([rsa_key, ec_key])  # Supabase rotates a new key in
            rotated = await me(api, mint(ec_key))

    assert flood_fetches <= 2  # the first fetch, at most one forced refresh within the cooldown
    assert rotated[0] == 200
    assert auth.requests == before + 1
