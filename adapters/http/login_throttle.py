"""Brute-force protection for the sign-in endpoints (routes/auth.py), in the rate limiter's style:
token buckets that refill over a window, and a Retry-After when one is empty.

- Failed sign-ins, per email address AND per client address: guessing one person's password from
  many addresses, or many people's passwords from one address, both run dry.
- Failed refreshes count against the client address too (refresh tokens cannot be guessed, but
  each try is a call to Supabase Auth, whose own per-IP limit would then block everyone: every
  request reaches it from Mnemo's address).
- Sign-ups, per client address: each one creates a user and may send an email.

An attempt is charged BEFORE Supabase Auth is asked and forgiven afterwards when it did not fail
(success, or Supabase Auth unavailable): charging only after a failure would let a burst of
concurrent guesses all pass the check before the first failure is recorded.

Per process by default; given shared buckets (core.limits: with SUPABASE_DB_URL, a table in that
database), one set of buckets for every web process.
"""

from __future__ import annotations

import ipaddress
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from adapters.http.ratelimit import Decision, RateLimiter
from core.limits import Buckets

FAILURES_PER_EMAIL = 5
FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW_SECONDS = 15 * 60
SIGNUPS_PER_ADDRESS = 10
SIGNUP_WINDOW_SECONDS = 60 * 60
# An IPv6 client controls a whole /64: counting its addresses one by one would count nothing.
_IPV6_PREFIX = 64


@dataclass(frozen=True, slots=True)
class Refusal:
    """A throttled attempt: what ran out ("email" or "address") and when to come back."""

    scope: str
    decision: Decision


def email_key(email: str) -> str:
    """One bucket per person however the address is spelled: at least as coarse as Supabase Auth's
    own matching (it lowercases), so a change of case or a compatibility form is the same key."""
    return unicodedata.normalize("NFKC", email).casefold().strip()


def address_key(host: str | None) -> str:
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, _IPV6_PREFIX), strict=False))
    return str(address)


class LoginThrottle:
    def __init__(
        self,
        *,
        failures_per_email: int = FAILURES_PER_EMAIL,
        failures_per_address: int = FAILURES_PER_ADDRESS,
        failure_window_seconds: float = FAILURE_WINDOW_SECONDS,
        signups_per_address: int = SIGNUPS_PER_ADDRESS,
        signup_window_seconds: float = SIGNUP_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        shared: Buckets | None = None,
    ) -> None:
        self._per_email = RateLimiter.per_window(
            failures_per_email,
            window_seconds=failure_window_seconds,
            clock=clock,
            shared=shared,
            name="login-email",
        )
        self._per_address = RateLimiter.per_window(
            failures_per_address,
            window_seconds=failure_window_seconds,
            clock=clock,
            shared=shared,
            name="login-address",
        )
        self._signups = RateLimiter.per_window(
            signups_per_address,
            window_seconds=signup_window_seconds,
            clock=clock,
            shared=shared,
            name="signup-address",
        )

    async def charge(self, *, address: str, email: str | None = None) -> Refusal | None:
        """Take one attempt from the address's bucket (and the email's), or say which is empty."""
        # The address first: a refused address adds no email keys, so one client cannot fill
        # memory with buckets for made-up addresses.
        by_address = await self._per_address.hit(address)
        if not by_address.allowed:
            return Refusal("address", by_address)
        if email is not None:
            by_email = await self._per_email.hit(email_key(email))
            if not by_email.allowed:
                await self._per_address.refund(address)
                return Refusal("email", by_email)
        return None

    async def forgive(self, *, address: str, email: str | None = None) -> None:
        """The charged attempt did not fail: give it back."""
        await self._per_address.refund(address)
        if email is not None:
            await self._per_email.refund(email_key(email))

    async def charge_signup(self, address: str) -> Refusal | None:
        decision = await self._signups.hit(address)
        return None if decision.allowed else Refusal("address", decision)

    async def forgive_signup(self, address: str) -> None:
        await self._signups.refund(address)
