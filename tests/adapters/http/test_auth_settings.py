"""The settings behind sign-up and sign-in: SUPABASE_URL with SUPABASE_ANON_KEY enables them and
keeps storage embedded; storage moves to Supabase only with SUPABASE_SERVICE_ROLE_KEY; every other
combination is one clear configuration error."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_settings
from tests.adapters.http.conftest import Api, bearer, sign_up
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.supabase_auth import FakeGoTrue

ANON_KEY = "sb_publishable_" + "a" * 32
URL = "https://project-ref.supabase.co"
SERVICE_KEY = "sb_secret_" + "s" * 32
JWT_SECRET = "j" * 40


def legacy_key(role: str) -> str:
    """A legacy Supabase API key: a JWT whose `role` says what it is (the signature is not read)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'role': role, 'iss': 'supabase'})}.c2ln"


def settings_from(fake: FakeOpenAI, **values: Any) -> Any:
    return load_settings(_env_file=None, openai_base_url=fake.base_url, openai_api_key="k", **values)


def test_the_anon_key_enables_sign_in_and_keeps_storage_embedded(fake_openai: FakeOpenAI) -> None:
    settings = settings_from(
        fake_openai, supabase_url=URL, supabase_anon_key=ANON_KEY, supabase_jwt_secret=JWT_SECRET
    )
    assert settings.supabase_auth_enabled
    assert not settings.supabase_enabled  # storage stays in DATA_DIR
    assert ANON_KEY not in repr(settings)  # a SecretStr


async def test_with_the_anon_key_alone_accounts_stay_in_data_dir(auth_api: Api, gotrue: FakeGoTrue) -> None:
    created = await sign_up(auth_api)
    me = await auth_api.client.get("/v1/auth/me", headers=bearer(created))

    assert me.status_code == 200, me.text
    assert auth_api.account_count() == 1  # read from DATA_DIR/mnemo.db, the embedded store
    assert gotrue.calls("other") == 0  # nothing asked the project's REST API (/rest/v1)


def test_the_service_role_key_moves_storage_and_the_anon_key_adds_sign_in(fake_openai: FakeOpenAI) -> None:
    storage_only = settings_from(fake_openai, supabase_url=URL, supabase_service_role_key=SERVICE_KEY)
    both = settings_from(
        fake_openai,
        supabase_url=URL,
        supabase_service_role_key=SERVICE_KEY,
        supabase_anon_key=legacy_key("anon"),
        supabase_jwt_secret=JWT_SECRET,
    )
    neither = settings_from(fake_openai)

    assert storage_only.supabase_enabled
    assert not storage_only.supabase_auth_enabled
    assert both.supabase_enabled
    assert both.supabase_auth_enabled
    assert not neither.supabase_enabled
    assert not neither.supabase_auth_enabled


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        pytest.param({"supabase_url": URL}, "SUPABASE_URL and a key must be set together", id="url-alone"),
        pytest.param(
            {"supabase_anon_key": ANON_KEY, "supabase_jwt_secret": JWT_SECRET},
            "SUPABASE_ANON_KEY is set but SUPABASE_URL is not",
            id="anon-key-alone",
        ),
        pytest.param(
            {"supabase_service_role_key": SERVICE_KEY},
            "SUPABASE_SERVICE_ROLE_KEY is set but SUPABASE_URL is not",
            id="service-key-alone",
        ),
        pytest.param(
            {"supabase_url": URL, "supabase_anon_key": ANON_KEY},
            "also need SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL",
            id="anon-key-without-token-verification",
        ),
        pytest.param(
            {"supabase_url": URL, "supabase_anon_key": SERVICE_KEY, "supabase_jwt_secret": JWT_SECRET},
            "SUPABASE_ANON_KEY: this is a secret (service_role) key",
            id="secret-key-as-anon-key",
        ),
        pytest.param(
            {
                "supabase_url": URL,
                "supabase_anon_key": legacy_key("service_role"),
                "supabase_jwt_secret": JWT_SECRET,
            },
            "SUPABASE_ANON_KEY: this is a secret (service_role) key",
            id="service-role-jwt-as-anon-key",
        ),
        pytest.param(
            {"supabase_url": URL, "supabase_anon_key": "your-anon-key", "supabase_jwt_secret": JWT_SECRET},
            "SUPABASE_ANON_KEY: looks like a placeholder",
            id="placeholder",
        ),
    ],
)
def test_bad_combinations_are_one_clear_line(
    fake_openai: FakeOpenAI, values: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(fake_openai, **values)
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)
    assert SERVICE_KEY not in str(caught.value)  # a refused key is never echoed


def test_the_anon_key_is_read_from_the_environment(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("SUPABASE_URL", URL)
    monkeypatch.setenv("SUPABASE_ANON_KEY", ANON_KEY)
    monkeypatch.setenv("SUPABASE_JWT_SECRET", JWT_SECRET)
    settings = settings_from(fake_openai)
    assert settings.supabase_anon_key is not None
    assert settings.supabase_anon_key.get_secret_value() == ANON_KEY
    assert settings.supabase_auth_enabled
    assert not settings.supabase_enabled
