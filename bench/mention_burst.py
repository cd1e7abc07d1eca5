"""20 Slack mentions at the same moment, with a model that takes 300 ms (and 50 ms per embedding):
when is the last reply complete?

The floor for one message is one recall embedding + one completion, about 0.35 s; the target is
the last of 20 replies complete within 0.5 s of the moment they were sent (issue 13; ChatGPT-in-Slack
took 1.65 s and llmcord 1.78 s on the same test). Everything runs here on loopback: the fake model
and the fake Slack Web API (tests/fakes, in a second process), and Mnemo's Slack front door in HTTP
mode on the real core (as `python -m bot` runs it, one process). Twenty different people mention
Mnemo in one channel, each in a message of their own (twenty threads). A reply is complete at the
last Web API call that writes it (its post, or the last edit of a streamed answer), as Slack's
timestamps would show.

Prints, per run and as medians over runs: the first, median and last reply complete, and the floor
measured in the same run (the same embedding + completion requests made directly, 20 at once).
Each run also says how low the adaptive reply limit (core.admission) fell during the burst: it cuts
the number of replies written at once when the event loop runs late (acks first), so on a busy
machine some of the 20 replies wait their turn, and the last one completes later.
Run: python bench/mention_burst.py [--mentions 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection

import aiohttp
from _common import bench_core
from openai import AsyncOpenAI
from slack_events import SECRET, free_port, signed

from bot.services import build_services
from core.admission import Admission
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

BOT_TOKEN = "xoxb-1-test-bot-token"
TEAM, CHANNEL, BOT = "T0BURST", "C0BURST", "UMNEMO"
CHAT_SECONDS, EMBED_SECONDS = 0.300, 0.050
REPLY = "Here is a short answer, streamed in a few pieces as a model would."


def signed_mention(run: int, index: int) -> tuple[str, bytes, dict[str, str]]:
    ts = f"{1_760_000_000 + run * 1000 + index}.000100"
    body, headers = signed(
        {
            "team_id": TEAM,
            "api_app_id": "A0BURST",
            "type": "event_callback",
            "event_id": f"EvBURST{run:03d}{index:04d}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_mention",
                "user": f"U{index:04d}",
                "text": f"<@{BOT}> what did I say about project {index}?",
                "ts": ts,
                "channel": CHANNEL,
                "event_ts": ts,
            },
        }
    )
    return ts, body, headers


def completed_at(slack: FakeSlack, thread: str) -> float | None:
    """When the reply in `thread` was last written, or None while it is not complete."""
    replies = [m for m in slack.posted(CHANNEL) if m.thread_ts == thread and not m.deleted]
    if not replies or replies[-1].text != REPLY:
        return None
    ours = {m.ts for m in replies}
    times = [
        c.at
        for c in slack.calls("chat.postMessage") + slack.calls("chat.update")
        if c.args.get("thread_ts") == thread or c.args.get("ts") in ours
    ]
    return max(times) if times else None


async def floor(model_url: str, mentions: int) -> float:
    """The same requests a reply waits on (one embedding, then one streamed completion), made
    directly by `mentions` clients at once: seconds until the last completes."""
    client = AsyncOpenAI(base_url=model_url, api_key="bench", max_retries=0)

    async def one(index: int) -> None:
        await client.embeddings.create(model="text-embedding-3-small", input=f"project {index}")
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"project {index}"}], stream=True
        )
        async for _ in stream:
            pass

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(mentions)))
    await client.close()
    return time.monotonic() - started


async def burst(
    port: int, fakes: Fakes, run: int, mentions: int, admission: Admission
) -> tuple[list[float], int]:
    """Seconds from sending to each reply complete (sorted), and the lowest the adaptive reply
    limit (core.admission) fell to meanwhile: under that, replies wait their turn."""
    url = f"http://127.0.0.1:{port}/slack/events"
    requests = [signed_mention(run, i) for i in range(mentions)]
    lowest = admission.limit.limit

    async def watch_limit() -> None:
        nonlocal lowest
        while True:
            lowest = min(lowest, admission.limit.limit)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch_limit())
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def send(body: bytes, headers: dict[str, str]) -> None:
                async with session.post(url, data=body, headers=headers) as response:
                    if response.status != 200:
                        raise SystemExit(f"a mention was not acknowledged: {response.status}")

            started = time.monotonic()
            await asyncio.gather(*(send(body, headers) for _, body, headers in requests))
            done = await asyncio.to_thread(fakes.completed, [ts for ts, _, _ in requests], started + 30)
    finally:
        watcher.cancel()
    if any(at is None for at in done):
        missing = sum(at is None for at in done)
        raise SystemExit(f"{missing} of {mentions} replies were not complete after 30 s")
    return sorted(at - started for at in done if at is not None), lowest


def _serve_fakes(conn: Connection, mentions: int) -> None:
    """The child process: both fakes, then answers "when was each of these replies complete?"
    (waiting until all are, or the deadline) until told to stop (None)."""
    with FakeOpenAI() as model, FakeSlack(team_id=TEAM, bot_user_id=BOT) as slack:
        model.state.reply = lambda messages: REPLY
        model.state.delay_chat = CHAT_SECONDS
        model.state.delay_embeddings = EMBED_SECONDS
        slack.add_channel(CHANNEL, name="burst")
        for index in range(mentions):
            slack.add_user(f"U{index:04d}", f"Person {index}")
        conn.send((model.base_url, slack.base_url))
        while (request := conn.recv()) is not None:
            threads, deadline = request
            while True:
                done = [completed_at(slack, thread) for thread in threads]
                if all(at is not None for at in done) or time.monotonic() > deadline:
                    conn.send(done)
                    break
                time.sleep(0.002)  # polling its own record; the times come from its clock


class Fakes:
    """The fake model and the fake Slack Web API in a process of their own, as the real services
    are elsewhere: in Mnemo's process their HTTP handling (Python threads) would hold the GIL that
    Mnemo's event loop needs, make the loop late and so cut the adaptive reply limit, which real
    remote services never do. Both processes read the same monotonic clock."""

    def __init__(self, mentions: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_fakes, args=(child, mentions), daemon=True)
        self.model_url = self.slack_url = ""

    def __enter__(self) -> Fakes:
        self._process.start()
        if not self._conn.poll(120):
            raise SystemExit("the fakes' process did not start")
        self.model_url, self.slack_url = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()

    def completed(self, threads: list[str], deadline: float) -> list[float | None]:
        """When each reply (by its thread) was complete, None for those not complete by `deadline`."""
        self._conn.send((threads, deadline))
        done: list[float | None] = self._conn.recv()
        return done


async def main_async(mentions: int, runs: int) -> None:
    port = free_port()
    with Fakes(mentions) as fakes:
        async with bench_core(
            fakes.model_url,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=fakes.slack_url,
            log_level="WARNING",
            host="127.0.0.1",
            port=port,
            scheduler_enabled=False,  # no housekeeping job in the middle of a run
        ) as core:
            # What `python -m bot run` starts: the web server, the Slack front door (acks and
            # records each event in the intake) and the intake worker that answers.
            services = build_services(core.settings, core)
            for service in services:
                await service.start()
            try:
                await burst(port, fakes, 999, 3, core.admission)  # warm-up: connections, caches, accounts
                rows = []
                for run in range(runs):
                    floor_s = await floor(fakes.model_url, mentions)
                    times, lowest = await burst(port, fakes, run, mentions, core.admission)
                    rows.append((floor_s, times[0], statistics.median(times), times[-1]))
                    print(
                        f"run {run + 1}: floor {floor_s:.3f} s | replies complete: first {times[0]:.3f} s, "
                        f"median {statistics.median(times):.3f} s, last {times[-1]:.3f} s | "
                        f"reply limit fell to {lowest}"
                    )
                    assert await core.writer.flush(30)  # memory writes of this run are done
            finally:
                core.orchestrator.stop_accepting()
                for service in reversed(services):
                    await service.stop()
    med = [statistics.median(column) for column in zip(*rows, strict=True)]
    print(
        f"\n{mentions} mentions at once, model {CHAT_SECONDS * 1000:.0f} ms + embedding "
        f"{EMBED_SECONDS * 1000:.0f} ms, medians of {runs} runs:\n"
        f"  floor (direct requests)  {med[0]:.3f} s\n"
        f"  first reply complete     {med[1]:.3f} s\n"
        f"  median reply complete    {med[2]:.3f} s\n"
        f"  last reply complete      {med[3]:.3f} s   (target <= 0.5 s; last / floor {med[3] / med[0]:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mentions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main_async(args.mentions, args.runs))


if __name__ == "__main__":
    main()
