"""Brute-force protection on the sign-in endpoints, through the API: failed logins per email and
per client address, sign-ups per address, failed refreshes per address, each a 429 with
Retry-After that never reaches Supabase Auth; concurrent guesses cannot outrun the limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters.http.login_throttle import LoginThrottle
from tests.adapters.http.conftest import (
    EMAIL,
    PASSWORD,
    Api,
    auth_settings,
    error_code,
    log_in,
    open_api,
    refresh,
    sign_up,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.supabase_auth import FakeGoTrue

WRONG = "not the password"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def small_limits(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str, gotrue: FakeGoTrue, clock: Clock
) -> AsyncIterator[Api]:
    """3 failures per email and 5 per address per 15 minutes, 2 sign-ups per address per hour."""
    throttle = LoginThrottle(
        failures_per_email=3,
        failures_per_address=5,
        failure_window_seconds=900,
        signups_per_address=2,
        signup_window_seconds=3600,
        clock=clock,
    )
    settings = auth_settings(tmp_path, fake_openai, jwt_secret, gotrue)
    async with open_api(settings, jwt_secret, login_throttle=throttle) as api:
        yield api


async def test_failed_logins_are_limited_per_email_with_retry_after(
    small_limits: Api, gotrue: FakeGoTrue, clock: Clock
) -> None:
    api = small_limits
    assert (await sign_up(api)).status_code == 201
    failures = [await log_in(api, password=WRONG) for _ in range(3)]
    limited = await log_in(api, password=WRONG)
    right_but_limited = await log_in(api)
    calls_while_limited = gotrue.calls("password")
    clock.now += 300  # one attempt comes back every 900 / 3 = 300 s
    after_waiting = await log_in(api)

    assert [r.status_code for r in failures] == [401, 401, 401]
    for refused in (limited, right_but_limited):
        assert refused.status_code == 429
        assert error_code(refused) == "rate_limited"
        assert refused.headers["Retry-After"] == "300"
        assert "this email address" in refused.json()["error"]["message"]
    assert calls_while_limited == 3  # the refused attempts never reached Supabase Auth
    assert after_waiting.status_code == 200, after_waiting.text


async def test_spellings_of_one_email_share_its_limit(small_limits: Api) -> None:
    spellings = ["alice@example.com", "ALICE@example.com", "\uff41lice@example.com"]
    for spelling in spellings:
        assert (await log_in(small_limits, email=spelling, password=WRONG)).status_code == 401
    limited = await log_in(small_limits, email="Alice@Example.COM", password=WRONG)
    assert limited.status_code == 429


async def test_failed_logins_are_limited_per_client_address(small_limits: Api, gotrue: FakeGoTrue) -> None:
    api = small_limits
    failures = [await log_in(api, email=f"person{n}@example.com", password=WRONG) for n in range(5)]
    limited = await log_in(api, email="someone-else@example.com", password=WRONG)
    async with api.client_from("198.51.100.9") as elsewhere:
        other_address = await elsewhere.post(
            "/v1/auth/login", json={"email": "someone-else@example.com", "password": WRONG}
        )

    assert [r.status_code for r in failures] == [401] * 5
    assert limited.status_code == 429
    assert "your network address" in limited.json()["error"]["message"]
    assert int(limited.headers["Retry-After"]) > 0
    assert other_address.status_code == 401  # another address still has its own allowance
    assert gotrue.calls("password") == 6


async def test_a_successful_login_does_not_count(small_limits: Api) -> None:
    api = small_limits
    assert (await sign_up(api)).status_code == 201
    statuses = []
    for _ in range(4):
        statuses.append((await log_in(api, password=WRONG)).status_code)
        statuses.append((await log_in(api)).status_code)
    # Only the three wrong ones counted (had the sign-ins counted too, the second would have been
    # refused); then the email's allowance is spent, for the right password too.
    assert statuses == [401, 200, 401, 200, 401, 429, 429, 429]


async def test_an_outage_does_not_count_against_anyone(small_limits: Api, gotrue: FakeGoTrue) -> None:
    gotrue.fail(503, times=6, endpoint="password")
    outages = [(await log_in(small_limits, password=WRONG)).status_code for _ in range(6)]
    after = await log_in(small_limits, password=WRONG)
    assert outages == [503] * 6
    assert after.status_code == 401


async def test_concurrent_guesses_cannot_outrun_the_limit(small_limits: Api, gotrue: FakeGoTrue) -> None:
    api = small_limits
    gates = [gotrue.hold("password") for _ in range(3)]
    guesses: list[asyncio.Task[httpx.Response]] = []
    try:
        for gate in gates:
            guesses.append(asyncio.create_task(log_in(api, password=WRONG)))
            await gate.arrived()  # this guess is with Supabase Auth, its attempt already charged
        fourth = await log_in(api, password=WRONG)
        calls_before_release = gotrue.calls("password")
    finally:
        for gate in gates:
            gate.release()
    answered = await asyncio.gather(*guesses)

    assert fourth.status_code == 429
    assert calls_before_release == 3
    assert [r.status_code for r in answered] == [401, 401, 401]


async def test_sign_ups_are_limited_per_client_address(small_limits: Api, gotrue: FakeGoTrue) -> None:
    api = small_limits
    created = [await sign_up(api, email=f"new{n}@example.com") for n in range(2)]
    limited = await sign_up(api, email="new2@example.com")

    assert [r.status_code for r in created] == [201, 201]
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1800"
    assert "sign-ups" in limited.json()["error"]["message"]
    assert gotrue.calls("signup") == 2


async def test_failed_refreshes_count_against_the_address(small_limits: Api, gotrue: FakeGoTrue) -> None:
    api = small_limits
    created = await sign_up(api, email="bob@example.com")
    failures = [await refresh(api, f"guess-{n}") for n in range(5)]
    limited = await refresh(api, created.json()["refresh_token"])  # even a good one, from here

    assert [r.status_code for r in failures] == [401] * 5
    assert limited.status_code == 429
    assert gotrue.calls("refresh_token") == 5


async def test_the_default_limit_is_five_failures_per_email(auth_api: Api) -> None:
    assert (await sign_up(auth_api, email=EMAIL, password=PASSWORD)).status_code == 201
    statuses = [(await log_in(auth_api, password=WRONG)).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
