"""Schemathesis against the API's own OpenAPI document, in-process over ASGI: generated requests
for every /v1 operation, with a valid token, must never get a 5xx, and every response must match
the documented status codes, media types and schemas.

Schemathesis serves an ASGI app from its own event-loop thread, so the core is built by the app's
ASGI lifespan (on that loop), not by a pytest-asyncio fixture. Bounded: a few examples per
operation, no deadline (the first request of an operation may build caches).

The sign-up and sign-in operations run against the fake Supabase Auth (tests/fakes/supabase_auth.py)
with a throttle generous enough that the examples reach it.
"""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.parameters import ParameterLocation
from schemathesis.python import asgi as schemathesis_asgi

from adapters.http.api import build_api_router
from adapters.http.login_throttle import LoginThrottle
from bot.web import create_web_app
from bot.wiring import build_core
from config import Settings
from tests.adapters.http.conftest import ALICE, Api, api_settings, auth_settings
from tests.fakes.jwks import mint
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.supabase_auth import FakeGoTrue

MAX_EXAMPLES = 12


class LifespanApp:
    """The API app whose core is opened at ASGI startup and closed at shutdown, on the serving loop."""

    def __init__(self, settings: Settings, *, login_throttle: LoginThrottle | None = None) -> None:
        self._settings = settings
        self._login_throttle = login_throttle
        self._app: Any = None
        self.requests = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            async with AsyncExitStack() as stack:
                await receive()  # lifespan.startup
                core = await stack.enter_async_context(build_core(self._settings))
                router = build_api_router(core.assistant, self._settings, login_throttle=self._login_throttle)
                self._app = create_web_app(core, routers=[router])
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.requests += 1
        await self._app(scope, receive, send)


OPERATIONS = [
    ("GET", "/v1/auth/me"),
    ("POST", "/v1/auth/signup"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("POST", "/v1/chat"),
    ("GET", "/v1/sessions"),
    ("GET", "/v1/sessions/{session_id}/messages"),
    ("DELETE", "/v1/sessions/{session_id}"),
    ("GET", "/v1/memory-profiles/me"),
    ("PATCH", "/v1/memory-profiles/me"),
    ("DELETE", "/v1/memory-profiles/me"),
    ("DELETE", "/v1/memory-profiles/me/memories/{memory_id}"),
    ("GET", "/v1/memory-profiles/me/export"),
    ("POST", "/v1/links"),
    ("POST", "/v1/links/redeem"),
    ("GET", "/v1/links"),
    ("DELETE", "/v1/links/{platform}"),
]

# Operations whose valid-looking input is a secret no fuzzer can guess (a link code, a password, a
# refresh token) or must be unique (a sign-up's email, which hypothesis repeats): refusing it
# (400 link_code_invalid, 401 invalid_credentials, 409 email_taken...) is the point, so
# "schema-valid data must be accepted" does not apply.
SECRET_INPUT = {
    ("POST", "/v1/links/redeem"),
    ("POST", "/v1/auth/signup"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
}
# Served with SUPABASE_URL + SUPABASE_ANON_KEY pointing at the fake Supabase Auth.
SUPABASE_AUTH = {
    operation
    for operation in OPERATIONS
    if operation[1].startswith("/v1/auth/") and operation[1] != "/v1/auth/me"
}


async def test_every_v1_operation_is_fuzzed(api: Api) -> None:
    """A new endpoint must join OPERATIONS, or it would never be fuzzed."""
    document = (await api.client.get("/openapi.json")).json()
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method in item
    }
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_generated_request_gets_a_server_error(
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    jwt_secret: str,
    gotrue: FakeGoTrue,
    *,
    operation: tuple[str, str],
    mode: GenerationMode,
) -> None:
    method, path = operation
    if operation in SUPABASE_AUTH:
        generous = LoginThrottle(failures_per_email=1000, failures_per_address=1000, signups_per_address=1000)
        app = LifespanApp(auth_settings(tmp_path, fake_openai, jwt_secret, gotrue), login_throttle=generous)
        # SUPABASE_URL is set, so the issuer is checked: tokens must be the project's.
        token = f"Bearer {mint(jwt_secret, sub=ALICE, issuer=gotrue.issuer)}"
    else:
        app = LifespanApp(api_settings(tmp_path, fake_openai, jwt_secret))
        token = f"Bearer {mint(jwt_secret, sub=ALICE)}"
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        api_operation = schema[path][method]

        @given(case=api_operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            headers: dict[str, str] = {}
            # The token is sent as explicit credentials (schemathesis then also probes the operation
            # without them and with bad ones, expecting 401) - except when the case's headers are the
            # deliberately broken part: the broken (or missing) Authorization must stay broken.
            if not (case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)):
                headers["Authorization"] = token
            if mode is GenerationMode.POSITIVE and "Idempotency-Key" in (case.headers or {}):
                # Hypothesis repeats header values across examples; the same key with another body
                # is correctly refused (422, as the IETF Idempotency-Key draft says), which
                # schemathesis would read as valid data rejected. A fresh key per example.
                headers["Idempotency-Key"] = uuid.uuid4().hex
            excluded = [positive_data_acceptance] if (method, path) in SECRET_INPUT else []
            response = case.call_and_validate(headers=headers, excluded_checks=excluded)
            assert response.status_code < 500, response.text

        exercise()
    finally:
        schemathesis_asgi.shutdown_lifespans()
    assert app.requests > MAX_EXAMPLES // 2  # the examples really reached the app
    if operation in SUPABASE_AUTH and mode is GenerationMode.POSITIVE:
        # Valid examples reached Supabase Auth; sign-ups succeeded, so sessions were checked too.
        assert sum(gotrue.calls(e) for e in ("signup", "password", "refresh_token", "logout")) > 0
        if path == "/v1/auth/signup":
            assert gotrue.state.users
