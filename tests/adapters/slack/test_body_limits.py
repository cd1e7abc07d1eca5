"""HTTP mode never holds more than MAX_BODY_BYTES of a request body: a declared Content-Length over
the cap is refused before anything is read, a body sent without one (or with a lying one) is read
as a stream and refused as soon as it passes the cap. Huge bodies are streamed from generators
(nothing of that size exists in the test either), through uvicorn on a loopback socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from adapters.slack.http_gate import MAX_BODY_BYTES
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import SlackHarness

HUGE = 200 * 1024 * 1024
BLOCK = b"x" * 65536
# What may be in flight when the answer comes: the cap plus the socket buffers on both sides.
# Reading the whole body first (the old behaviour) answers only after all 200 MB.
EARLY = 24 * 1024 * 1024
# Peak traced memory while a 200 MB body is refused; buffering it cost ~400 MB.
BOUNDED = 16 * 1024 * 1024


@dataclass
class Exchange:
    status: int
    sent_before_answer: int


async def stream_raw(
    harness: SlackHarness, *, headers: dict[str, str], total: int, chunked: bool
) -> Exchange:
    """POST `total` bytes over a raw socket while watching for the answer, the way a client that
    reads early responses (curl) does, and stop sending once it comes."""
    port = harness.http.base_url.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if chunked:
        headers = headers | {"Transfer-Encoding": "chunked"}
    head = "POST /slack/events HTTP/1.1\r\nHost: mnemo.test\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    writer.write(head.encode())
    answered = asyncio.Event()
    sent = 0

    async def pump() -> None:
        nonlocal sent
        while sent < total and not answered.is_set():
            piece = BLOCK[: total - sent]
            writer.write(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
            await writer.drain()
            await asyncio.sleep(0)  # let the server (same event loop) take its turn
        if chunked and not answered.is_set():
            writer.write(b"0\r\n\r\n")

    pumping = asyncio.create_task(pump())
    try:
        status_line = await asyncio.wait_for(reader.readline(), timeout=60)
        answered.set()
        at_answer = sent
        with contextlib.suppress(ConnectionError):
            await pumping
    finally:
        pumping.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return Exchange(int(status_line.split()[1]), at_answer)


@contextlib.contextmanager
def traced_peak() -> Iterator[list[int]]:
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
        peak.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def forged_headers(**extra: str) -> dict[str, str]:
    # Looks like Slack's; the signature cannot match a body that has not been read yet.
    return {"Content-Type": "application/json", **p.sign(b"something else"), **extra}


async def test_a_declared_200mb_body_is_refused_before_it_is_read(slack_server: SlackHarness) -> None:
    with traced_peak() as peak:
        exchange = await stream_raw(
            slack_server, headers=forged_headers(**{"Content-Length": str(HUGE)}), total=HUGE, chunked=False
        )

    assert exchange.status == 413
    assert exchange.sent_before_answer < EARLY
    assert peak[0] < BOUNDED


async def test_a_chunked_200mb_body_is_refused_once_past_the_cap(slack_server: SlackHarness) -> None:
    with traced_peak() as peak:
        exchange = await stream_raw(slack_server, headers=forged_headers(), total=HUGE, chunked=True)

    assert exchange.status == 413
    assert exchange.sent_before_answer < EARLY
    assert peak[0] < BOUNDED


async def test_a_lying_small_content_length_does_not_lift_the_cap(slack_server: SlackHarness) -> None:
    # uvicorn frames the body by Transfer-Encoding and still shows the app "Content-Length: 100".
    headers = forged_headers(**{"Content-Length": "100"})
    with traced_peak() as peak:
        exchange = await stream_raw(slack_server, headers=headers, total=HUGE, chunked=True)

    assert exchange.status == 413
    assert exchange.sent_before_answer < EARLY
    assert peak[0] < BOUNDED


async def test_a_client_that_sends_everything_still_gets_a_clean_413(slack_server: SlackHarness) -> None:
    produced = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal produced
        while produced < HUGE:
            produced += len(BLOCK)
            yield BLOCK

    with traced_peak() as peak:
        # httpx sends chunked (no Content-Length) and reads the answer after the last byte: the
        # server discards what comes after its answer instead of keeping it.
        response = await slack_server.http.post("/slack/events", content=body(), headers=forged_headers())

    assert response.status_code == 413
    assert response.json() == {"ok": False, "error": "request body too large"}
    assert peak[0] < BOUNDED


def padded_event(size: int) -> bytes:
    """A signed-able event callback of exactly `size` bytes."""
    envelope: dict[str, Any] = p.envelope(p.app_mention("padded but genuine")) | {"pad": ""}
    bare = len(json.dumps(envelope).encode())
    envelope["pad"] = "x" * (size - bare)
    body = json.dumps(envelope).encode()
    assert len(body) == size
    return body


async def test_a_body_exactly_at_the_limit_is_answered(slack_server: SlackHarness) -> None:
    body = padded_event(MAX_BODY_BYTES)

    response = await slack_server.post(body, {"Content-Type": "application/json", **p.sign(body)})
    await slack_server.settle()

    assert response.status_code == 200
    assert slack_server.slack.count("chat.postMessage") == 1


async def test_one_byte_over_the_limit_is_refused_signed_or_not(slack_server: SlackHarness) -> None:
    body = padded_event(MAX_BODY_BYTES + 1)

    response = await slack_server.post(body, {"Content-Type": "application/json", **p.sign(body)})
    await slack_server.settle()

    assert response.status_code == 413
    assert slack_server.model.count("chat") == 0


async def test_a_chunked_body_without_content_length_is_answered(slack_server: SlackHarness) -> None:
    body, headers = p.json_request(p.envelope(p.app_mention("sent in pieces")))

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = await slack_server.http.post("/slack/events", content=pieces(), headers=headers)
    await slack_server.settle()

    assert response.status_code == 200
    assert "content-length" not in response.request.headers
    assert slack_server.slack.count("chat.postMessage") == 1


async def test_a_chunked_body_over_the_cap_is_refused_in_process(slack_http: SlackHarness) -> None:
    """Through the ASGI transport (no server framing at all): the app alone stops reading."""
    produced = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal produced
        while produced < HUGE:
            produced += len(BLOCK)
            yield BLOCK

    headers = forged_headers(**{"Content-Length": "100"})
    response = await slack_http.http.post("/slack/events", content=body(), headers=headers)

    assert response.status_code == 413
    assert produced <= MAX_BODY_BYTES + len(BLOCK)


async def test_bad_content_lengths_get_a_4xx(slack_http: SlackHarness) -> None:
    body, headers = p.json_request(p.envelope(p.app_mention("never answered")))
    # "²" is a latin-1 digit to str.isdigit(); 5,000 digits are past what int() will parse.
    cases = {"soon": 400, "\u00b2": 400, "-5": 400, "1e3": 400, "1" * 5000: 413}

    statuses = {}
    for value in cases:
        sent = headers | {"Content-Length": value.encode("latin-1")}
        statuses[value] = (await slack_http.post(body, sent)).status_code
    await slack_http.settle()

    assert statuses == cases
    assert slack_http.model.count("chat") == 0
