"""Slack ack latency under 100 signed events/s: the full Mnemo app vs a bare bolt app that only acks.

Three processes, all on loopback:
- the remote services: the fake model (tests/fakes/openai_server.py) and the fake Slack Web API;
- the app under test, served by uvicorn on a local port: either Mnemo (real core with mem0 memory
  writes, the Slack adapter in HTTP mode, replies posted and streamed to the fake Slack) or a bare
  bolt AsyncApp behind the same FastAPI handler whose listener does nothing;
- this process, sending signed `app_mention` events at a fixed rate (open loop: a slow ack does
  not slow the sender) and timing each HTTP response, i.e. the ack Slack would see.

Mnemo runs once per share of events that mention it (`--shares`, default 10% and 100%; the rest is
channel chatter Mnemo receives but must not answer), in two layouts: `python -m bot run` (one
process acks, records each message in the durable intake and answers it) and the split (a `web`
process that acks and records, and a `worker` process on the same DATA_DIR that answers). Runs are
repeated and interleaved (`--repeat`) and the medians printed with their spread, because a shared
machine is noisy. Prints p50/p99 per app
and the ratio Mnemo/bare (target <= 1.2). Bounded: EVENTS events at RATE/s per run, after a short
warm-up; nothing leaves the machine.

What the numbers say (see README, Slack): answering in the same process adds CPU work to the loop
that acks (replies, mem0's writes in threads that hold the GIL), which shows in p99; the split keeps
the web process's loop for acks and one local write each.
`--baseline DIR` runs another checkout's split layout too, interleaved with this one's (a change
measured side by side under the same load); `--layouts split` skips the one-process layout.
`--pin` puts the web side on one CPU and the worker with the fake services on the other, as
separate machines would (what is left is the ack path's own cost, not the worker's CPU).
Run: python bench/slack_ack.py [--events 1000] [--rate 100] [--shares 0,0.1,1] [--repeat 3]
     [--layouts run,split] [--baseline DIR] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import Request, Response  # module level: FastAPI resolves the endpoint's annotations here

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["MEM0_TELEMETRY"] = "False"

from slack_events import SECRET, free_port, load

BOT_TOKEN = "xoxb-1-test-bot-token"
WARMUP = 50


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


# -- process 1: the remote services ----------------------------------------------------------------
# --pin: the web side (this process, which sends as Slack would, the bare app and Mnemo's web
# process) on CPU 0; the answering side (the worker and the fake remote services it calls) on CPU 1.
# What separate machines for web and worker would give: the worker's CPU no longer competes with
# the acks, so what remains is the ack path's own cost.
WEB_CPUS, WORKER_CPUS = {0}, {1}


def _pin(cpus: set[int] | None) -> None:
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def run_fakes(ready: Any, stop: Any, cpus: set[int] | None = None) -> None:
    _pin(cpus)
    from tests.fakes.openai_server import FakeOpenAI
    from tests.fakes.slack_api import FakeSlack

    with FakeOpenAI() as model, FakeSlack(team_id="T0BENCH", bot_user_id="UMNEMO") as slack:
        model.state.reply = lambda messages: "A reply of ordinary length, streamed in a few pieces. " * 3
        slack.add_user("UALICE", "Alice")
        slack.add_channel("C0BENCH", name="bench")
        ready.put({"model": model.base_url, "slack": slack.base_url})
        stop.wait()
        ready.put({"posted": slack.count("chat.postMessage"), "chat": model.count("chat")})


# -- process 2 (and 3): the app under test --------------------------------------------------------
async def _serve_mnemo(spec: dict[str, Any], ready: Any, stop: Any) -> None:
    """`python -m bot run` (role "run": acks and answers in one process), or one side of the split
    (`web`: acks and records in the intake; `worker`: answers), on a shared DATA_DIR."""
    from bot.services import build_services
    from bot.wiring import build_core
    from config import Settings

    role, urls = spec["role"], spec["urls"]
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        openai_base_url=urls["model"],
        openai_api_key="bench",
        embedding_dims=64,
        data_dir=Path(spec["data_dir"]),
        llm_max_retries=0,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=urls["slack"],
        log_level="WARNING",
        host="127.0.0.1",
        port=spec["port"],
        scheduler_enabled=False,
    )
    async with build_core(settings) as core:
        services = build_services(settings, core, role=role)  # type: ignore[arg-type]
        for service in services:
            await service.start()
        ready.put("ready")
        await asyncio.to_thread(stop.wait)
        core.orchestrator.stop_accepting()
        for service in reversed(services):
            await service.stop()


async def _serve_bare(port: int, ready: Any, stop: Any) -> None:
    from fastapi import FastAPI
    from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.authorization import AuthorizeResult

    from bot.web import WebServer

    result = AuthorizeResult(enterprise_id=None, team_id="T0BENCH", bot_user_id="UMNEMO", bot_token=BOT_TOKEN)

    async def authorize(**_: Any) -> AuthorizeResult:
        return result

    app = AsyncApp(signing_secret=SECRET, authorize=authorize, name="bare")

    @app.event("app_mention")
    async def acknowledge_mention() -> None:
        return None

    @app.event("message")
    async def acknowledge_message() -> None:
        return None

    handler = AsyncSlackRequestHandler(app)
    api = FastAPI()

    @api.post("/slack/events")
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    web = WebServer(api, host="127.0.0.1", port=port)
    await web.start()
    ready.put("ready")
    await asyncio.to_thread(stop.wait)
    await web.stop()


def run_app(spec: dict[str, Any], ready: Any, stop: Any) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    if spec.get("pin"):
        _pin(WORKER_CPUS if spec["role"] == "worker" else WEB_CPUS)
    if spec.get("root"):  # --baseline: another checkout's code (nothing of Mnemo is imported yet)
        sys.path.insert(0, spec["root"])
    if spec["role"] == "bare":
        asyncio.run(_serve_bare(spec["port"], ready, stop))
    else:
        asyncio.run(_serve_mnemo(spec, ready, stop))


def measure(
    kind: str,
    urls: dict[str, str],
    *,
    events: int,
    rate: float,
    offset: int,
    share: float,
    root: Path | None = None,
    pin: bool = False,
) -> list[float]:
    """One run. kind: "bare", "run" (one Mnemo process), or "split" (a web process acking and a
    worker process answering, on one DATA_DIR); `root`: Mnemo's code from another checkout."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    port = free_port()
    roles = [("worker", free_port()), ("web", port)] if kind == "split" else [(kind, port)]
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-slack-") as tmp:
        servers = []
        try:
            for role, role_port in roles:
                ready = ctx.Queue()
                spec = {
                    "role": role,
                    "port": role_port,
                    "urls": urls,
                    "data_dir": str(Path(tmp) / "data"),
                    "root": str(root) if root else None,
                    "pin": pin,
                }
                server = ctx.Process(target=run_app, args=(spec, ready, stop), daemon=True)
                server.start()
                servers.append(server)
                if ready.get(timeout=90) != "ready":
                    raise SystemExit(f"{role} app did not start")
            asyncio.run(load(port, events=WARMUP, rate=rate, offset=offset, share=share))
            time.sleep(1.0)
            return asyncio.run(load(port, events=events, rate=rate, offset=offset + WARMUP, share=share))
        finally:
            stop.set()
            for server in servers:
                server.join(60)


def _line(label: str, p50s: list[float], p99s: list[float]) -> str:
    spread = f"(runs: p50 {min(p50s):.2f}-{max(p50s):.2f}, p99 {min(p99s):.2f}-{max(p99s):.2f})"
    return (
        f"{label:<34} ack p50 {statistics.median(p50s):6.2f} ms   p99 {statistics.median(p99s):6.2f} ms   "
        + (spread if len(p50s) > 1 else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="events per run (default 1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second (default 100)")
    parser.add_argument(
        "--shares",
        default="0.1,1.0",
        help="comma-separated shares of events that mention Mnemo, one Mnemo run each (default 0.1,1.0)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per app, interleaved (default 3)")
    parser.add_argument(
        "--layouts",
        default="run,split",
        help="comma-separated Mnemo layouts to run: run, split (default both)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another checkout of Mnemo (`git archive` of an older commit): its split runs too, interleaved",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="web side on CPU 0, worker and fake services on CPU 1 (as on separate machines)",
    )
    args = parser.parse_args()
    layouts = [part.strip() for part in args.layouts.split(",") if part.strip()]
    if not layouts or not set(layouts) <= {"run", "split"}:
        raise SystemExit("--layouts takes run and/or split")
    if args.baseline is not None and not (args.baseline / "bot" / "__main__.py").is_file():
        raise SystemExit(f"--baseline {args.baseline} is not a checkout of Mnemo")
    shares = [float(part) for part in args.shares.split(",") if part.strip()]
    if (
        not 1 <= args.events <= 20_000
        or not 1 <= args.rate <= 1000
        or not 1 <= args.repeat <= 20
        or not all(0 <= x <= 1 for x in shares)
    ):
        raise SystemExit("--events must be 1..20000, --rate 1..1000, --repeat 1..20 and every share 0..1")

    if args.pin and len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("--pin needs two CPUs")
    _pin(WEB_CPUS if args.pin else None)
    ctx = mp.get_context("spawn")
    fake_queue, fake_stop = ctx.Queue(), ctx.Event()
    fakes = ctx.Process(
        target=run_fakes, args=(fake_queue, fake_stop, WORKER_CPUS if args.pin else None), daemon=True
    )
    fakes.start()
    urls = fake_queue.get(timeout=60)
    print(
        f"{args.events} signed events at {args.rate:g}/s per run, after {WARMUP} warm-up; {args.repeat} "
        "interleaved runs per app, medians shown; loopback only"
        + ("; web side on CPU 0, worker and fakes on CPU 1" if args.pin else "")
    )
    configs = [("bare", 1.0), *((kind, share) for kind in layouts for share in shares)]
    if args.baseline is not None:
        configs += [("split-baseline", share) for share in shares]
    p50s: dict[int, list[float]] = {index: [] for index in range(len(configs))}
    p99s: dict[int, list[float]] = {index: [] for index in range(len(configs))}
    try:
        offset = 0
        for _ in range(args.repeat):
            for index, (kind, share) in enumerate(configs):
                offset += 1_000_000
                baseline = kind.endswith("-baseline")
                latencies = measure(
                    kind.removesuffix("-baseline"),
                    urls,
                    events=args.events,
                    rate=args.rate,
                    offset=offset,
                    share=share,
                    root=args.baseline.resolve() if baseline else None,
                    pin=args.pin,
                )
                p50s[index].append(statistics.median(latencies))
                p99s[index].append(percentile(latencies, 99))
                load = Path("/proc/loadavg").read_text().split()[0]
                print(
                    f"  {kind}, {share:.0%}: p50 {p50s[index][-1]:.2f} ms, p99 {p99s[index][-1]:.2f} ms "
                    f"(load average {load})",
                    flush=True,
                )
    finally:
        fake_stop.set()
        counts = fake_queue.get(timeout=60)
        fakes.join(30)
    print(_line("bare bolt app (acks only)", p50s[0], p99s[0]))
    bare50, bare99 = statistics.median(p50s[0]), statistics.median(p99s[0])
    labels = {"run": "mnemo run", "split": "mnemo web+worker", "split-baseline": "baseline web+worker"}
    for index, (kind, share) in enumerate(configs[1:], start=1):
        print(_line(f"{labels[kind]}, {share:.0%} for Mnemo", p50s[index], p99s[index]))
        print(
            f"{'':<34} ratio to bare: p50 {statistics.median(p50s[index]) / bare50:.2f}x   "
            f"p99 {statistics.median(p99s[index]) / bare99:.2f}x   (target <= 1.2)"
        )
    print(f"replies posted by Mnemo in all runs: {counts['posted']} (model calls: {counts['chat']})")


if __name__ == "__main__":
    main()
