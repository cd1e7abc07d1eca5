"""Discord: time from a MESSAGE_CREATE on the gateway to Mnemo's reply POST, and interaction acks.

Two processes, all on loopback:
- this one: the fake model (tests/fakes/openai_server.py, its own threads) and the fake Discord REST +
  gateway (tests/fakes/discord_server.py), which sends mention events at a fixed rate (open loop)
  over 20 channels and timestamps each reply POST on the same clock;
- the bot under test: either Mnemo (real core with mem0 memory writes + the Discord adapter, via
  DiscordService) or a bare discord.py client that answers "ok" to every mention (the floor:
  gateway + REST cost alone). It also samples its own event-loop lag every 20 ms.

Prints p50/p99 reply latency per bot, /memory pause interaction ack p50/p99 for Mnemo, and the bot
process's event-loop lag. The fake model answers at once, so this is Mnemo's own overhead.
Run: python bench/discord_reply.py [--messages 300] [--rate 50]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["MEM0_TELEMETRY"] = "False"

CHANNELS = 20
WARMUP = 20


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def summary(values_ms: list[float]) -> str:
    if not values_ms:
        return "no samples"
    p50, p99 = statistics.median(values_ms), percentile(values_ms, 99)
    return f"p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  (n={len(values_ms)})"


# -- the bot process ---------------------------------------------------------------------------------
async def _lag_sampler(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.02)
        samples.append((time.perf_counter() - start - 0.02) * 1000)


async def _run_mnemo(urls: dict[str, str], control: Any, results: Any) -> None:
    from adapters.discord.options import DiscordOptions
    from adapters.discord.service import DiscordService
    from bot.wiring import build_core
    from config import Settings

    with tempfile.TemporaryDirectory(prefix="mnemo-bench-discord-") as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            openai_base_url=urls["model"],
            openai_api_key="bench",
            embedding_dims=64,
            data_dir=Path(tmp) / "data",
            llm_max_retries=0,
            discord_bot_token=urls["token"],
            discord_api_url=urls["api"],
            discord_gateway_url=urls["gateway"],
        )
        async with build_core(settings) as core:
            service = DiscordService(
                settings=core.settings,
                assistant=core.assistant,
                options=DiscordOptions.from_settings(settings, guild_ready_timeout=0.1),
            )
            await service.start()
            await _serve(control, results)
            await core.shutdown(5)
            await service.stop()


async def _run_bare(urls: dict[str, str], control: Any, results: Any) -> None:
    import discord
    import yarl
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = urls["api"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(urls["gateway"])
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = intents.message_content = True

    class Bare(discord.Client):
        async def on_message(self, message: discord.Message) -> None:
            if self.user is not None and self.user in message.mentions:
                await message.channel.send(
                    "ok", nonce=f"{message.id}.0", allowed_mentions=discord.AllowedMentions.none()
                )

    client = Bare(intents=intents, guild_ready_timeout=0.1)
    await client.login(urls["token"])
    task = asyncio.create_task(client.connect())
    await client.wait_until_ready()
    await _serve(control, results)
    await client.close()
    await asyncio.gather(task, return_exceptions=True)


async def _serve(control: Any, results: Any) -> None:
    lag: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_lag_sampler(lag, stop))
    results.put("ready")
    await asyncio.to_thread(control.get)  # the driver says when it is done
    stop.set()
    await sampler
    results.put({"lag_p99": percentile(lag, 99), "lag_max": max(lag)})


def bot_process(kind: str, urls: dict[str, str], control: Any, results: Any) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    runner = _run_mnemo if kind == "mnemo" else _run_bare
    asyncio.run(runner(urls, control, results))


# -- the driver (this process) -----------------------------------------------------------------------
async def drive(kind: str, *, messages: int, rate: float) -> None:
    from tests.fakes.discord_server import FakeDiscord
    from tests.fakes.openai_server import FakeOpenAI

    ctx = mp.get_context("spawn")
    with FakeOpenAI() as model:
        model.state.reply = lambda msgs: "A reply of ordinary length, streamed in a few pieces. " * 3
        async with FakeDiscord() as fake:
            guild_id, channels = fake.add_guild(channels=CHANNELS)
            urls = {
                "model": model.base_url,
                "api": fake.api_url,
                "gateway": fake.gateway_url,
                "token": fake.token,
            }
            control, results = ctx.Queue(), ctx.Queue()
            proc = ctx.Process(target=bot_process, args=(kind, urls, control, results))
            proc.start()
            assert await asyncio.to_thread(results.get, True, 120) == "ready"
            sent: dict[str, float] = {}
            users = [fake.bot_id + 1000 + i for i in range(50)]
            interval = 1 / rate
            start = time.monotonic()
            for index in range(messages + WARMUP):
                await asyncio.sleep(max(0.0, start + index * interval - time.monotonic()))
                payload = fake.message(
                    channel_id=channels[index % CHANNELS],
                    guild_id=guild_id,
                    author_id=users[index % len(users)],
                    content=f"question number {index}",
                    mention_bot=True,
                )
                if index >= WARMUP:
                    sent[payload["id"]] = time.monotonic()
                await fake.dispatch("MESSAGE_CREATE", payload)
            posts = await fake.wait_for(
                lambda r: r.method == "POST" and r.path.endswith("/messages") and "nonce" in r.body,
                count=messages + WARMUP,
                timeout=120,
            )
            latencies = [
                (post.at - sent[nonce]) * 1000
                for post in posts
                if (nonce := str(post.body["nonce"]).split(".")[0]) in sent
            ]
            acks: list[float] = []
            if kind == "mnemo":
                for index in range(100):
                    payload = fake.slash_command(
                        user_id=users[index % len(users)],
                        subcommand="pause" if index % 2 else "resume",
                        guild_id=guild_id,
                        channel_id=channels[0],
                    )
                    path = f"/interactions/{payload['id']}/{payload['token']}/callback"
                    dispatched = time.monotonic()
                    await fake.dispatch("INTERACTION_CREATE", payload)
                    [callback] = await fake.wait_for(lambda r, p=path: r.path == p, timeout=10)
                    acks.append((callback.at - dispatched) * 1000)
            control.put("done")
            lag = await asyncio.to_thread(results.get, True, 60)
            await asyncio.to_thread(proc.join, 60)
    print(f"{kind:6s} reply    {summary(latencies)}")
    if acks:
        print(f"{kind:6s} /memory  {summary(acks)}  (interaction ack)")
    print(f"{kind:6s} loop lag p99 {lag['lag_p99']:6.1f} ms  max {lag['lag_max']:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    print(
        f"{args.messages} mentions at {args.rate:.0f}/s over {CHANNELS} channels, fake model answers at once"
    )
    for kind in ("bare", "mnemo"):
        asyncio.run(drive(kind, messages=args.messages, rate=args.rate))


if __name__ == "__main__":
    main()
