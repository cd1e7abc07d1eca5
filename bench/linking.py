"""Account linking: how long `/memory link CODE` takes as the two accounts grow, on the embedded
SQLite store and on Supabase (supabase-py -> loopback PostgREST shim -> PostgreSQL), with the real
mem0 memory in a temporary directory and the loopback fake model.

Per size N: both accounts get N memories (a quarter of the source's are exact duplicates of the
target's, so they collapse) and N stored messages; then the redemption is timed end to end
(LinkService.redeem: failure count, code lookup, memory move, one merge transaction, identity list)
and its two heavy steps alone (MemoryService.move, Store.merge_accounts). Medians over --rounds.

Needs PostgreSQL for the Supabase column (MNEMO_TEST_PG_DSN, default
postgresql://postgres@127.0.0.1:5432/postgres); creates and drops its own database.

    python bench/linking.py [--sizes 0 50 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from _common import bench_core  # also puts the repository on sys.path

from bot.wiring import Core
from core.linking import LinkService
from core.models import ConversationKey, IdentityKey, MemoryOrigin, Platform, Role
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.postgrest import PostgrestShim
from tests.supabase import pg

IDLE = timedelta(hours=1)
SEED_BATCH = 25  # facts per mem0 `add` call (one extraction + embeddings each)


class Timing:
    """A port (MemoryService or Store) by delegation, timing one of its methods (ms per call)."""

    def __init__(self, inner: Any, method: str) -> None:
        self._inner = inner
        self._method = method
        self.laps: list[float] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name != self._method:
            return attribute

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await attribute(*args, **kwargs)
            finally:
                self.laps.append((time.perf_counter() - start) * 1000)

        return timed


async def seed(core: Core, identity: IdentityKey, facts: list[str], *, messages: int) -> uuid.UUID:
    account = await core.store.resolve_account(identity)
    origin = MemoryOrigin(identity.platform, "bench", is_private=False)
    for start in range(0, len(facts), SEED_BATCH):
        batch = facts[start : start + SEED_BATCH]
        await core.memory.remember(
            account.id, [{"role": "user", "content": f} for f in batch], origin=origin, epoch=0
        )
    conversation = ConversationKey(identity.platform, identity.workspace, f"bench-{identity.user}")
    session = await core.store.touch_session(conversation, now=core.clock(), idle_timeout=IDLE)
    for n in range(messages):
        await core.store.append_message(
            session_id=session.id,
            account_id=account.id,
            role=Role.USER,
            text=f"message {n}",
            now=core.clock(),
            epoch=0,
        )
    return account.id


async def one_round(core: Core, size: int) -> dict[str, float]:
    tag = secrets.token_hex(4)
    target = IdentityKey(Platform.SLACK, "T1", f"target-{tag}")
    source = IdentityKey(Platform.DISCORD, "", f"source-{tag}")
    shared = [f"shared fact {tag} {n}" for n in range(size // 4)]
    await seed(
        core, target, shared + [f"target fact {tag} {n}" for n in range(size - len(shared))], messages=size
    )
    await seed(
        core, source, shared + [f"source fact {tag} {n}" for n in range(size - len(shared))], messages=size
    )

    memory = Timing(core.memory, "move")
    store = Timing(core.store, "merge_accounts")
    links = LinkService(store=store, memory=memory, writer=core.writer, clock=core.clock)
    issued = await links.issue_code(target)
    start = time.perf_counter()
    outcome = await links.redeem(source, issued.code)
    total = (time.perf_counter() - start) * 1000
    # Checked, so a fast number can never come from a merge that did less than it should.
    assert outcome.memories_moved == size - len(shared), outcome
    expected = 2 * size - len(shared)
    assert (await core.memory.page(outcome.account_id, offset=0, limit=1, epoch=0)).total == expected
    return {"redeem": total, "move": memory.laps[0], "merge": store.laps[0]}


async def run_backend(name: str, fake: FakeOpenAI, sizes: list[int], rounds: int, **overrides: Any) -> None:
    async with bench_core(fake, **overrides) as core:
        for size in sizes:
            laps = [await one_round(core, size) for _ in range(rounds)]
            medians = {key: statistics.median(lap[key] for lap in laps) for key in laps[0]}
            print(
                f"{name:8s} N={size:4d}  redeem {medians['redeem']:8.1f} ms  "
                f"memory move {medians['move']:8.1f} ms  store merge {medians['merge']:6.1f} ms  "
                f"(median of {rounds})"
            )


@asynccontextmanager
async def supabase_shim() -> AsyncIterator[PostgrestShim]:
    name = pg.create_database()
    dsn = pg.database_dsn(name)
    try:
        pg.bootstrap(dsn)
        pg.apply_migrations(dsn)
        with PostgrestShim(dsn, jwt_secret=secrets.token_urlsafe(32)) as shim:
            yield shim
    finally:
        pg.drop_database(name)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with FakeOpenAI() as fake:
        await run_backend("sqlite", fake, args.sizes, args.rounds)
        async with supabase_shim() as shim:
            await run_backend(
                "supabase",
                fake,
                args.sizes,
                args.rounds,
                supabase_url=shim.url,
                supabase_service_role_key=shim.key(),
            )


if __name__ == "__main__":
    asyncio.run(main())
