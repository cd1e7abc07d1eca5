"""A second bot process for the contract tests: opens a store, waits for "go" on stdin, claims the
given event keys as fast as it can, and prints the ones it won as JSON.

    python -m tests.core.storage.contract.claim_worker sqlite PATH KEY...
    python -m tests.core.storage.contract.claim_worker supabase URL SERVICE_ROLE_KEY KEY...
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from core.storage import Store
from core.storage.sqlite import SQLiteStore
from core.storage.supabase import SupabaseStore


async def _open(argv: list[str]) -> tuple[Store, list[str]]:
    if argv[0] == "sqlite":
        return await SQLiteStore.open(Path(argv[1])), argv[2:]
    if argv[0] == "supabase":
        return await SupabaseStore.connect(url=argv[1], key=argv[2]), argv[3:]
    raise SystemExit(f"unknown backend {argv[0]!r}")


async def main(argv: list[str]) -> None:
    store, keys = await _open(argv)
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        results = await asyncio.gather(*(store.claim_event(key, now=datetime.now(UTC)) for key in keys))
        print(json.dumps([key for key, won in zip(keys, results, strict=True) if won]), flush=True)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
