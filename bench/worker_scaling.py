"""Replies per second with an instant model: one `python -m bot worker` process vs two.

One `python -m bot web` process (Slack HTTP mode) acknowledges and records signed mentions in the
embedded inbox (DATA_DIR/intake.db); `--workers` worker processes on the same DATA_DIR answer them
through the fake Slack Web API. The fake model answers at once, so what is measured is Mnemo's own
work per reply (claim, account, session, recall, prompt, the answer's post, the memory write).
Each run sends MENTIONS mentions from 50 people in 50 threads as fast as the web process takes them,
then times from the first send until the last reply is posted. Runs alternate 1 and 2 workers.
Printed: replies/s per run and the medians, and the ratio two/one (issue 13's target: about 1.8x
on two cores; the web process, the fakes and this process share those cores too), the CPU time
each process spent per reply, and the rate those costs allow on this machine's cores at most (the
ceiling the ratio is to be read against: the web process and the fakes take their share first).
Run: python bench/worker_scaling.py [--mentions 300] [--runs 3] [--profile DIR]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.adapters.slack import payloads as p  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(role: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", role],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_healthy(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a process's start-up: nothing to wait on but its port
    raise SystemExit(f"a process on port {port} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling a process's GIL holder until it exits, as collapsed stacks (a tool, not a
    dependency: `pip install py-spy==0.4.3`)."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--gil",
            "--rate",
            "200",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def one_run(
    workers: int,
    mentions: int,
    model: FakeOpenAI,
    slack: FakeSlack,
    *,
    root: Path = ROOT,
    profile_dir: Path | None = None,
) -> tuple[float, dict[str, float]]:
    """Replies/s, and the CPU seconds each process spent per reply ("web", "worker" for all workers
    together, "bench" for this process: the fakes and the sender)."""
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-workers-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "SUPABASE_"))}
        env.update(
            PYTHONPATH=str(root),
            OPENAI_BASE_URL=model.base_url,
            OPENAI_API_KEY="sk-bench",
            CHAT_MODEL="fake-chat",
            EMBEDDING_MODEL="fake-embed",
            EMBEDDING_DIMS="64",
            LLM_MAX_RETRIES="0",
            DATA_DIR=str(Path(tmp) / "data"),
            HOST="127.0.0.1",
            LOG_LEVEL="WARNING",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=p.SIGNING_SECRET,
            SLACK_API_URL=slack.base_url,
            SCHEDULER_ENABLED="false",
        )
        web_port = free_port()
        processes = [start("web", env | {"PORT": str(web_port)}, Path(tmp))]
        ports = [free_port() for _ in range(workers)]
        processes += [start("worker", env | {"PORT": str(port)}, Path(tmp)) for port in ports]
        spies: list[subprocess.Popen[bytes]] = []
        try:
            for port in (web_port, *ports):
                wait_healthy(port)
            if profile_dir is not None:
                for index, process in enumerate(processes):
                    name = "web" if index == 0 else f"worker{index}"
                    spies.append(profile(process.pid, profile_dir / f"{workers}w-{name}.txt"))
            cpu_before = [cpu_seconds(process.pid) for process in processes]
            bench_before = time.process_time()
            posted_before = len(slack.posted(p.GENERAL))
            events = [
                p.app_mention(f"note {i}: my number is {i}", user=f"UBENCH{i % 50:03d}")
                for i in range(mentions)
            ]

            url = f"http://127.0.0.1:{web_port}/slack/events"
            # One client for every send: httpx.post() without one builds a client, and an SSL
            # context, per request (about 20 ms of this process's CPU each, taken from the cores the
            # workers are measured on).
            client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=16))

            def send(event: dict[str, object]) -> int:
                body, headers = p.json_request(p.envelope(event))
                return client.post(url, content=body, headers=headers).status_code

            started = time.monotonic()
            with client, ThreadPoolExecutor(max_workers=16) as pool:
                if any(status != 200 for status in pool.map(send, events)):
                    raise SystemExit("a mention was not acknowledged")
            deadline = started + 300
            while len(slack.posted(p.GENERAL)) - posted_before < mentions:
                if time.monotonic() > deadline:
                    raise SystemExit("not every mention was answered within 300 s")
                time.sleep(0.01)  # polling the fake's record of posts
            rate = mentions / (time.monotonic() - started)
            spent = [
                cpu_seconds(proc.pid) - before for proc, before in zip(processes, cpu_before, strict=True)
            ]
            cpu = {
                "web": spent[0] / mentions,
                "worker": sum(spent[1:]) / mentions,
                "bench": (time.process_time() - bench_before) / mentions,
            }
            return rate, cpu
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
            for spy in spies:
                spy.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mentions", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="a directory for py-spy's collapsed stacks of every process",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another checkout of Mnemo (`git archive` of an older commit) run alternately with this one",
    )
    args = parser.parse_args()
    if not 1 <= args.mentions <= 10_000 or not 1 <= args.runs <= 20:
        raise SystemExit("--mentions must be 1..10000 and --runs 1..20")
    if args.baseline is not None and not (args.baseline / "bot" / "__main__.py").is_file():
        raise SystemExit(f"--baseline {args.baseline} is not a checkout of Mnemo")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    roots = {"this checkout": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    rates: dict[tuple[str, int], list[float]] = {(label, w): [] for label in roots for w in (1, 2)}
    cpus: dict[tuple[str, int], list[dict[str, float]]] = {key: [] for key in rates}
    loads: list[str] = []
    with FakeOpenAI() as model, FakeSlack(team_id=p.TEAM, bot_user_id=p.BOT_USER, bot_id=p.BOT_ID) as slack:
        model.state.reply = lambda messages: "Noted."
        slack.add_channel(p.GENERAL, name="general")
        for run in range(args.runs):
            for workers in (1, 2):
                for label, root in roots.items():
                    rate, cpu = one_run(
                        workers, args.mentions, model, slack, root=root, profile_dir=args.profile
                    )
                    rates[label, workers].append(rate)
                    cpus[label, workers].append(cpu)
                    load = Path("/proc/loadavg").read_text().split()[0]
                    loads.append(load)
                    print(
                        f"run {run + 1}, {label}, {workers} worker(s): {rate:6.1f} replies/s   CPU ms/reply: "
                        + "  ".join(f"{name} {seconds * 1000:5.1f}" for name, seconds in cpu.items())
                        + f"   (load average {load})",
                        flush=True,
                    )
    cores = os.cpu_count() or 1
    print(f"\n{args.mentions} mentions, instant model, medians of {args.runs} runs:")
    for label in roots:
        one, two = statistics.median(rates[label, 1]), statistics.median(rates[label, 2])
        print(
            f"{label}:\n"
            f"  one worker   {one:6.1f} replies/s\n"
            f"  two workers  {two:6.1f} replies/s   ({two / one:.2f}x; target about 1.8x on two cores)"
        )
        # The ceiling on these cores: what the web process and this one (fakes, sender) spend per
        # reply is not available to the workers, and one worker (one event loop, one GIL) uses one
        # core at most.
        ceilings = []
        for workers in (1, 2):
            per_reply = {
                name: statistics.median(c[name] for c in cpus[label, workers])
                for name in ("web", "worker", "bench")
            }
            ceiling = min(workers / per_reply["worker"], cores / sum(per_reply.values()))
            ceilings.append(ceiling)
            print(
                f"  {workers} worker(s): CPU ms per reply: web {per_reply['web'] * 1000:.1f}, "
                f"workers {per_reply['worker'] * 1000:.1f}, fakes+sender {per_reply['bench'] * 1000:.1f}; "
                f"at most {ceiling:.1f} replies/s on {cores} idle cores at that cost"
            )
        print(f"  the ceiling's ratio two/one: {ceilings[1] / ceilings[0]:.2f}x")
    print(f"load average after each run: {', '.join(loads)}")


if __name__ == "__main__":
    main()
