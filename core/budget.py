"""Daily token budgets: per person and per workspace, counted in the store, reset at UTC midnight.

What counts: prompt + completion tokens as the model reports them in `usage`, for answers and for
memory extraction (mem0's calls, core.memory.mem0_openai meters them). A server that reports no
usage for an answer is charged an estimate (core.prompt.estimate_tokens of the prompt and the
answer), so a budget still holds against it. Embeddings are not counted.

Who: a person is their account (linked platforms share one budget); a workspace is the message's
workspace key: the Slack team (or Enterprise Grid org); on Discord, the whole bot (user ids are
global there); the console's workspace; '' for the HTTP API.

The check reads the store once per message, and only when a budget is set; the count is written
after the answer, alongside storing it. Concurrent replies may each pass the check and together
overshoot a budget by at most one reply each: the limit is a daily allowance, not a hard quota.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from core.errors import StorageError
from core.llm import ChatMessage, TokenUsage
from core.models import DailyUsage, MemoryOrigin, Platform
from core.prompt import estimate_tokens
from core.redaction import short_hash
from core.storage import AccountStore, UsageStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """Tokens per UTC day; None = unlimited."""

    per_person: int | None = None
    per_workspace: int | None = None

    @property
    def unlimited(self) -> bool:
        return self.per_person is None and self.per_workspace is None


def until_reset(now: datetime) -> timedelta:
    """Time left until the next UTC midnight."""
    now = now.astimezone(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return midnight - now


def describe_reset(now: datetime) -> str:
    left = until_reset(now)
    hours, minutes = divmod(max(1, round(left.total_seconds() / 60)), 60)
    wait = f"{hours} h {minutes} min" if hours else f"{minutes} min"
    return f"It resets at midnight UTC, in {wait}."


def tokens_spent(reported: list[TokenUsage], *, prompt: list[ChatMessage], answer: str | None) -> int:
    """What one answer cost: as reported, or (a server that reports nothing) estimated from the
    prompt and the answer; nothing when there was no answer and no report."""
    if reported:
        return sum(usage.total for usage in reported)
    if answer is None:
        return 0
    return sum(estimate_tokens(m["content"]) for m in prompt) + estimate_tokens(answer)


class UsageStoreRole(UsageStore, AccountStore, Protocol):
    """What the budget needs from the store: usage, and identities (for extraction's workspace)."""


class Budget:
    def __init__(self, *, store: UsageStoreRole, limits: BudgetLimits, clock: Callable[[], datetime]) -> None:
        self._store = store
        self.limits = limits
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def _day(self) -> datetime:
        return self._clock().astimezone(UTC)

    async def today(self, *, account_id: uuid.UUID, platform: Platform, workspace: str) -> DailyUsage:
        """Raises StorageError."""
        return await self._store.daily_usage(
            account_id=account_id, platform=platform, workspace=workspace, day=self._day().date()
        )

    async def refusal(self, *, account_id: uuid.UUID, platform: Platform, workspace: str) -> str | None:
        """The reply when today's budget is spent, or None to go ahead. Raises StorageError."""
        if self.limits.unlimited:
            return None
        used = await self.today(account_id=account_id, platform=platform, workspace=workspace)
        reset = describe_reset(self._clock())
        person, shared = self.limits.per_person, self.limits.per_workspace
        if person is not None and used.person >= person:
            log.info("over the personal daily budget account=%s", short_hash(account_id))
            return f"You've used your {person:,} tokens for today, so I can't answer now. {reset}"
        if shared is not None and used.workspace >= shared:
            log.info("over the workspace daily budget platform=%s", platform.value)
            return f"This workspace has used its {shared:,} tokens for today, so I can't answer now. {reset}"
        return None

    async def record(self, *, account_id: uuid.UUID, platform: Platform, workspace: str, tokens: int) -> None:
        """Count tokens spent; a failing store is logged, never raised (the answer stands)."""
        if tokens <= 0:
            return
        try:
            await self._store.add_usage(
                account_id=account_id,
                platform=platform,
                workspace=workspace,
                day=self._day().date(),
                tokens=tokens,
            )
        except StorageError as exc:
            log.warning("could not count %d tokens account=%s: %s", tokens, short_hash(account_id), exc)

    async def record_extraction(self, account_id: uuid.UUID, origin: MemoryOrigin, tokens: int) -> None:
        """Memory extraction's tokens, charged to the person and to the workspace of their identity
        on the platform the exchange came from."""
        if tokens <= 0:
            return
        try:
            identities = await self._store.list_identities(account_id)
        except StorageError as exc:
            log.warning("could not count extraction tokens account=%s: %s", short_hash(account_id), exc)
            return
        workspace = next((i.workspace for i in identities if i.platform is origin.platform), "")
        await self.record(account_id=account_id, platform=origin.platform, workspace=workspace, tokens=tokens)


__all__ = ["Budget", "BudgetLimits", "describe_reset", "tokens_spent", "until_reset"]
