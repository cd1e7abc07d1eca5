"""The sign-in throttle's buckets on their own (a clock the test moves): per email and per client
address, charged before the attempt and forgiven after one that did not fail; shared by two
instances on one backend."""

from __future__ import annotations

import pytest

from adapters.http.login_throttle import LoginThrottle, address_key, email_key
from adapters.http.ratelimit import RateLimiter
from core.limits_postgres import PostgresLimits
from tests.core.intake import pgqueue


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_window_bucket_refills_at_limit_per_window() -> None:
    clock = Clock()
    limiter = RateLimiter.per_window(5, window_seconds=900, clock=clock)

    burst = [(await limiter.hit("k")).allowed for _ in range(6)]
    denied = await limiter.hit("k")
    clock.now += 179  # one hit comes back every 180 s
    still = await limiter.hit("k")
    clock.now += 1
    refilled = await limiter.hit("k")

    assert burst == [True] * 5 + [False]
    assert denied.retry_after_seconds == 180
    assert not still.allowed
    assert refilled.allowed
    with pytest.raises(ValueError, match="window_seconds"):
        RateLimiter.per_window(5, window_seconds=0)


async def test_a_refund_gives_back_one_hit_and_never_more_than_the_limit() -> None:
    limiter = RateLimiter.per_window(2, window_seconds=60, clock=Clock())
    await limiter.hit("k")
    await limiter.hit("k")
    await limiter.refund("k")
    await limiter.refund("k")
    await limiter.refund("k")  # one more than was taken: capped
    await limiter.refund("never-hit")  # adds no bucket

    assert [(await limiter.hit("k")).allowed for _ in range(3)] == [True, True, False]
    assert len(limiter) == 1


async def test_failures_are_limited_per_email_and_per_address() -> None:
    throttle = LoginThrottle(failures_per_email=2, failures_per_address=3, clock=Clock())

    first = [await throttle.charge(address="1.1.1.1", email="alice@example.com") for _ in range(2)]
    alice_again = await throttle.charge(address="2.2.2.2", email="alice@example.com")
    bob = await throttle.charge(address="1.1.1.1", email="bob@example.com")
    carol = await throttle.charge(address="1.1.1.1", email="carol@example.com")

    assert first == [None, None]
    assert alice_again is not None
    assert alice_again.scope == "email"
    assert bob is None  # the address's third failure
    assert carol is not None
    assert carol.scope == "address"
    assert carol.decision.retry_after_seconds > 0
    # The refused email did not spend 2.2.2.2's allowance: it still has all three.
    assert [await throttle.charge(address="2.2.2.2") for _ in range(3)] == [None, None, None]


async def test_a_forgiven_attempt_costs_nothing() -> None:
    throttle = LoginThrottle(failures_per_email=1, failures_per_address=1, clock=Clock())
    for _ in range(5):
        assert await throttle.charge(address="1.1.1.1", email="alice@example.com") is None
        await throttle.forgive(address="1.1.1.1", email="alice@example.com")
    assert await throttle.charge(address="1.1.1.1", email="alice@example.com") is None
    assert await throttle.charge(address="1.1.1.1", email="alice@example.com") is not None


async def test_sign_ups_are_limited_per_address() -> None:
    clock = Clock()
    throttle = LoginThrottle(signups_per_address=2, signup_window_seconds=3600, clock=clock)
    allowed = [await throttle.charge_signup("1.1.1.1") for _ in range(2)]
    refused = await throttle.charge_signup("1.1.1.1")
    other = await throttle.charge_signup("2.2.2.2")
    await throttle.forgive_signup("1.1.1.1")
    after_forgiving = await throttle.charge_signup("1.1.1.1")

    assert allowed == [None, None]
    assert refused is not None
    assert refused.decision.retry_after_seconds == 1800
    assert other is None
    assert after_forgiving is None


@pytest.mark.parametrize(
    "spelling",
    ["Alice@Example.com", "ALICE@EXAMPLE.COM", "\uff41lice@example.com", "alice@example.com "],
    ids=["mixed-case", "upper-case", "fullwidth-a", "trailing-space"],
)
def test_spellings_of_one_address_share_a_bucket(spelling: str) -> None:
    assert email_key(spelling) == email_key("alice@example.com")


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # same /64: one client
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_client_addresses_are_keyed_by_what_one_client_controls(host: str | None, key: str) -> None:
    assert address_key(host) == key


async def test_two_instances_on_one_backend_count_failures_together() -> None:
    database = pgqueue.create_database()
    try:
        limits = await PostgresLimits.open(pgqueue.url(database))
        try:
            first, second = (LoginThrottle(failures_per_email=3, shared=limits) for _ in range(2))
            charged = [
                await throttle.charge(address=f"10.0.0.{n}", email="alice@example.com")
                for n, throttle in enumerate((first, second, first, second))
            ]
            await first.forgive(address="10.0.0.2", email="alice@example.com")  # that one did not fail
            forgiven = await second.charge(address="10.0.0.9", email="Alice@Example.com")
            refused = await first.charge(address="10.0.0.8", email="alice@example.com")
        finally:
            await limits.close()
    finally:
        pgqueue.drop_database(database)
    assert charged[:3] == [None, None, None]
    assert charged[3] is not None  # the fourth failure, on the other instance
    assert charged[3].scope == "email"
    assert forgiven is None
    assert refused is not None
