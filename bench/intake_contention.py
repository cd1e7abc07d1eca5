"""The embedded inbox under contention: how long a front door's `accept` (the step before the ack)
takes while a busy worker process shares the inbox, for this checkout and another one, interleaved.

Two processes on one SQLite inbox in a temporary directory:
- a worker serving the inbox (concurrency 16) whose event loop and a second thread keep the GIL
  busy, as a worker writing replies and memories does: each delivery costs 2 ms of loop CPU, waits
  5 ms (the model), notes its reply, costs 2 ms more; a thread spins in pure Python all along;
- a front door accepting ACCEPTS deliveries at RATE/s (open loop), timing each accept.

What differs between checkouts is only the inbox's code (core/intake), so this isolates how long
the worker's writes keep the front door waiting for the file's write lock. Medians of the runs'
p50/p99 per checkout, and the load average after each run (a shared machine is noisy).
Run: python bench/intake_contention.py [--baseline DIR] [--runs 3] [--accepts 1000] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from open_loop import open_loop  # bench/, beside this file

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def _worker(db: Path) -> None:
    from core.clock import utc_now
    from core.intake.model import Delivery
    from core.intake.sqlite import SQLiteIntake

    intake = await SQLiteIntake.open(db, clock=utc_now)
    threading.Thread(target=lambda: _spin(3600), daemon=True).start()  # a thread holding the GIL

    async def handle(delivery: Delivery) -> None:
        _spin(0.002)
        await asyncio.sleep(0.005)
        await intake.note_reply(delivery.id, {"ts": "1.2"})
        _spin(0.002)

    print("ready", flush=True)
    await intake.serve(handle, concurrency=16)


async def _front(db: Path, accepts: int, rate: float) -> None:
    from core.clock import utc_now
    from core.intake.model import NewDelivery
    from core.intake.sqlite import SQLiteIntake

    intake = await SQLiteIntake.open(db, clock=utc_now)
    latencies: list[float] = []

    async def one(n: int) -> None:
        delivery = NewDelivery(
            key=f"k{n}", kind="bench", lane=f"lane-{n}", payload={"text": "hi"}, received_at=datetime.now(UTC)
        )
        started = time.perf_counter()
        await intake.accept(delivery)
        latencies.append((time.perf_counter() - started) * 1000)

    await open_loop(accepts, rate, one)
    await intake.close()
    print(json.dumps(latencies), flush=True)


def one_run(root: Path, accepts: int, rate: float) -> list[float]:
    env = os.environ | {"PYTHONPATH": str(root)}
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-contention-") as tmp:
        db = str(Path(tmp) / "intake.db")
        command = [sys.executable, str(Path(__file__).resolve())]
        worker = subprocess.Popen(
            [*command, "--child", "worker", "--db", db], env=env, stdout=subprocess.PIPE
        )
        try:
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != b"ready":
                raise SystemExit("the worker did not start")
            front = subprocess.run(
                [*command, "--child", "front", "--db", db, "--accepts", str(accepts), "--rate", str(rate)],
                env=env,
                capture_output=True,
                check=True,
                timeout=600,
            )
        finally:
            worker.kill()
            worker.wait()
        return [float(x) for x in json.loads(front.stdout.decode().strip().splitlines()[-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout, run alternately")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--accepts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--child", choices=("worker", "front"), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.runs <= 20 or not 1 <= args.accepts <= 100_000 or not 1 <= args.rate <= 10_000:
        raise SystemExit("--runs must be 1..20, --accepts 1..100000, --rate 1..10000")
    if args.child == "worker":
        asyncio.run(_worker(args.db))
        return
    if args.child == "front":
        asyncio.run(_front(args.db, args.accepts, args.rate))
        return
    if args.baseline is not None and not (args.baseline / "core" / "intake" / "sqlite.py").is_file():
        raise SystemExit(f"--baseline {args.baseline} is not a checkout of Mnemo")
    roots = {"this checkout": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    p50s: dict[str, list[float]] = {label: [] for label in roots}
    p99s: dict[str, list[float]] = {label: [] for label in roots}
    print(f"{args.accepts} accepts at {args.rate:g}/s next to a busy worker, {args.runs} interleaved runs")
    for run in range(args.runs):
        for label, root in roots.items():
            latencies = one_run(root, args.accepts, args.rate)
            p50s[label].append(statistics.median(latencies))
            p99s[label].append(percentile(latencies, 99))
            load = Path("/proc/loadavg").read_text().split()[0]
            print(
                f"  run {run + 1}, {label}: accept p50 {p50s[label][-1]:.3f} ms, "
                f"p99 {p99s[label][-1]:.2f} ms, "
                f"max {max(latencies):.1f} ms (load average {load})",
                flush=True,
            )
    for label in roots:
        print(
            f"{label:14} accept p50 {statistics.median(p50s[label]):.3f} ms   "
            f"p99 {statistics.median(p99s[label]):.2f} ms   (medians of {args.runs} runs)"
        )


if __name__ == "__main__":
    main()
