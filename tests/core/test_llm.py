"""The chat model client (core.llm) against the loopback OpenAI fake: the wire request, plain and
streamed answers, and every failure mapped to ModelError with the SDK's retries and timeouts intact."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import cast

import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from core.errors import ModelError
from core.llm import ChatMessage, OpenAIChatModel
from tests.fakes.openai_server import FakeOpenAI

PROMPT: list[ChatMessage] = [
    {"role": "system", "content": "You are Mnemo."},
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": "hi there"},
    {"role": "user", "content": "what do you know? ünïcode ✓"},
]
TYPED_PROMPT = cast("list[ChatCompletionMessageParam]", PROMPT)


def chat_model(base_url: str, *, timeout: float = 5.0, retries: int = 0) -> OpenAIChatModel:
    return OpenAIChatModel(
        base_url=base_url,
        api_key="test-key",
        model="fake-chat",
        max_tokens=77,
        timeout_seconds=timeout,
        max_retries=retries,
    )


@pytest.fixture
async def model(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIChatModel]:
    built = chat_model(fake_openai.base_url)
    yield built
    await built.close()


class Deltas:
    def __init__(self) -> None:
        self.pieces: list[str] = []

    async def __call__(self, piece: str) -> None:
        self.pieces.append(piece)


def chat_requests(fake: FakeOpenAI) -> list[dict[str, object]]:
    return [r.body for r in fake.state.requests if r.path.endswith("/chat/completions")]


async def test_plain_answer_is_the_models_text(model: OpenAIChatModel, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: f"{len(messages)} messages seen"
    assert await model.complete(PROMPT) == "4 messages seen"


async def test_streamed_answer_arrives_in_pieces_and_whole(
    model: OpenAIChatModel, fake_openai: FakeOpenAI
) -> None:
    fake_openai.state.reply = lambda messages: "one two three four five six"
    fake_openai.state.stream_chunk_chars = 5
    deltas = Deltas()
    text = await model.complete(PROMPT, on_delta=deltas)
    assert text == "one two three four five six"
    assert deltas.pieces == ["one t", "wo th", "ree f", "our f", "ive s", "ix"]


@pytest.mark.parametrize("streamed", [False, True])
async def test_the_request_is_the_one_the_typed_sdk_sends(
    model: OpenAIChatModel, fake_openai: FakeOpenAI, streamed: bool
) -> None:
    """Skipping the SDK's typed-params walk must not change a byte of what the endpoint sees."""
    typed = AsyncOpenAI(base_url=fake_openai.base_url, api_key="test-key", timeout=5.0, max_retries=0)
    try:
        if streamed:
            stream = await typed.chat.completions.create(
                model="fake-chat",
                messages=TYPED_PROMPT,
                max_tokens=77,
                stream=True,
                stream_options={"include_usage": True},  # asked for, so /metrics counts its tokens
            )
            async with stream:
                chunks = [chunk async for chunk in stream]
            assert chunks
            await model.complete(PROMPT, on_delta=Deltas())
        else:
            await typed.chat.completions.create(model="fake-chat", messages=TYPED_PROMPT, max_tokens=77)
            await model.complete(PROMPT)
    finally:
        await typed.close()
    by_sdk, by_us = fake_openai.state.requests
    assert by_us.path == by_sdk.path == "/v1/chat/completions"
    assert by_us.body == by_sdk.body
    assert by_us.body["messages"] == PROMPT
    assert by_us.headers == by_sdk.headers
    assert by_us.headers["authorization"] == "Bearer test-key"


@pytest.mark.parametrize("streamed", [False, True])
async def test_rate_limit_is_retried_after_the_servers_retry_after(
    fake_openai: FakeOpenAI, streamed: bool
) -> None:
    # The SDK's own backoff would wait at most 0.5 s before the first retry; 1.5 s is the server's.
    model = chat_model(fake_openai.base_url, retries=1)
    fake_openai.fail(429, endpoint="chat", retry_after="1.5")
    fake_openai.state.reply = lambda messages: "after the wait"
    try:
        text = await model.complete(PROMPT, on_delta=Deltas() if streamed else None)
    finally:
        await model.close()
    assert text == "after the wait"
    first, second = (r.at for r in fake_openai.state.requests)
    assert second - first >= 1.5


async def test_rate_limit_beyond_what_the_sdk_waits_for_fails_at_once(fake_openai: FakeOpenAI) -> None:
    model = chat_model(fake_openai.base_url, retries=2)
    fake_openai.fail(429, endpoint="chat", retry_after="3600")
    try:
        with pytest.raises(ModelError, match="rate limited") as caught:
            await model.complete(PROMPT)
    finally:
        await model.close()
    assert caught.value.retryable
    assert fake_openai.count("chat") == 1


@pytest.mark.parametrize("streamed", [False, True])
async def test_server_errors_are_retried_then_reported(fake_openai: FakeOpenAI, streamed: bool) -> None:
    model = chat_model(fake_openai.base_url, retries=1)
    on_delta = Deltas() if streamed else None
    fake_openai.state.reply = lambda messages: "recovered"
    try:
        fake_openai.fail(500, endpoint="chat", retry_after="0.01")
        assert await model.complete(PROMPT, on_delta=on_delta) == "recovered"
        assert fake_openai.count("chat") == 2
        fake_openai.fail(500, times=2, endpoint="chat", retry_after="0.01")
        with pytest.raises(ModelError, match="model error 500") as caught:
            await model.complete(PROMPT, on_delta=on_delta)
    finally:
        await model.close()
    assert caught.value.retryable
    assert fake_openai.count("chat") == 4


async def test_a_refused_request_is_not_retryable(model: OpenAIChatModel, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(400, endpoint="chat")
    with pytest.raises(ModelError, match="model error 400") as caught:
        await model.complete(PROMPT)
    assert not caught.value.retryable


@pytest.mark.parametrize("streamed", [False, True])
async def test_timeout(fake_openai: FakeOpenAI, streamed: bool) -> None:
    model = chat_model(fake_openai.base_url, timeout=0.3)
    gate = fake_openai.hold("chat")
    try:
        with pytest.raises(ModelError, match="model timed out"):
            await model.complete(PROMPT, on_delta=Deltas() if streamed else None)
        await gate.arrived()
    finally:
        gate.release()
        await model.close()


async def test_connection_refused() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = chat_model(f"http://127.0.0.1:{port}/v1")
    try:
        with pytest.raises(ModelError, match="model unreachable"):
            await model.complete(PROMPT)
        with pytest.raises(ModelError, match="model endpoint unreachable"):
            await model.ping()
    finally:
        await model.close()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"choices": [{"message": {"content": "cut', "application/json"),  # truncated
        (b"<html>Bad gateway</html>", "text/html"),  # a proxy's page
        (b"[1, 2]", "application/json"),  # JSON, but not a completion
        (b'{"choices": [{"message": "hello"}]}', "application/json"),
        (b'{"choices": [{"message": {"content": 42}}]}', "application/json"),
    ],
)
async def test_an_answer_that_is_not_a_completion(
    model: OpenAIChatModel, fake_openai: FakeOpenAI, body: bytes, content_type: str
) -> None:
    fake_openai.answer_raw(body, content_type=content_type, endpoint="chat")
    with pytest.raises(ModelError, match="not a completion"):
        await model.complete(PROMPT)


@pytest.mark.parametrize(
    "body",
    [
        b'data: {"choices": [{"delta": {"content": "cut\n\n',  # truncated JSON in an event
        b'data: ["not", "a", "chunk"]\n\n',
    ],
)
async def test_a_stream_that_is_not_a_completion(
    model: OpenAIChatModel, fake_openai: FakeOpenAI, body: bytes
) -> None:
    fake_openai.answer_raw(body, content_type="text/event-stream", endpoint="chat")
    with pytest.raises(ModelError, match="not a completion"):
        await model.complete(PROMPT, on_delta=Deltas())


async def test_an_error_event_in_the_stream(model: OpenAIChatModel, fake_openai: FakeOpenAI) -> None:
    fake_openai.answer_raw(
        b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n'
        b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n',
        content_type="text/event-stream",
        endpoint="chat",
    )
    deltas = Deltas()
    with pytest.raises(ModelError, match="overloaded"):
        await model.complete(PROMPT, on_delta=deltas)
    assert deltas.pieces == ["Hel"]


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("answer", ["", "  \n "])
async def test_an_empty_answer(
    model: OpenAIChatModel, fake_openai: FakeOpenAI, streamed: bool, answer: str
) -> None:
    fake_openai.state.reply = lambda messages: answer
    with pytest.raises(ModelError, match="empty answer"):
        await model.complete(PROMPT, on_delta=Deltas() if streamed else None)


@pytest.mark.parametrize(
    "body",
    [
        b'{"choices": []}',
        b'{"choices": [{"message": {"role": "assistant", "content": null}}]}',
        b'{"id": "x"}',
    ],
)
async def test_a_completion_without_text_is_an_empty_answer(
    model: OpenAIChatModel, fake_openai: FakeOpenAI, body: bytes
) -> None:
    fake_openai.answer_raw(body, endpoint="chat")
    with pytest.raises(ModelError, match="empty answer"):
        await model.complete(PROMPT)


async def test_stream_chunks_without_text_are_skipped(
    model: OpenAIChatModel, fake_openai: FakeOpenAI
) -> None:
    fake_openai.answer_raw(
        b'data: {"choices": [{"delta": {"role": "assistant"}}]}\n\n'
        b'data: {"choices": [{"delta": {"content": "Hi"}}]}\n\n'
        b'data: {"choices": [{"delta": {"content": null}, "finish_reason": "stop"}]}\n\n'
        b'data: {"choices": [], "usage": {"total_tokens": 3}}\n\n'
        b"data: [DONE]\n\n",
        content_type="text/event-stream",
        endpoint="chat",
    )
    deltas = Deltas()
    assert await model.complete(PROMPT, on_delta=deltas) == "Hi"
    assert deltas.pieces == ["Hi"]


async def test_ping(model: OpenAIChatModel, fake_openai: FakeOpenAI) -> None:
    await model.ping()
    assert [r.path for r in fake_openai.state.requests] == []  # a GET, not a completion
