"""The model client's own cost: the SDK's typed calls vs the path Mnemo uses, side by side in one run.

Against the loopback fake model (instant answers), rounds interleave:
- a completion with a 20-message prompt, plain and streamed: `AsyncOpenAI.chat.completions.create`
  vs `core.llm.OpenAIChatModel.complete` (the SDK's `client.post`, no typed-params walk, no pydantic
  model per answer or chunk);
- one mem0 embedding (1536 dims, as text-embedding-3-small) and one mem0 extraction call, in a worker
  thread as mem0 makes them: `openai.OpenAI` vs `core.memory.mem0_openai.Mem0OpenAI`.
Wall time includes the loopback round trip and the fake's own work (it runs in this process). CPU is
the calling thread's CPU time per call (the event loop's, or mem0's worker's): work that holds the
GIL, which on a loaded machine is steadier than wall time and is what delays acks.
Run: python bench/model_request.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from _common import summary
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletionMessageParam

from core.llm import ChatMessage, OpenAIChatModel
from core.memory.mem0_openai import Mem0OpenAI
from tests.fakes.openai_server import FakeOpenAI

ROUNDS = 200
WARMUP = 10
EMBED_DIMS = 1536

PROMPT: list[ChatMessage] = [
    {"role": "system", "content": "You are Mnemo, a helpful assistant with a memory. " * 8}
] + [
    {
        "role": "user" if i % 2 == 0 else "assistant",
        "content": f"turn {i}: I spent the weekend hiking near the lake and we talked about trail {i}. " * 2,
    }
    for i in range(19)
]
TYPED_PROMPT = cast("list[ChatCompletionMessageParam]", PROMPT)
EMBED: dict[str, Any] = {
    "input": ["I enjoy hiking in the mountains"],
    "model": "e",
    "encoding_format": "float",
    "dimensions": EMBED_DIMS,
}
EXTRACT: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "Extract facts. " * 40},
        {"role": "user", "content": "## New Messages\nuser: I enjoy hiking\nassistant: noted\n"},
    ],
    "temperature": 0.0,
    "top_p": None,
    "max_tokens": 2000,
    "response_format": {"type": "json_object"},
}


class Timings:
    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def add(self, wall_s: float, cpu_s: float) -> None:
        self.wall.append(wall_s * 1000)
        self.cpu.append(cpu_s * 1000)


async def timed_async(call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    # Nothing else runs on this loop, so the loop thread's CPU time is this call's.
    wall, cpu = time.perf_counter(), time.thread_time()
    await call()
    return time.perf_counter() - wall, time.thread_time() - cpu


def timed_sync(call: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.thread_time()
    call()
    return time.perf_counter() - wall, time.thread_time() - cpu


async def main() -> None:
    with FakeOpenAI() as fake:
        fake.state.reply = lambda messages: "A short answer, in a few streamed pieces."
        fake.state.default_dims = EMBED_DIMS
        typed = AsyncOpenAI(base_url=fake.base_url, api_key="bench", max_retries=0)
        ours = OpenAIChatModel(
            base_url=fake.base_url,
            api_key="bench",
            model="m",
            max_tokens=300,
            timeout_seconds=30,
            max_retries=0,
        )
        typed_sync = OpenAI(base_url=fake.base_url, api_key="bench", max_retries=0)
        ours_sync = Mem0OpenAI(base_url=fake.base_url, api_key="bench", timeout_seconds=30, max_retries=0)
        worker = ThreadPoolExecutor(max_workers=1)
        loop = asyncio.get_running_loop()

        async def typed_plain() -> None:
            await typed.chat.completions.create(model="m", messages=TYPED_PROMPT, max_tokens=300)

        async def typed_streamed() -> None:
            stream = await typed.chat.completions.create(
                model="m",
                messages=TYPED_PROMPT,
                max_tokens=300,
                stream=True,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        pass

        async def ignore(piece: str) -> None:
            return None

        async_cases: dict[str, Callable[[], Awaitable[object]]] = {
            "completion, typed create()": typed_plain,
            "completion, Mnemo": lambda: ours.complete(PROMPT),
            "streamed, typed create()": typed_streamed,
            "streamed, Mnemo": lambda: ours.complete(PROMPT, on_delta=ignore),
        }
        sync_cases: dict[str, Callable[[], object]] = {
            f"mem0 embedding ({EMBED_DIMS} d), typed": lambda: typed_sync.embeddings.create(**EMBED),
            f"mem0 embedding ({EMBED_DIMS} d), Mnemo": lambda: ours_sync.embeddings.create(**EMBED),
            "mem0 extraction, typed": lambda: typed_sync.chat.completions.create(**EXTRACT),
            "mem0 extraction, Mnemo": lambda: ours_sync.chat.completions.create(**EXTRACT),
        }
        results = {name: Timings() for name in [*async_cases, *sync_cases]}
        for round_ in range(ROUNDS + WARMUP):
            for name, call in async_cases.items():
                wall, cpu = await timed_async(call)
                if round_ >= WARMUP:
                    results[name].add(wall, cpu)
            for name, sync_call in sync_cases.items():
                wall, cpu = await loop.run_in_executor(worker, timed_sync, sync_call)
                if round_ >= WARMUP:
                    results[name].add(wall, cpu)
        await typed.close()
        await ours.close()
        typed_sync.close()
        ours_sync.close()
        worker.shutdown()

    print(f"model client, {len(PROMPT)}-message prompt, instant loopback model, {ROUNDS} interleaved rounds")
    width = max(map(len, results))
    for name, timing in results.items():
        print(
            f"  {name:<{width}}  wall {summary(timing.wall)}  CPU p50 {statistics.median(timing.cpu):6.2f} ms"
        )
    for kind in ("completion", "streamed", f"mem0 embedding ({EMBED_DIMS} d)", "mem0 extraction"):
        before = next(t for n, t in results.items() if n.startswith(kind) and "typed" in n)
        after = next(t for n, t in results.items() if n.startswith(kind) and "Mnemo" in n)
        wall = statistics.median(before.wall) - statistics.median(after.wall)
        cpu = statistics.median(before.cpu) - statistics.median(after.cpu)
        print(f"  {kind}: saves {wall:6.2f} ms wall p50, {cpu:6.2f} ms CPU p50")


if __name__ == "__main__":
    asyncio.run(main())
