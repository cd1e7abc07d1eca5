"""Time to reply vs the floor (one recall embedding + one completion), and orchestrator overhead.

Two runs side by side against the loopback fake model:
1. instant model: what the orchestrator itself costs per message (SQLite store, mem0 recall, prompt);
2. a model with fixed latency (completion 300 ms, embedding 50 ms): reply time / floor, target <= 1.1.
The floor is measured, not assumed: the same embedding + completion calls made directly with the
OpenAI client, back to back.
Run: python bench/reply_latency.py
"""

from __future__ import annotations

import asyncio
import statistics
import time

from _common import bench_core, summary
from openai import AsyncOpenAI

from core.models import IncomingMessage, Platform
from tests.fakes.openai_server import FakeOpenAI

WARMUP = 5


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


async def measure_handle(fake: FakeOpenAI, count: int) -> list[float]:
    async with bench_core(fake) as core:
        times = []
        for i in range(count + WARMUP):
            start = time.perf_counter()
            reply = await core.orchestrator.handle(msg(i, user=f"u{i % 10}", thread=f"t{i % 10}"))
            elapsed = (time.perf_counter() - start) * 1000
            assert reply is not None
            if i >= WARMUP:
                times.append(elapsed)
            await core.writer.flush(30)  # keep memory writes out of the next measurement
        return times


async def measure_floor(fake: FakeOpenAI, count: int) -> list[float]:
    client = AsyncOpenAI(base_url=fake.base_url, api_key="bench", max_retries=0)
    times = []
    for i in range(count + WARMUP):
        start = time.perf_counter()
        await client.embeddings.create(model="e", input=[f"query {i}"], dimensions=64)
        await client.chat.completions.create(model="c", messages=[{"role": "user", "content": f"hi {i}"}])
        elapsed = (time.perf_counter() - start) * 1000
        if i >= WARMUP:
            times.append(elapsed)
    await client.close()
    return times


async def main() -> None:
    with FakeOpenAI() as fake:
        fake.state.reply = lambda messages: "A short answer."
        floor = await measure_floor(fake, 200)
        handle = await measure_handle(fake, 200)
        overhead = statistics.median(handle) - statistics.median(floor)
        print("instant model")
        print(f"  floor (embed + completion, direct): {summary(floor)}")
        print(f"  Orchestrator.handle:                {summary(handle)}")
        print(f"  orchestrator overhead (p50 diff):   {overhead:7.2f} ms")

        fake.state.delay_chat = 0.3
        fake.state.delay_embeddings = 0.05
        floor = await measure_floor(fake, 15)
        handle = await measure_handle(fake, 15)
        ratio = statistics.median(handle) / statistics.median(floor)
        print("model with latency (completion 300 ms, embedding 50 ms)")
        print(f"  floor (embed + completion, direct): {summary(floor)}")
        print(f"  Orchestrator.handle:                {summary(handle)}")
        print(f"  reply / floor (p50):                {ratio:7.3f}   target <= 1.1")


if __name__ == "__main__":
    asyncio.run(main())
