"""The AccountStore role's contract (core/storage/ports.py), run unchanged on every implementation."""

from __future__ import annotations

import asyncio
import uuid

from core.models import Platform
from core.storage import Store
from tests.core.storage.contract.conftest import Backend
from tests.core.storage.contract.helpers import IDLE, T0, identity, new_session, say

# -- accounts --------------------------------------------------------------------------------------


async def test_resolve_account_is_idempotent_and_keeps_the_display_name(store: Store) -> None:
    first = await store.resolve_account(identity(), display_name="Alice")
    again = await store.resolve_account(identity())
    renamed = await store.resolve_account(identity(), display_name="Alice B")
    after = await store.resolve_account(identity())

    assert first.display_name == "Alice"
    assert again.id == first.id
    assert again.display_name == "Alice"
    assert renamed.id == first.id
    assert renamed.display_name == "Alice B"
    assert after.display_name == "Alice B"
    assert first.created_at.tzinfo is not None


async def test_find_account_finds_known_identities_and_creates_nothing(store: Store) -> None:
    assert await store.find_account(identity("U-unknown")) is None
    assert await store.find_account(identity("U-unknown")) is None  # still not created

    known = await store.resolve_account(identity("U-known"), display_name="Kim")
    found = await store.find_account(identity("U-known"))

    assert found == known
    assert await store.find_account(identity("U-known", workspace="T-other")) is None


async def test_identities_are_per_platform_and_workspace(store: Store) -> None:
    slack_t1 = await store.resolve_account(identity("U1", workspace="T1"))
    slack_t2 = await store.resolve_account(identity("U1", workspace="T2"))
    discord = await store.resolve_account(identity("U1", workspace="", platform=Platform.DISCORD))
    other = await store.resolve_account(identity("U2", workspace="T1"))

    assert len({slack_t1.id, slack_t2.id, discord.id, other.id}) == 4


async def test_fifty_concurrent_first_messages_create_exactly_one_account(store: Store) -> None:
    who = identity("U-new")
    accounts = await asyncio.gather(*(store.resolve_account(who, display_name="Bo") for _ in range(50)))

    assert len({account.id for account in accounts}) == 1
    assert (await store.resolve_account(who)).id == accounts[0].id


async def test_two_instances_resolving_a_new_identity_agree(store: Store, backend: Backend) -> None:
    second = await backend.open()
    try:
        who = identity("U-two")
        results = await asyncio.gather(
            *(s.resolve_account(who) for _ in range(10) for s in (store, second)),
        )
    finally:
        await second.close()
    assert len({account.id for account in results}) == 1


# -- settings --------------------------------------------------------------------------------------


async def test_memory_pause_and_resume_per_account(store: Store) -> None:
    alice = await store.resolve_account(identity("U-alice"))
    bob = await store.resolve_account(identity("U-bob"))
    assert (await store.get_settings(alice.id)).memory_paused is False

    await store.set_memory_paused(alice.id, True)
    assert (await store.get_settings(alice.id)).memory_paused is True
    assert (await store.get_settings(bob.id)).memory_paused is False

    await store.set_memory_paused(alice.id, True)  # idempotent
    await store.set_memory_paused(alice.id, False)
    assert (await store.get_settings(alice.id)).memory_paused is False


async def test_settings_of_an_unknown_account_are_the_defaults(store: Store) -> None:
    assert (await store.get_settings(uuid.uuid4())).memory_paused is False


# -- detaching an identity -------------------------------------------------------------------------


async def test_a_detached_identity_leaves_its_messages_behind(store: Store) -> None:
    account = await store.resolve_account(identity("U1"), display_name="Alice")
    await store.add_link_code(account_id=account.id, code_hash="h", now=T0, expires_at=T0 + IDLE)
    other = await store.resolve_account(identity("42", workspace="", platform=Platform.DISCORD))
    session_id = await new_session(store)
    await say(store, session_id, other.id, "said on discord")
    assert await store.reserve_link_code("h", account_id=other.id, now=T0, hold=IDLE)
    assert await store.merge_accounts(source=other.id, target=account.id, code_hash="h", now=T0)

    fresh = await store.detach_identity(identity("42", workspace="", platform=Platform.DISCORD), now=T0)

    assert fresh.display_name == "Alice"
    assert fresh.created_at == T0
    assert await store.list_identities(fresh.id) == [identity("42", workspace="", platform=Platform.DISCORD)]
    assert [m.account_id for m in await store.recent_messages(session_id, limit=5)] == [account.id]
    assert (await store.get_settings(fresh.id)).memory_paused is False
