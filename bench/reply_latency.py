"""Time to reply vs the floor (one recall embedding + one completion), and orchestrator overhead.

Two runs against the loopback fake model:
1. instant model: what the orchestrator itself costs per message (SQLite store, mem0 recall, prompt).
   Each round times the floor and then one message through Orchestrator.handle, back to back, so the
   overhead of a round (handle - floor) is measured in the same moment of a noisy machine; the
   overhead's p50 and p99 are over those rounds. Target: p50 <= 3 ms. It also prints the CPU time
   per message of Mnemo's threads by job (event loop, SQLite store thread, mem0 threads), next to
   the CPU the floor's two requests take on the loop: steadier than wall time on a busy machine.
2. a model with fixed latency (completion 300 ms, embedding 50 ms): reply time / floor, target <= 1.1.
The floor is measured, not assumed: the same embedding + completion requests made directly, the way
Mnemo's clients make them (the SDK's `client.post`, bench/model_request.py compares that with the
typed calls), with a prompt of the size the orchestrator sends. Ten people talk in ten threads, so
prompts carry up to 16 turns of history.
Run: python bench/reply_latency.py
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from _common import bench_core, percentile, summary
from openai import AsyncOpenAI

from bot.wiring import Core
from core.models import IncomingMessage, Platform
from tests.fakes.openai_server import FakeOpenAI

WARMUP = 5
PEOPLE = 10


def msg(i: int, *, user: str, thread: str) -> IncomingMessage:
    return IncomingMessage(
        platform=Platform.CONSOLE,
        workspace="bench",
        user=user,
        channel="general",
        thread=thread,
        text=f"message {i}: I enjoy hiking in the mountains near town number {i % 7}",
        message_id=f"{user}-{thread}-{i}",
        is_private=False,
        user_name=user,
    )


async def floor_once(client: AsyncOpenAI, i: int, prompt: list[dict[str, str]]) -> float:
    start = time.perf_counter()
    await client.post(
        "/embeddings", body={"model": "e", "input": [f"query {i}"], "dimensions": 64}, cast_to=object
    )
    await client.post(
        "/chat/completions", body={"model": "c", "messages": prompt, "max_tokens": 300}, cast_to=object
    )
    return (time.perf_counter() - start) * 1000


async def handle_once(core: Core, i: int) -> float:
    start = time.perf_counter()
    reply = await core.orchestrator.handle(msg(i, user=f"u{i % PEOPLE}", thread=f"t{i % PEOPLE}"))
    elapsed = (time.perf_counter() - start) * 1000
    assert reply is not None
    return elapsed


def cpu_seconds() -> defaultdict[str, float]:
    """CPU time so far of Mnemo's threads, by job: the event loop (this thread), the SQLite store's
    worker, mem0's workers. The fake model's threads are left out: a real model is not in-process."""
    totals: defaultdict[str, float] = defaultdict(float)
    for thread in threading.enumerate():
        if thread is threading.main_thread():
            job = "event loop"
        elif thread.name.startswith("sqlite-store"):
            job = "store thread"
        elif thread.name.startswith("mem0"):
            job = "mem0 threads"
        else:
            continue
        if thread.ident is not None:
            totals[job] += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return totals


@dataclass
class Rounds:
    floor: list[float] = field(default_factory=list)
    handle: list[float] = field(default_factory=list)
    floor_cpu: list[float] = field(default_factory=list)  # the loop's, for the two direct requests
    handle_cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


async def measure(fake: FakeOpenAI, count: int) -> Rounds:
    """Floor and handle per round, interleaved, with the CPU time each took in Mnemo's threads."""
    client = AsyncOpenAI(base_url=fake.base_url, api_key="bench", max_retries=0)
    rounds = Rounds()
    async with bench_core(fake) as core:
        for i in range(count + WARMUP):
            # The last prompt the orchestrator sent (the previous round's), so both send about as
            # many bytes.
            prompts = fake.chat_prompts()
            prompt = prompts[-1] if prompts else [{"role": "user", "content": f"hi {i}"}]
            before_floor = time.thread_time()
            floor = await floor_once(client, i, prompt)
            before_handle = cpu_seconds()
            handle = await handle_once(core, i)
            after_handle = cpu_seconds()
            if i >= WARMUP:
                rounds.floor.append(floor)
                rounds.handle.append(handle)
                rounds.floor_cpu.append((before_handle["event loop"] - before_floor) * 1000)
                for job in ("event loop", "store thread", "mem0 threads"):
                    rounds.handle_cpu[job].append((after_handle[job] - before_handle[job]) * 1000)
            await core.writer.flush(30)  # keep memory writes out of the next round
    await client.close()
    return rounds


async def main() -> None:
    with FakeOpenAI() as fake:
        fake.state.reply = lambda messages: "A short answer."
        rounds = await measure(fake, 300)
        overhead = [h - f for h, f in zip(rounds.handle, rounds.floor, strict=True)]
        print("instant model")
        print(f"  floor (embed + completion, direct): {summary(rounds.floor)}")
        print(f"  Orchestrator.handle:                {summary(rounds.handle)}")
        print(
            f"  orchestrator overhead per round:    p50 {statistics.median(overhead):7.2f} ms  "
            f"p99 {percentile(overhead, 99):7.2f} ms   target p50 <= 3 ms"
        )
        # CPU is steadier than wall time on a busy machine; what handle spends beyond the floor's
        # CPU and is not CPU (SQLite's fsyncs, thread hand-offs, waiting for the GIL) is the rest.
        cpu = {job: statistics.median(values) for job, values in rounds.handle_cpu.items()}
        parts = ", ".join(f"{job} {value:.2f}" for job, value in cpu.items())
        print(
            f"  CPU per message p50 (ms): {parts}; floor's requests {statistics.median(rounds.floor_cpu):.2f}"
        )

        fake.state.delay_chat = 0.3
        fake.state.delay_embeddings = 0.05
        rounds = await measure(fake, 15)
        ratio = statistics.median(rounds.handle) / statistics.median(rounds.floor)
        print("model with latency (completion 300 ms, embedding 50 ms)")
        print(f"  floor (embed + completion, direct): {summary(rounds.floor)}")
        print(f"  Orchestrator.handle:                {summary(rounds.handle)}")
        print(f"  reply / floor (p50):                {ratio:7.3f}   target <= 1.1")


if __name__ == "__main__":
    asyncio.run(main())
