"""The HTTP API in-process (httpx over ASGI) on the real core, with tokens minted in the test.

`api` is the API as `python -m bot` mounts it (create_web_app + build_api_router), on the embedded
store, the fake model server and mem0 with the fake embedder. Tokens: HS256 with a per-run secret;
the JWKS tests add key pairs and a loopback JWKS endpoint (tests/fakes/jwks.py). `auth_api` is the
same API with sign-up and sign-in enabled, against a fake Supabase Auth (`gotrue`,
tests/fakes/supabase_auth.py) that signs its tokens with the same secret.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapters.http.api import build_api_router
from adapters.http.auth import TokenVerifier
from adapters.http.login_throttle import LoginThrottle
from adapters.http.ratelimit import RateLimiter
from bot.web import create_web_app
from bot.wiring import Core, build_core
from config import Settings
from core.limits import Buckets
from tests.conftest import make_settings
from tests.fakes.jwks import mint
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.supabase_auth import FakeGoTrue

ALICE = "aaaaaaaa-0000-4000-8000-000000000001"
BOB = "bbbbbbbb-0000-4000-8000-000000000002"
# A publishable key: what SUPABASE_ANON_KEY holds (a secret key there is refused).
ANON_KEY = "sb_publishable_" + "t" * 32


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return secrets.token_urlsafe(64)  # long enough for HS512 too (the wrong-alg test)


@dataclass
class Api:
    client: httpx.AsyncClient
    core: Core
    settings: Settings
    secret: str
    app: FastAPI | None = None

    def client_from(self, host: str) -> httpx.AsyncClient:
        """Another client of the same app, connecting from `host` (the per-address limits)."""
        assert self.app is not None
        transport = httpx.ASGITransport(app=self.app, client=(host, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def token(self, sub: str = ALICE, **claims: Any) -> str:
        return mint(self.secret, sub=sub, **claims)

    def auth(self, sub: str = ALICE, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, **claims)}"}

    async def chat(self, message: str, *, sub: str = ALICE, session_id: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"message": message}
        if session_id is not None:
            body["session_id"] = session_id
        return await self.client.post("/v1/chat", json=body, headers=self.auth(sub))

    def account_count(self) -> int:
        return count_rows(self.settings, "accounts")

    def message_count(self) -> int:
        return count_rows(self.settings, "messages")


def count_rows(settings: Settings, table: str) -> int:
    """Read the embedded store's file directly: proves what was (not) written, independent of the API."""
    path = Path(settings.data_dir) / "mnemo.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def api_settings(tmp_path: Path, fake: FakeOpenAI, secret: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "supabase_jwt_secret": secret,
        "api_rate_limit_per_minute": 10_000,
        "scheduler_enabled": False,
        **overrides,
    }
    return make_settings(tmp_path / "data", fake, **values)


@asynccontextmanager
async def open_api(
    settings: Settings,
    secret: str,
    *,
    verifier: TokenVerifier | None = None,
    limiter: RateLimiter | None = None,
    login_throttle: LoginThrottle | None = None,
    client_host: str = "127.0.0.1",
    shared_limits: Buckets | None = None,
) -> AsyncIterator[Api]:
    async with build_core(settings) as core:
        router = build_api_router(
            core.assistant,
            settings,
            verifier=verifier,
            limiter=limiter,
            login_throttle=login_throttle,
            shared_limits=shared_limits,
        )
        app = create_web_app(core, routers=[router])
        transport = httpx.ASGITransport(app=app, client=(client_host, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, core, settings, secret, app)


@pytest.fixture
async def api(tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str) -> AsyncIterator[Api]:
    settings = api_settings(tmp_path, fake_openai, jwt_secret)
    async with open_api(settings, jwt_secret) as opened:
        yield opened


# Sign-up and sign-in (tests/adapters/http/test_auth_*.py).
EMAIL = "alice@example.com"
PASSWORD = "correct horse battery"


async def sign_up(api: Api, email: str = EMAIL, password: str = PASSWORD) -> httpx.Response:
    return await api.client.post("/v1/auth/signup", json={"email": email, "password": password})


async def log_in(api: Api, email: str = EMAIL, password: str = PASSWORD) -> httpx.Response:
    return await api.client.post("/v1/auth/login", json={"email": email, "password": password})


async def refresh(api: Api, token: str) -> httpx.Response:
    return await api.client.post("/v1/auth/refresh", json={"refresh_token": token})


def bearer(session: httpx.Response) -> dict[str, str]:
    return {"Authorization": f"Bearer {session.json()['access_token']}"}


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


@pytest.fixture
def gotrue(jwt_secret: str) -> Iterator[FakeGoTrue]:
    with FakeGoTrue(jwt_secret, anon_key=ANON_KEY) as fake:
        yield fake


def auth_settings(
    tmp_path: Path, fake: FakeOpenAI, secret: str, gotrue: FakeGoTrue, **overrides: Any
) -> Settings:
    """The API with sign-up and sign-in through `gotrue`; storage stays embedded (no service key)."""
    return api_settings(
        tmp_path, fake, secret, supabase_url=gotrue.url, supabase_anon_key=ANON_KEY, **overrides
    )


@pytest.fixture
async def auth_api(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str, gotrue: FakeGoTrue
) -> AsyncIterator[Api]:
    settings = auth_settings(tmp_path, fake_openai, jwt_secret, gotrue)
    async with open_api(settings, jwt_secret) as opened:
        yield opened
