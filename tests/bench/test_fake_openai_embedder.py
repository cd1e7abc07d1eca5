"""The loopback fake OpenAI server with a pluggable embedder (bench/memory_quality.py plugs in a real
model); without one it keeps its hashed bag of words, which every other test relies on."""

from __future__ import annotations

import threading

import openai
import pytest

from tests.fakes.openai_server import FakeOpenAI, embed_text


def _client(fake: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0)


def test_without_an_embedder_the_vectors_are_the_hashed_bag_of_words() -> None:
    with FakeOpenAI() as fake:
        response = _client(fake).embeddings.create(model="m", input=["a cat", "a dog"], dimensions=16)
    assert [d.embedding for d in response.data] == [embed_text("a cat", 16), embed_text("a dog", 16)]


def test_a_given_embedder_gets_every_text_of_a_request_at_once() -> None:
    calls: list[list[str]] = []
    lock = threading.Lock()

    def embed(texts: list[str]) -> list[list[float]]:
        with lock:
            calls.append(texts)
        return [[float(len(t)), 1.0, 0.0] for t in texts]

    with FakeOpenAI(embed=embed) as fake:
        response = _client(fake).embeddings.create(model="m", input=["a", "bcd"], dimensions=3)
    assert calls == [["a", "bcd"]]
    assert [d.embedding for d in response.data] == [[1.0, 1.0, 0.0], [3.0, 1.0, 0.0]]


def test_an_embedder_of_other_dimensions_is_a_clear_400() -> None:
    with (
        FakeOpenAI(embed=lambda texts: [[0.5, 0.5] for _ in texts]) as fake,
        pytest.raises(openai.BadRequestError, match="gives \\[2\\] dimensions, 3 were asked"),
    ):
        _client(fake).embeddings.create(model="m", input=["a"], dimensions=3)


def test_without_asked_dimensions_the_embedder_gives_its_own() -> None:
    with FakeOpenAI(embed=lambda texts: [[0.5, 0.5] for _ in texts]) as fake:
        response = _client(fake).embeddings.create(model="m", input=["a"])
    assert response.data[0].embedding == [0.5, 0.5]


def test_a_failing_embedder_is_a_500_that_says_why() -> None:
    def broken(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("model not loaded")

    with FakeOpenAI(embed=broken) as fake:
        with pytest.raises(openai.InternalServerError, match="embedder failed: model not loaded"):
            _client(fake).embeddings.create(model="m", input=["a"], dimensions=3)
        # The server keeps serving after it.
        assert fake.count("embeddings") == 1
        with pytest.raises(openai.InternalServerError):
            _client(fake).embeddings.create(model="m", input=["b"], dimensions=3)
        assert fake.count("embeddings") == 2
