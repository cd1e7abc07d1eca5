"""The EventClaimStore role's contract, run unchanged on every implementation: an event is claimed
once, also by a second instance (`backend.open()`) and a second OS process (`backend.worker_argv`)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from core.storage import Store
from tests.core.storage.contract.conftest import Backend
from tests.core.storage.contract.helpers import ROOT, T0


async def test_claim_event_is_true_once(store: Store) -> None:
    assert await store.claim_event("msg:slack:T1:C1:1", now=T0) is True
    assert await store.claim_event("msg:slack:T1:C1:1", now=T0 + timedelta(minutes=5)) is False
    assert await store.claim_event("msg:slack:T1:C1:2", now=T0) is True


async def test_concurrent_claims_of_one_event_have_one_winner(store: Store, backend: Backend) -> None:
    second = await backend.open()
    try:
        results = await asyncio.gather(
            *(s.claim_event("msg:slack:T1:C1:race", now=T0) for _ in range(20) for s in (store, second))
        )
    finally:
        await second.close()
    assert results.count(True) == 1


async def test_two_processes_claiming_the_same_events_win_each_exactly_once(
    store: Store, backend: Backend
) -> None:
    keys = [f"msg:discord::C9:{i}" for i in range(150)]
    workers = [
        await asyncio.create_subprocess_exec(
            *backend.worker_argv,
            *keys,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert (await asyncio.wait_for(worker.stdout.readline(), 60)).strip() == b"ready"
    for worker in workers:  # both are connected and waiting: release them together
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    outputs = [await asyncio.wait_for(worker.communicate(), 60) for worker in workers]

    won = [set(json.loads(stdout)) for stdout, _ in outputs]
    assert all(worker.returncode == 0 for worker in workers)
    assert won[0].isdisjoint(won[1])
    assert won[0] | won[1] == set(keys)
    # The store this test holds sees them all as taken.
    assert not any(await asyncio.gather(*(store.claim_event(k, now=T0) for k in keys[:10])))
