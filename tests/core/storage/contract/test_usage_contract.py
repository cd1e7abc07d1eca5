"""The Store port's token-usage contract (core.budget), run on every implementation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import pytest

from core.models import DailyUsage, Platform
from core.storage import Store
from tests.core.storage.contract.helpers import T0, identity

DAY = date(2026, 11, 1)
NEXT_DAY = date(2026, 11, 2)


async def add(
    store: Store,
    account_id: uuid.UUID,
    tokens: int,
    *,
    workspace: str = "T1",
    day: date = DAY,
    platform: Platform = Platform.SLACK,
) -> None:
    await store.add_usage(
        account_id=account_id, platform=platform, workspace=workspace, day=day, tokens=tokens
    )


async def usage(
    store: Store,
    account_id: uuid.UUID,
    *,
    workspace: str = "T1",
    day: date = DAY,
    platform: Platform = Platform.SLACK,
) -> DailyUsage:
    return await store.daily_usage(account_id=account_id, platform=platform, workspace=workspace, day=day)


async def test_nothing_spent_reads_as_zeros(store: Store) -> None:
    account = await store.resolve_account(identity("U1"))
    assert await usage(store, account.id) == DailyUsage(person=0, workspace=0)


async def test_a_person_counts_everywhere_and_a_workspace_counts_everyone(store: Store) -> None:
    ann = await store.resolve_account(identity("U1"))
    bob = await store.resolve_account(identity("U2"))
    await add(store, ann.id, 100)
    await add(store, ann.id, 20)
    await add(store, bob.id, 7)
    await add(store, ann.id, 5, workspace="T2")  # another workspace: Ann's day, not T1's
    await add(store, ann.id, 3, platform=Platform.DISCORD, workspace="")
    await add(store, ann.id, 1000, day=NEXT_DAY)  # another day counts for that day only

    assert await usage(store, ann.id) == DailyUsage(person=128, workspace=127)
    assert await usage(store, bob.id) == DailyUsage(person=7, workspace=127)
    assert await usage(store, bob.id, workspace="T2") == DailyUsage(person=7, workspace=5)
    assert await usage(store, ann.id, day=NEXT_DAY) == DailyUsage(person=1000, workspace=1000)


async def test_concurrent_adds_all_count(store: Store) -> None:
    account = await store.resolve_account(identity("U1"))
    await asyncio.gather(*(add(store, account.id, 3) for _ in range(20)))
    assert await usage(store, account.id) == DailyUsage(person=60, workspace=60)


async def test_negative_tokens_are_refused_and_nothing_is_stored(store: Store) -> None:
    account = await store.resolve_account(identity("U1"))
    with pytest.raises(ValueError, match="tokens"):
        await add(store, account.id, -1)
    assert await usage(store, account.id) == DailyUsage(person=0, workspace=0)


async def test_erasure_takes_the_person_out_and_the_workspace_keeps_its_day(store: Store) -> None:
    ann = await store.resolve_account(identity("U1"))
    bob = await store.resolve_account(identity("U2"))
    await add(store, ann.id, 100)
    await add(store, ann.id, 9, day=NEXT_DAY)
    await add(store, bob.id, 7)

    await store.erase_account(ann.id)

    assert await usage(store, ann.id) == DailyUsage(person=0, workspace=107)
    assert await usage(store, ann.id, day=NEXT_DAY) == DailyUsage(person=0, workspace=9)
    await add(store, ann.id, 4)  # spending again after the erasure counts again
    assert await usage(store, ann.id) == DailyUsage(person=4, workspace=111)
    await store.erase_account(ann.id)  # a second erasure adds to the anonymous rows
    assert await usage(store, bob.id) == DailyUsage(person=7, workspace=111)


async def test_a_merge_moves_the_usage_to_the_surviving_account(store: Store) -> None:
    target = await store.resolve_account(identity("U1"))
    source = await store.resolve_account(identity("42", workspace="", platform=Platform.DISCORD))
    await add(store, target.id, 10)
    await add(store, source.id, 5)  # same day, same workspace: the rows add up
    await add(store, source.id, 3, platform=Platform.DISCORD, workspace="")
    await store.add_link_code(
        account_id=target.id, code_hash="h", now=T0, expires_at=T0 + timedelta(minutes=10)
    )
    assert await store.reserve_link_code("h", account_id=source.id, now=T0, hold=timedelta(minutes=2))
    assert await store.merge_accounts(source=source.id, target=target.id, code_hash="h", now=T0)

    assert await usage(store, target.id) == DailyUsage(person=18, workspace=15)
    assert await usage(store, source.id) == DailyUsage(person=0, workspace=15)
