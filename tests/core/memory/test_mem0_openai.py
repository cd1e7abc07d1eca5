"""The OpenAI client mem0 gets (core.memory.mem0_openai): the same wire requests as the typed SDK,
answers mem0 can read the way it reads the SDK's models, the SDK's errors and retries, and mem0
running on it end to end without being rerouted by OPENROUTER_API_KEY."""

from __future__ import annotations

import copy
import json
import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from bot.wiring import build_core
from core.memory.mem0_openai import JsonObject, Mem0OpenAI, decode
from core.models import MemoryOrigin, Platform
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI

# What mem0 2.2.1's OpenAI embedder and LLM pass (mem0/embeddings/openai.py, mem0/llms/openai.py).
EMBED_KWARGS: dict[str, Any] = {
    "input": ["I enjoy hiking ✓"],
    "model": "fake-embed",
    "encoding_format": "float",
    "dimensions": 64,
}
EXTRACT_KWARGS: dict[str, Any] = {
    "temperature": 0.0,
    "top_p": None,
    "max_tokens": 2000,
    "model": "fake-llm",
    "messages": [
        {"role": "system", "content": "Extract facts."},
        {"role": "user", "content": "## New Messages\nuser: I enjoy hiking\n"},
    ],
    "response_format": {"type": "json_object"},
}


def lean_client(fake: FakeOpenAI, *, retries: int = 0) -> Mem0OpenAI:
    return Mem0OpenAI(base_url=fake.base_url, api_key="test-key", timeout_seconds=5.0, max_retries=retries)


@pytest.fixture
def clients(fake_openai: FakeOpenAI) -> Iterator[tuple[OpenAI, Mem0OpenAI]]:
    typed = OpenAI(base_url=fake_openai.base_url, api_key="test-key", timeout=5.0, max_retries=0)
    lean = lean_client(fake_openai)
    yield typed, lean
    typed.close()
    lean.close()


def test_embeddings_same_request_same_vectors(
    fake_openai: FakeOpenAI, clients: tuple[OpenAI, Mem0OpenAI]
) -> None:
    typed, lean = clients
    by_sdk = typed.embeddings.create(**EMBED_KWARGS)
    ours = lean.embeddings.create(**EMBED_KWARGS)
    sdk_request, our_request = fake_openai.state.requests
    assert our_request.path == sdk_request.path == "/v1/embeddings"
    assert our_request.body == sdk_request.body
    assert our_request.headers == sdk_request.headers
    assert len(ours.data) == 1
    assert ours.data[0].index == by_sdk.data[0].index == 0
    assert ours.data[0].embedding == by_sdk.data[0].embedding
    assert len(ours.data[0].embedding) == 64


def test_completion_same_request_same_answer(
    fake_openai: FakeOpenAI, clients: tuple[OpenAI, Mem0OpenAI]
) -> None:
    typed, lean = clients
    by_sdk = typed.chat.completions.create(**EXTRACT_KWARGS)
    ours = lean.chat.completions.create(**EXTRACT_KWARGS)
    sdk_request, our_request = fake_openai.state.requests
    assert our_request.path == sdk_request.path == "/v1/chat/completions"
    assert our_request.body == sdk_request.body
    assert our_request.headers == sdk_request.headers
    content = ours.choices[0].message.content
    assert content == by_sdk.choices[0].message.content
    assert json.loads(content) == {"memory": [{"id": "0", "text": "I enjoy hiking"}]}
    # Fields the server left out read as None, as on the SDK's models (mem0 reads tool_calls).
    assert ours.choices[0].message.tool_calls is None is by_sdk.choices[0].message.tool_calls


def test_extra_headers_are_sent(fake_openai: FakeOpenAI, clients: tuple[OpenAI, Mem0OpenAI]) -> None:
    _, lean = clients
    lean.chat.completions.create(**EXTRACT_KWARGS, extra_headers={"X-Title": "Mnemo"})
    assert fake_openai.state.requests[0].headers["x-title"] == "Mnemo"
    assert "extra_headers" not in fake_openai.state.requests[0].body


def test_server_errors_are_the_sdks_and_are_retried(fake_openai: FakeOpenAI) -> None:
    lean = lean_client(fake_openai, retries=1)
    try:
        fake_openai.fail(500, endpoint="embeddings", retry_after="0.01")
        assert len(lean.embeddings.create(**EMBED_KWARGS).data) == 1
        assert fake_openai.count("embeddings") == 2
        fake_openai.fail(500, times=2, endpoint="embeddings", retry_after="0.01")
        with pytest.raises(openai.InternalServerError):
            lean.embeddings.create(**EMBED_KWARGS)
        fake_openai.fail(429, endpoint="extract", retry_after="3600")  # beyond what the SDK waits for
        with pytest.raises(openai.RateLimitError):
            lean.chat.completions.create(**EXTRACT_KWARGS)
    finally:
        lean.close()


def test_timeout_is_ours(fake_openai: FakeOpenAI) -> None:
    lean = Mem0OpenAI(base_url=fake_openai.base_url, api_key="k", timeout_seconds=0.3, max_retries=0)
    gate = fake_openai.hold("embeddings")
    try:
        with pytest.raises(openai.APITimeoutError):
            lean.embeddings.create(**EMBED_KWARGS)
    finally:
        gate.release()
        lean.close()


def test_an_answer_that_is_not_json(fake_openai: FakeOpenAI, clients: tuple[OpenAI, Mem0OpenAI]) -> None:
    _, lean = clients
    fake_openai.answer_raw(b'{"data": [', endpoint="embeddings")
    with pytest.raises(json.JSONDecodeError):
        lean.embeddings.create(**EMBED_KWARGS)


def test_json_objects_read_by_attribute() -> None:
    value = decode('{"a": {"b": [1.5, {"c": null}]}, "odd-key": 2}')
    assert value.a.b[0] == 1.5
    assert value.a.b[1].c is None
    assert value.missing is None
    assert getattr(value, "odd-key") == 2
    with pytest.raises(AttributeError):
        _ = value._private
    assert copy.deepcopy(value) == value
    assert pickle.loads(pickle.dumps(value)) == value
    assert isinstance(decode("[{}]")[0], JsonObject)


async def test_mem0_remembers_and_recalls_through_it_and_ignores_openrouter(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # mem0 would send its LLM calls to openrouter.ai with this set (platform facts); ours go to the
    # configured endpoint (the offline guard would fail any other connection).
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-should-not-be-used")
    account = uuid.uuid4()
    async with build_core(make_settings(tmp_path, fake_openai)) as core:
        await core.memory.remember(
            account,
            [{"role": "user", "content": "I enjoy hiking"}, {"role": "assistant", "content": "noted"}],
            origin=MemoryOrigin(Platform.CONSOLE, "dm", True),
            epoch=0,
        )
        found = await core.memory.recall(account, "hiking", epoch=0, include_private=True, limit=5)
    assert [item.text for item in found] == ["I enjoy hiking"]
    assert fake_openai.count("extract") == 1
    assert fake_openai.count("embeddings") >= 2
    assert all(r.headers["authorization"] == "Bearer test-key" for r in fake_openai.state.requests)
