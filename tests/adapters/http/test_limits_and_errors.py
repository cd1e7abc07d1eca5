"""Per-account rate limit (429 + Retry-After; shared by app instances on one backend), the one
error shape everywhere under /v1 (unknown paths, wrong methods), and the OpenAPI document at /docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.http.ratelimit import RateLimiter
from core.limits_postgres import PostgresLimits
from tests.adapters.http.conftest import BOB, Api, api_settings, open_api
from tests.core.intake import pgqueue
from tests.fakes.openai_server import FakeOpenAI


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_rate_limit_is_per_account_with_retry_after(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str
) -> None:
    clock = Clock()
    settings = api_settings(tmp_path, fake_openai, jwt_secret, api_rate_limit_per_minute=3)
    limiter = RateLimiter(settings.api_rate_limit_per_minute, clock=clock)
    async with open_api(settings, jwt_secret, limiter=limiter) as api:
        allowed = [await api.client.get("/v1/sessions", headers=api.auth()) for _ in range(3)]
        limited = await api.client.post("/v1/chat", json={"message": "hi"}, headers=api.auth())
        bob = await api.client.get("/v1/sessions", headers=api.auth(BOB))
        clock.now += 20  # one request's worth of refill (3 per 60 s)
        after = await api.client.get("/v1/sessions", headers=api.auth())
        again = await api.client.get("/v1/sessions", headers=api.auth())
        stored = api.message_count()

    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert [r.headers["RateLimit-Remaining"] for r in allowed] == ["2", "1", "0"]
    assert allowed[0].headers["RateLimit-Limit"] == "3"
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert "3 per minute" in limited.json()["error"]["message"]
    assert limited.headers["Retry-After"] == "20"
    assert bob.status_code == 200
    assert after.status_code == 200
    assert again.status_code == 429
    assert stored == 0  # the limited chat never reached the core
    assert fake_openai.count("chat") == 0


async def test_a_bad_token_does_not_spend_anyones_allowance(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str
) -> None:
    settings = api_settings(tmp_path, fake_openai, jwt_secret, api_rate_limit_per_minute=2)
    async with open_api(settings, jwt_secret) as api:
        for _ in range(5):
            assert (
                await api.client.get("/v1/sessions", headers=api.auth(expires_in=-600))
            ).status_code == 401
        statuses = [(await api.client.get("/v1/sessions", headers=api.auth())).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_the_bucket_refills_continuously_and_caps_at_the_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)

    burst = [(await limiter.hit("a")).allowed for _ in range(61)]
    denied = await limiter.hit("a")
    clock.now += 0.5
    still = await limiter.hit("a")
    clock.now += 0.5
    refilled = await limiter.hit("a")
    clock.now += 3600
    capped = [(await limiter.hit("a")).allowed for _ in range(61)]

    assert burst == [True] * 60 + [False]
    assert denied.retry_after_seconds == 1
    assert not still.allowed
    assert refilled.allowed
    assert capped == [True] * 60 + [False]


async def test_idle_buckets_are_pruned_so_many_subjects_cannot_grow_memory() -> None:
    clock = Clock()
    limiter = RateLimiter(10, clock=clock)
    for n in range(10_001):
        await limiter.hit(f"sub-{n}")
    clock.now += 120
    await limiter.hit("one-more")
    assert len(limiter) <= 2


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(0)


async def test_unknown_paths_and_wrong_methods_get_our_error_shape(api: Api) -> None:
    unknown = await api.client.get("/v1/nothing-here", headers=api.auth())
    wrong_method = await api.client.put("/v1/chat", json={"message": "hi"}, headers=api.auth())
    get_chat = await api.client.get("/v1/chat", headers=api.auth())
    trailing = await api.client.get("/v1/sessions/", headers=api.auth())

    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert "/v1/nothing-here" in unknown.json()["error"]["message"]
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert wrong_method.headers["Allow"] == "POST"
    assert get_chat.status_code == 405
    assert trailing.status_code == 404
    assert set(trailing.json()) == {"error"}
    profile_methods = await api.client.post("/v1/memory-profiles/me", headers=api.auth())
    assert profile_methods.headers["Allow"] == "DELETE, GET, PATCH"


async def test_the_openapi_document_describes_every_endpoint_and_the_error_shape(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    docs = await api.client.get("/docs")

    assert docs.status_code == 200
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if path.startswith("/v1")
    }
    assert operations >= {  # other front-door features (account linking) add their own
        ("GET", "/v1/auth/me"),
        ("POST", "/v1/chat"),
        ("GET", "/v1/sessions"),
        ("GET", "/v1/sessions/{session_id}/messages"),
        ("DELETE", "/v1/sessions/{session_id}"),
        ("GET", "/v1/memory-profiles/me"),
        ("DELETE", "/v1/memory-profiles/me"),
        ("PATCH", "/v1/memory-profiles/me"),
        ("DELETE", "/v1/memory-profiles/me/memories/{memory_id}"),
        ("GET", "/v1/memory-profiles/me/export"),
        ("POST", "/v1/links"),
        ("POST", "/v1/links/redeem"),
        ("GET", "/v1/links"),
        ("DELETE", "/v1/links/{platform}"),
    }
    chat = schema["paths"]["/v1/chat"]["post"]
    assert chat["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    assert any(p["name"] == "Idempotency-Key" for p in chat["parameters"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert schema["components"]["schemas"]["ChatRequest"]["additionalProperties"] is False


async def test_unknown_query_parameters_are_refused_like_unknown_fields(api: Api) -> None:
    typo = await api.client.get("/v1/sessions", params={"limt": 5}, headers=api.auth())
    nameless = await api.client.get("/v1/sessions?=1", headers=api.auth())
    fine = await api.client.get("/v1/sessions", params={"limit": 5, "offset": 0}, headers=api.auth())

    assert typo.status_code == 422
    assert "Unknown query parameter 'limt'" in typo.json()["error"]["message"]
    assert "limit, offset" in typo.json()["error"]["message"]
    assert typo.json()["error"]["details"] == [{"field": "query.limt", "message": "unknown query parameter"}]
    assert nameless.status_code == 422
    assert fine.status_code == 200


async def test_a_body_that_is_not_utf8_is_a_400_not_a_crash(api: Api) -> None:
    # Found by schemathesis: FastAPI's own "error parsing the body" used to escape as a 500.
    response = await api.client.patch(
        "/v1/memory-profiles/me", content=b"=\xa8", headers={**api.auth(), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "bad_request",
        "message": "The body could not be read: send UTF-8 encoded JSON.",
        "details": [],
    }


async def test_a_bad_content_length_is_a_400(api: Api) -> None:
    response = await api.client.post(
        "/v1/chat",
        content=b'{"message": "hi"}',
        headers={**api.auth(), "Content-Type": "application/json", "Content-Length": "abc"},
    )
    assert response.status_code == 400
    assert "Content-Length" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("declared", "status"),
    [("\u00b2", 400), ("1" * 5000, 413), ("0" * 40 + "17", 200)],
    ids=["superscript-two", "5000-digits", "leading-zeros"],
)
async def test_odd_content_lengths_are_4xx_never_500(api: Api, declared: str, status: int) -> None:
    headers = [
        *((k.encode(), v.encode()) for k, v in api.auth().items()),
        (b"Content-Type", b"application/json"),
        (b"Content-Length", declared.encode("latin-1")),
    ]
    response = await api.client.post("/v1/chat", content=b'{"message": "hi"}', headers=headers)
    assert response.status_code == status, response.text


@pytest.fixture
async def shared_limits() -> AsyncIterator[PostgresLimits]:
    """One shared backend (a throwaway database) for several app instances, as on one SUPABASE_DB_URL."""
    database = pgqueue.create_database()
    try:
        limits = await PostgresLimits.open(pgqueue.url(database))
        yield limits
        await limits.close()
    finally:
        pgqueue.drop_database(database)


async def test_two_app_instances_share_one_rate_limit(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str, shared_limits: PostgresLimits
) -> None:
    settings = [
        api_settings(tmp_path / name, fake_openai, jwt_secret, api_rate_limit_per_minute=3) for name in "ab"
    ]
    async with (
        open_api(settings[0], jwt_secret, shared_limits=shared_limits) as first,
        open_api(settings[1], jwt_secret, shared_limits=shared_limits) as second,
    ):
        statuses = [
            (await api.client.get("/v1/sessions", headers=api.auth())).status_code
            for api in (first, second, first, second, first)
        ]
        bob = await second.client.get("/v1/sessions", headers=second.auth(BOB))
    assert statuses == [200, 200, 200, 429, 429]  # 3 a minute in all, not 3 per instance
    assert bob.status_code == 200


async def test_without_a_shared_backend_each_instance_counts_alone(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str
) -> None:
    settings = [
        api_settings(tmp_path / name, fake_openai, jwt_secret, api_rate_limit_per_minute=2) for name in "ab"
    ]
    async with open_api(settings[0], jwt_secret) as first, open_api(settings[1], jwt_secret) as second:
        statuses = [
            (await api.client.get("/v1/sessions", headers=api.auth())).status_code
            for api in (first, first, second, second, first)
        ]
    assert statuses == [200, 200, 200, 200, 429]


async def test_a_failing_shared_backend_falls_back_to_the_process_limit(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = pgqueue.create_database()
    limits = await PostgresLimits.open(pgqueue.url(database))
    pgqueue.drop_database(database)  # the database goes away under a running app
    try:
        settings = api_settings(tmp_path, fake_openai, jwt_secret, api_rate_limit_per_minute=2)
        async with open_api(settings, jwt_secret, shared_limits=limits) as api:
            responses = [await api.client.get("/v1/sessions", headers=api.auth()) for _ in range(3)]
    finally:
        await limits.close()
    assert [r.status_code for r in responses] == [200, 200, 429]  # limited all the same, by this process
    assert "shared rate limit unavailable, limiting in this process" in caplog.text
