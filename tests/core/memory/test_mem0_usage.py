"""Memory extraction's token usage (core.memory.mem0_openai.metered): chat answers made on the
metering thread count, embeddings and other threads' calls do not."""

from __future__ import annotations

import threading
from typing import Any

from core.memory.mem0_openai import Mem0OpenAI, metered
from tests.fakes.openai_server import FakeOpenAI

EXTRACT: dict[str, Any] = {
    "model": "fake-llm",
    "messages": [{"role": "user", "content": "## New Messages\nuser: I enjoy hiking\n"}],
    "response_format": {"type": "json_object"},
}


def test_chat_answers_on_this_thread_are_counted_and_embeddings_are_not(fake_openai: FakeOpenAI) -> None:
    fake_openai.state.usage = (30, 12)
    client = Mem0OpenAI(base_url=fake_openai.base_url, api_key="k", timeout_seconds=5.0, max_retries=0)
    try:
        client.chat.completions.create(**EXTRACT)  # outside a meter: counted nowhere
        with metered() as meter:
            client.chat.completions.create(**EXTRACT)
            client.chat.completions.create(**EXTRACT)
            client.embeddings.create(input=["x"], model="fake-embed", encoding_format="float")
            other = threading.Thread(target=lambda: client.chat.completions.create(**EXTRACT))
            other.start()
            other.join()
        assert meter.tokens == 2 * 42
        with metered() as inner_free:
            pass
        assert inner_free.tokens == 0
    finally:
        client.close()


def test_an_answer_without_usage_counts_nothing(fake_openai: FakeOpenAI) -> None:
    fake_openai.state.report_usage = False
    client = Mem0OpenAI(base_url=fake_openai.base_url, api_key="k", timeout_seconds=5.0, max_retries=0)
    try:
        with metered() as meter:
            client.chat.completions.create(**EXTRACT)
        assert meter.tokens == 0
    finally:
        client.close()
