"""POST /v1/chat with `Accept: text/event-stream`: `delta` events as the model streams, then one
`done` (session id, kind, full text) or one `error`; in-process and through the real web server
(uvicorn on loopback), where a client that leaves mid-reply must not lose the reply."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.http.api import build_api_router
from bot.web import WebServer, create_web_app
from core.replies import MODEL_DOWN_REPLY
from tests.adapters.http.conftest import Api
from tests.fakes.openai_server import FakeOpenAI

STREAM = {"Accept": "text/event-stream"}


def parse_events(raw: str) -> list[tuple[str, Any]]:
    events = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


async def test_a_streamed_reply_is_deltas_then_done(api: Api, fake_openai: FakeOpenAI) -> None:
    answer = "Tomatoes need six hours of sun, deep pots and steady watering."
    fake_openai.state.reply = lambda messages: answer
    fake_openai.state.stream_chunk_chars = 7

    response = await api.client.post(
        "/v1/chat", json={"message": "tomato tips?"}, headers={**api.auth(), **STREAM}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_events(response.text)
    names = [name for name, _ in events]
    assert names[-1] == "done"
    assert set(names[:-1]) == {"delta"}
    assert len(names) - 1 == -(-len(answer) // 7)  # one delta per streamed chunk
    assert "".join(data["text"] for name, data in events if name == "delta") == answer
    done = events[-1][1]
    assert done["kind"] == "answer"
    assert done["text"] == answer
    session_id = done["session_id"]
    stored = (await api.client.get(f"/v1/sessions/{session_id}/messages", headers=api.auth())).json()
    assert [m["text"] for m in stored["items"]] == ["tomato tips?", answer]


async def test_a_model_outage_streams_an_apology_as_done(api: Api, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(500, times=10, endpoint="chat")

    response = await api.client.post("/v1/chat", json={"message": "hello"}, headers={**api.auth(), **STREAM})

    events = parse_events(response.text)
    assert [name for name, _ in events] == ["done"]
    assert events[0][1]["kind"] == "apology"
    assert events[0][1]["text"] == MODEL_DOWN_REPLY


async def test_errors_before_the_stream_are_plain_json(api: Api) -> None:
    unauthenticated = await api.client.post("/v1/chat", json={"message": "hi"}, headers=STREAM)
    invalid = await api.client.post("/v1/chat", json={"message": ""}, headers={**api.auth(), **STREAM})

    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == "application/json"
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "validation_error"


async def test_an_idempotent_retry_of_a_stream_replays_the_answer(api: Api, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: "A reply worth replaying."
    headers = {**api.auth(), **STREAM, "Idempotency-Key": "stream-1"}

    first = parse_events((await api.client.post("/v1/chat", json={"message": "hi"}, headers=headers)).text)
    again = parse_events((await api.client.post("/v1/chat", json={"message": "hi"}, headers=headers)).text)
    as_json = await api.client.post(
        "/v1/chat", json={"message": "hi"}, headers={**api.auth(), "Idempotency-Key": "stream-1"}
    )

    assert again == [("delta", {"text": "A reply worth replaying."}), first[-1]]
    assert as_json.json() == first[-1][1]
    assert fake_openai.count("chat") == 1


@pytest.fixture
async def served(api: Api) -> AsyncIterator[tuple[Api, str]]:
    app = create_web_app(api.core, routers=[build_api_router(api.core.assistant, api.settings)])
    web = WebServer(app, host="127.0.0.1", port=0)
    await web.start()
    try:
        yield api, f"http://127.0.0.1:{web.port}"
    finally:
        await web.stop()


async def test_streaming_over_the_real_server(served: tuple[Api, str], fake_openai: FakeOpenAI) -> None:
    api, url = served
    fake_openai.state.reply = lambda messages: "x" * 100
    fake_openai.state.stream_chunk_chars = 10
    async with (
        httpx.AsyncClient(base_url=url) as client,
        client.stream(
            "POST", "/v1/chat", json={"message": "hi"}, headers={**api.auth(), **STREAM}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        raw = "".join([chunk async for chunk in response.aiter_text()])

    events = parse_events(raw)
    assert [n for n, _ in events].count("delta") == 10
    assert events[-1][0] == "done"


async def test_a_client_that_leaves_mid_stream_does_not_lose_the_reply(
    served: tuple[Api, str], fake_openai: FakeOpenAI
) -> None:
    api, url = served
    session_id = (await api.chat("first")).json()["session_id"]
    fake_openai.state.reply = lambda messages: "the slow answer"
    fake_openai.state.delay_chat = 1.0

    async with (
        httpx.AsyncClient(base_url=url) as client,
        client.stream(
            "POST",
            "/v1/chat",
            json={"message": "slow one", "session_id": session_id},
            headers={**api.auth(), **STREAM},
        ) as response,
    ):
        assert response.status_code == 200
        # Leaving the block closed the connection before any event arrived.

    for _ in range(50):
        await asyncio.sleep(0.1)
        page = (await api.client.get(f"/v1/sessions/{session_id}/messages", headers=api.auth())).json()
        if page["total"] == 4:
            break
    assert [m["text"] for m in page["items"]][-2:] == ["slow one", "the slow answer"]
