"""Slack's assistant pane: Web API calls and model stalls per answer, native streaming
(chat.startStream/appendStream/stopStream, adapters/slack/pane_reply.py) against the
post-then-edit writer (adapters/common/reply_writer.py, the baseline), same run, same fake Slack.

A simulated model writes an answer in pieces at a steady pace. For each way of showing it:
Web API calls per answer, time until the first words are visible, and how long the model was held
up in on_delta (it should never wait for Slack). Medians over the runs.

    python bench/slack_pane_stream.py [--runs 5] [--chars 2400] [--piece 40] [--pace-ms 15]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common.reply_writer import Pacing, ReplyWriter
from adapters.slack.listeners import SlackThread
from adapters.slack.pane_reply import PaneReply
from adapters.slack.render import feedback_blocks
from adapters.slack.translate import reply_messages
from adapters.slack.web_api import retry_handlers
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack

THREAD = "1750000000.000100"
API_CALLS = ("chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream")


async def one_answer(
    slack: FakeSlack, client: AsyncWebClient, *, native: bool, args: argparse.Namespace, channel: str
) -> tuple[int, float, float]:
    before = sum(slack.count(m) for m in API_CALLS)
    layout = functools.partial(reply_messages, limit=3000)
    pacing = Pacing(interval=1.0)  # the adapter's default
    target = SlackThread(client, channel=channel, thread_ts=THREAD)
    answer = ("lorem ipsum dolor sit amet " * (args.chars // 27 + 1))[: args.chars]
    pieces = [answer[i : i + args.piece] for i in range(0, len(answer), args.piece)]
    start = time.perf_counter()
    held = 0.0
    if native:
        stream = functools.partial(
            client.chat_stream,
            channel=channel,
            thread_ts=THREAD,
            recipient_team_id="T0TEAM",
            recipient_user_id="U0BENCH",
        )
        reply = PaneReply(
            client=client,
            channel=channel,
            thread_ts=THREAD,
            start_stream=stream,
            fallback=target,
            layout=layout,
            pacing=pacing,
        )
        on_delta = reply.on_delta
    else:
        writer: ReplyWriter[str] = ReplyWriter(target, layout=layout, pacing=pacing)
        on_delta = writer.on_delta
    first_seen: float | None = None
    for piece in pieces:
        t0 = time.perf_counter()
        await on_delta(piece)
        held += time.perf_counter() - t0
        await asyncio.sleep(args.pace_ms / 1000)  # the model's pace
        if first_seen is None and any(m.text for m in slack.posted(channel)):
            first_seen = time.perf_counter() - start
    if native:
        await reply.finish(answer, blocks=feedback_blocks())
    else:
        await writer.finish(answer)
    calls = sum(slack.count(m) for m in API_CALLS) - before
    return calls, (first_seen or time.perf_counter() - start) * 1000, held * 1000


async def main(args: argparse.Namespace) -> None:
    results: dict[bool, list[tuple[int, float, float]]] = {True: [], False: []}
    with FakeSlack() as slack:
        async with aiohttp.ClientSession() as session:
            client = AsyncWebClient(
                token=BOT_TOKEN, base_url=slack.base_url, session=session, retry_handlers=retry_handlers()
            )
            for run in range(args.runs):  # interleaved, so both see the same machine
                for native in (False, True):
                    channel = f"D0BENCH{run}{'N' if native else 'P'}"  # one DM per answer
                    results[native].append(
                        await one_answer(slack, client, native=native, args=args, channel=channel)
                    )
    print(
        f"{args.chars} characters in pieces of {args.piece}, one every {args.pace_ms} ms; "
        f"medians of {args.runs} runs"
    )
    base = results[False]
    for native, label in ((False, "post-then-edit (baseline)"), (True, "native stream")):
        rows = results[native]
        calls = statistics.median(r[0] for r in rows)
        first = statistics.median(r[1] for r in rows)
        held = statistics.median(r[2] for r in rows)
        ratio = calls / statistics.median(r[0] for r in base)
        print(
            f"{label:28} Web API calls {calls:5.1f} ({ratio:4.2f}x)  "
            f"first words after {first:7.1f} ms  model held up {held:6.2f} ms in total"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chars", type=int, default=2400)
    parser.add_argument("--piece", type=int, default=40)
    parser.add_argument("--pace-ms", type=float, default=15.0)
    asyncio.run(main(parser.parse_args()))
