"""Token usage as the model reports it (core.llm.usage_of, `on_usage`), plain and streamed, and the
per-request model override (a channel's own model), against the loopback OpenAI fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.errors import ModelError
from core.llm import ChatMessage, OpenAIChatModel, TokenUsage, usage_of
from tests.fakes.openai_server import FakeOpenAI

PROMPT: list[ChatMessage] = [{"role": "user", "content": "hello"}]


@pytest.fixture
async def model(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIChatModel]:
    built = OpenAIChatModel(
        base_url=fake_openai.base_url,
        api_key="test-key",
        model="fake-chat",
        max_tokens=77,
        timeout_seconds=5.0,
        max_retries=0,
    )
    yield built
    await built.close()


async def ignore(_: str) -> None:
    return None


@pytest.mark.parametrize("streamed", [False, True])
async def test_the_reported_usage_reaches_on_usage(
    model: OpenAIChatModel, fake_openai: FakeOpenAI, streamed: bool
) -> None:
    fake_openai.state.usage = (120, 30)
    seen: list[TokenUsage] = []
    await model.complete(PROMPT, on_delta=ignore if streamed else None, on_usage=seen.append)
    assert seen == [TokenUsage(120, 30)]
    assert seen[0].total == 150


async def test_a_streamed_request_asks_for_usage(model: OpenAIChatModel, fake_openai: FakeOpenAI) -> None:
    await model.complete(PROMPT, on_delta=ignore)
    [request] = fake_openai.state.requests
    assert request.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_server_that_reports_no_usage_gives_none_and_still_answers(
    model: OpenAIChatModel, fake_openai: FakeOpenAI, streamed: bool
) -> None:
    fake_openai.state.report_usage = False
    seen: list[TokenUsage] = []
    answer = await model.complete(PROMPT, on_delta=ignore if streamed else None, on_usage=seen.append)
    assert answer.startswith("ECHO")
    assert seen == []


async def test_usage_of_an_empty_answer_is_still_reported(
    model: OpenAIChatModel, fake_openai: FakeOpenAI
) -> None:
    fake_openai.answer_raw(
        b'{"choices": [{"message": {"content": ""}}], "usage": {"prompt_tokens": 9, "completion_tokens": 0}}',
        endpoint="chat",
    )
    seen: list[TokenUsage] = []
    with pytest.raises(ModelError, match="empty answer"):
        await model.complete(PROMPT, on_usage=seen.append)
    assert seen == [TokenUsage(9, 0)]


@pytest.mark.parametrize(
    ("data", "usage"),
    [
        ({"usage": {"prompt_tokens": 3, "completion_tokens": 4}}, TokenUsage(3, 4)),
        ({"usage": {"total_tokens": 7}}, TokenUsage(7, 0)),
        ({"usage": {"prompt_tokens": 5}}, TokenUsage(5, 0)),
        ({"usage": None}, None),
        ({"usage": {"prompt_tokens": "many"}}, None),
        ({"usage": {"prompt_tokens": -1, "completion_tokens": True}}, None),
        ({}, None),
        ([], None),
    ],
)
def test_usage_of_reads_numbers_and_ignores_the_rest(data: object, usage: TokenUsage | None) -> None:
    assert usage_of(data) == usage


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_request_may_name_another_model(
    model: OpenAIChatModel, fake_openai: FakeOpenAI, streamed: bool
) -> None:
    await model.complete(PROMPT, on_delta=ignore if streamed else None, model="channel-model")
    await model.complete(PROMPT, on_delta=ignore if streamed else None)
    assert [r.body["model"] for r in fake_openai.state.requests] == ["channel-model", "fake-chat"]
