"""What Slack sends, for the benches that post to Mnemo's /slack/events (bench/slack_ack.py,
bench/mention_burst.py): event envelopes signed as Slack signs them, a stream of mentions and
channel chatter, and an open-loop sender that times each acknowledgement. Imports nothing of
Mnemo: slack_ack's --baseline runs another checkout's code in its app processes."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from typing import Any

from open_loop import open_loop  # bench/, beside this file

SECRET = "bench-signing-secret-0123456789ab"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def signed(envelope: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body and headers of `envelope` as Slack posts it, signed with SECRET now."""
    body = json.dumps(envelope).encode()
    now = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{now}:".encode() + body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": now,
        "X-Slack-Signature": f"v0={digest}",
    }


def stream_event(index: int, share: float) -> dict[str, Any]:
    """Event `index` of a stream where `share` of the events are for Mnemo (mentions) and the rest
    is channel chatter Mnemo is subscribed to but must not answer (top-level messages, and replies
    in threads it is not part of)."""
    ts = f"{1_760_000_000 + index}.{index:06d}"
    user = f"U{index % 20:04d}"  # 20 people
    for_mnemo = int((index + 1) * share) != int(index * share)
    if for_mnemo:
        text = f"<@UMNEMO> message {index}: remember that my number is {index}"
        return {
            "type": "app_mention",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": "C0BENCH",
            "event_ts": ts,
        }
    event = {
        "type": "message",
        "channel_type": "channel",
        "user": user,
        "text": f"chatter {index}",
        "ts": ts,
        "channel": "C0BENCH",
        "event_ts": ts,
    }
    if index % 3 == 0:
        event["thread_ts"] = f"{1_700_000_000 + index}.000001"
    return event


def stream_envelope(index: int, share: float) -> dict[str, Any]:
    return {
        "team_id": "T0BENCH",
        "api_app_id": "A0BENCH",
        "type": "event_callback",
        "event_id": f"Ev{index:010d}",
        "event_time": int(time.time()),
        "event": stream_event(index, share),
    }


async def load(port: int, *, events: int, rate: float, offset: int, share: float) -> list[float]:
    """Post `events` events of the stream at `rate` per second (open loop: a slow ack does not slow
    the sender), from `offset` on; each one's time to its HTTP response, in ms."""
    import aiohttp

    url = f"http://127.0.0.1:{port}/slack/events"
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(index: int) -> None:
            nonlocal failures
            body, headers = signed(stream_envelope(offset + index, share))
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    failures += 1
            latencies.append((time.perf_counter() - started) * 1000)

        await open_loop(events, rate, one)
    if failures:
        raise SystemExit(f"{failures} requests were not acknowledged with 200")
    return latencies
