"""One person, one memory: link a person's Slack, Discord and web identities to one account.

Flow: `/memory link` in one place gives a one-time code (only that person sees it); `/memory link
CODE` in another place merges the second identity's account into the first. Merge order matters for
"atomic from the person's point of view": the store reserves the code for the redeeming account
(exactly one redemption wins, across processes), memories move (idempotent: re-homes vectors,
collapses exact duplicates), then one store transaction consumes the code and moves identities,
messages, pending writes and settings and records the merge, so that memory writes still in
flight for the old account follow it (Store.memory_write_target). A failure in the move leaves the
code reserved for this person and the accounts usable; redeeming again finishes the move.

Codes: 8 characters from an alphabet without look-alikes (0/O, 1/I/L), ~40 bits, valid 10 minutes,
single use, stored as SHA-256 (a fast hash is enough for a secret this short-lived that is also
rate limited; the database never holds a usable code).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from core.errors import UserFacingError
from core.memory.service import MemoryService
from core.models import IdentityKey, Platform
from core.redaction import short_hash
from core.storage import Store

log = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=10)
MAX_FAILURES_PER_HOUR = 5
FAILURE_WINDOW = timedelta(hours=1)
# How long a redemption holds its code against other redemptions (the memory move takes well under
# a second; a process that died mid-redeem frees the code after this).
RESERVATION_HOLD = timedelta(minutes=2)

CodeProblem = Literal["invalid", "used", "expired", "own"]
UnlinkProblem = Literal["unknown_platform", "not_linked", "only_identity"]


class LinkCodeError(UserFacingError):
    """The code cannot be redeemed. `problem` lets a front door say it in its own terms (an HTTP
    status and error code); the message is for people."""

    def __init__(self, message: str, *, problem: CodeProblem) -> None:
        super().__init__(message)
        self.problem: CodeProblem = problem


class TooManyLinkAttemptsError(UserFacingError):
    """Too many wrong codes from this identity within FAILURE_WINDOW: redeeming is refused."""

    retry_after = FAILURE_WINDOW


class UnlinkError(UserFacingError):
    def __init__(self, message: str, *, problem: UnlinkProblem) -> None:
        super().__init__(message)
        self.problem: UnlinkProblem = problem


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normalize_code(raw: str) -> str | None:
    """Upper-case, drop spaces and dashes; None if it cannot be a code at all."""
    code = "".join(ch for ch in raw.upper() if ch not in " -")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def display_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def describe_identity(identity: IdentityKey) -> str:
    return identity.platform.value.capitalize()


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    account_id: uuid.UUID
    identities: list[IdentityKey]
    memories_moved: int


class LinkService:
    def __init__(
        self,
        *,
        store: Store,
        memory: MemoryService,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._memory = memory
        self._clock = clock
        # One redemption at a time in this process, so that wrong guesses fired all at once cannot
        # each read a failure count of zero and get past the brute-force limit. (Two redemptions of
        # one code are kept apart by the store's reservation, across processes too.)
        self._redeeming = asyncio.Lock()

    async def issue_code(self, identity: IdentityKey) -> IssuedCode:
        account = await self._store.resolve_account(identity)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        now = self._clock()
        await self._store.add_link_code(
            account_id=account.id, code_hash=hash_code(code), now=now, expires_at=now + CODE_TTL
        )
        log.info("link code issued account=%s", short_hash(account.id))
        return IssuedCode(code, now + CODE_TTL)

    async def redeem(self, identity: IdentityKey, raw_code: str) -> LinkOutcome:
        """Link `identity` to the account that issued the code. Every refusal is a UserFacingError:
        LinkCodeError (unknown, used, expired or own code) or TooManyLinkAttemptsError."""
        async with self._redeeming:
            return await self._redeem(identity, raw_code)

    async def _redeem(self, identity: IdentityKey, raw_code: str) -> LinkOutcome:
        now = self._clock()
        failures = await self._store.count_link_failures(identity, since=now - FAILURE_WINDOW)
        if failures >= MAX_FAILURES_PER_HOUR:
            raise TooManyLinkAttemptsError("Too many wrong codes. Linking is paused for you for an hour.")
        code = normalize_code(raw_code)
        link = await self._store.find_link_code(hash_code(code)) if code else None
        refusal = None
        if link is None:
            refusal = LinkCodeError(
                "That code is not valid. Check it, or ask for a new one with /memory link.",
                problem="invalid",
            )
        elif link.used_at is not None:
            refusal = LinkCodeError(
                "That code was already used. Ask for a new one with /memory link.", problem="used"
            )
        elif link.expires_at <= now:
            refusal = LinkCodeError(
                "That code has expired (codes last 10 minutes). Ask for a new one with /memory link.",
                problem="expired",
            )
        if refusal is not None or link is None:
            await self._store.record_link_failure(identity, now=now)
            raise refusal or LinkCodeError("That code is not valid.", problem="invalid")
        account = await self._store.resolve_account(identity)
        if account.id == link.account_id:
            raise LinkCodeError(
                "That code is yours: redeem it from your account on the other platform to link them.",
                problem="own",
            )
        source, target = account.id, link.account_id
        # Reserve the code before anything moves: of two processes redeeming one code, the loser
        # stops here, before any of its person's memories have moved.
        if not await self._store.reserve_link_code(
            link.code_hash, account_id=source, now=now, hold=RESERVATION_HOLD
        ):
            raise LinkCodeError(
                "That code was already used. Ask for a new one with /memory link.", problem="used"
            )
        target_epoch = (await self._store.get_settings(target)).epoch
        moved = await self._memory.move(source, target, epoch=target_epoch)
        merged = await self._store.merge_accounts(
            source=source, target=target, code_hash=link.code_hash, now=now
        )
        if not merged:
            await self._undo_move(source, account.epoch, target, moved)
            log.error("link code reservation lost during a merge source=%s", short_hash(source))
            raise LinkCodeError(
                "That code was already used. Ask for a new one with /memory link.", problem="used"
            )
        # Memory writes that landed on the source while the move ran: the merge is recorded now, so
        # every later write follows it by itself (core.memory.writer); these are swept here.
        moved += await self._memory.move(source, target, epoch=target_epoch)
        identities = await self._store.list_identities(target)
        log.info(
            "accounts linked source=%s target=%s memories_moved=%d",
            short_hash(source),
            short_hash(target),
            len(moved),
        )
        return LinkOutcome(target, identities, len(moved))

    async def _undo_move(
        self, source: uuid.UUID, source_epoch: int, target: uuid.UUID, moved: list[str]
    ) -> None:
        """The merge did not happen after the memories moved: they go back to the source, or, if
        the source was erased meanwhile (which also drops its reservation), they are discarded."""
        back = await self._store.memory_write_target(source, source_epoch)
        if back is None or back.account_id != source:
            await self._memory.discard(target, moved)
        else:
            await self._memory.move(target, source, epoch=back.epoch, memory_ids=moved)

    async def identities(self, identity: IdentityKey) -> list[IdentityKey]:
        account = await self._store.resolve_account(identity)
        return await self._store.list_identities(account.id)

    async def unlink(self, identity: IdentityKey, platform_name: str) -> list[IdentityKey]:
        """Detach the account's identities on `platform_name`; returns the identities detached.
        UnlinkError (a UserFacingError) when there is nothing to detach."""
        try:
            platform = Platform(platform_name.strip().lower())
        except ValueError:
            names = ", ".join(p.value for p in Platform)
            raise UnlinkError(
                f"Unknown platform '{platform_name[:20]}'. Use one of: {names}.", problem="unknown_platform"
            ) from None
        account = await self._store.resolve_account(identity)
        linked = await self._store.list_identities(account.id)
        detach = [i for i in linked if i.platform is platform]
        if not detach:
            raise UnlinkError(
                f"No {platform.value.capitalize()} identity is linked to your account.", problem="not_linked"
            )
        if len(detach) == len(linked):
            raise UnlinkError(
                "That is the only identity on this account: there is nothing to unlink.",
                problem="only_identity",
            )
        for item in detach:
            await self._store.detach_identity(item, now=self._clock())
        log.info("identities unlinked account=%s count=%d", short_hash(account.id), len(detach))
        return detach
