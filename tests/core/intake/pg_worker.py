"""A worker process for the Postgres inbox tests: `python -m tests.core.intake.pg_worker DB NAME`.

It serves the inbox of the throwaway database DB and records, in that database's `answers` table,
each delivery it answered (key, lane, which worker, which attempt; `seq` gives the order). What a
delivery's payload asks for: `fail_first` raises on the first attempt (a retry); `hold_first`
notes the first attempt in `started` and then never finishes (the test kills the process).
SIGTERM stops it with a grace of one second.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import timedelta

import psycopg

from core.clock import utc_now
from core.intake.model import Delivery
from core.intake.postgres import PostgresIntake
from tests.core.intake import pgqueue

TABLES = """
CREATE TABLE IF NOT EXISTS answers (
    seq bigserial PRIMARY KEY, key text NOT NULL, lane text NOT NULL, worker text NOT NULL,
    attempt int NOT NULL
);
CREATE TABLE IF NOT EXISTS started (key text NOT NULL, worker text NOT NULL, attempt int NOT NULL);
"""


async def main(database: str, name: str, lease: float, concurrency: int) -> None:
    url = pgqueue.url(database)
    intake = await PostgresIntake.open(
        url,
        clock=utc_now,
        lease=timedelta(seconds=lease),
        poll_interval=0.1,
        retry_base=timedelta(seconds=0.05),
    )
    record = await psycopg.AsyncConnection.connect(url, autocommit=True)
    lock = asyncio.Lock()  # one connection for the records: one statement at a time

    async def handle(delivery: Delivery) -> None:
        if delivery.payload.get("hold_first") and delivery.attempt == 1:
            async with lock:
                await record.execute(
                    "INSERT INTO started (key, worker, attempt) VALUES (%s, %s, %s)",
                    (delivery.key, name, delivery.attempt),
                )
            await asyncio.Event().wait()  # "mid-answer" until the process is killed
        if delivery.payload.get("fail_first") and delivery.attempt == 1:
            raise RuntimeError("failing the first attempt on purpose")
        async with lock:
            await record.execute(
                "INSERT INTO answers (key, lane, worker, attempt) VALUES (%s, %s, %s, %s)",
                (delivery.key, delivery.lane, name, delivery.attempt),
            )

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    serving = asyncio.create_task(intake.serve(handle, concurrency=concurrency))
    print("serving", flush=True)
    await stopping.wait()
    await intake.stop(grace=1)
    await serving
    await record.close()
    await intake.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database")
    parser.add_argument("name")
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.database, args.name, args.lease, args.concurrency))
