"""The OpenAI client mem0 gets in place of its own (core.memory.mem0_setup installs it).

mem0 2.2.1's OpenAI embedder and LLM make two calls, `client.embeddings.create(**kwargs)` and
`client.chat.completions.create(**params)`, from mem0's worker threads, and read the answers by
attribute (`.data[i].embedding`, `.data[i].index`, `.choices[0].message.content`, and with tools
`.message.tool_calls[i].function`). The typed SDK walks every request through its pure-Python
params transform and every answer through its pydantic model builder, one Python call per float
of an embedding: GIL-held work that delays the event loop (acks) while those threads run. This
client posts the same JSON through the SDK's documented lower-level `post()` (its auth, retries
with Retry-After and timeouts stay) and decodes the answer with the C JSON decoder into objects
read by attribute.

Token usage: a chat answer's `usage` is added to the calling thread's `TokenMeter`, if one is open
(`metered()`, around one memory write in core.memory.service), so memory extraction counts towards
the person's daily budget (core.budget). A thread-local, because mem0 makes its calls on the thread
that called `Memory.add`, and our executor's threads carry no asyncio context.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from openai import OpenAI


class JsonObject(SimpleNamespace):
    """A JSON object read by attribute. A field the server left out reads as None, as it does on
    the SDK's own response models (which mem0 was written against)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # keep copy/pickle/dunder probing honest
            raise AttributeError(name)
        return None


def decode(text: str) -> Any:
    """JSON text as JsonObjects (objects), lists and scalars; json.JSONDecodeError if not JSON."""
    return json.loads(text, object_hook=lambda fields: JsonObject(**fields))


class TokenMeter:
    """Tokens reported by the chat answers made on one thread while it is open."""

    def __init__(self) -> None:
        self.tokens = 0

    def add(self, answer: Any) -> None:
        usage = getattr(answer, "usage", None)
        for name in ("prompt_tokens", "completion_tokens"):
            value = getattr(usage, name, None) if usage is not None else None
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                self.tokens += value


_meters = threading.local()


@contextmanager
def metered() -> Iterator[TokenMeter]:
    """Count the chat tokens of the calls this thread makes inside the block."""
    meter, outer = TokenMeter(), getattr(_meters, "current", None)
    _meters.current = meter
    try:
        yield meter
    finally:
        _meters.current = outer


class _Endpoint:
    def __init__(self, client: OpenAI, path: str) -> None:
        self._client = client
        self._path = path

    def create(self, *, extra_headers: dict[str, str] | None = None, **params: Any) -> Any:
        """POST `params` as the JSON body (mem0 passes only body fields, plus `extra_headers` in
        its OpenRouter branch). Raises the SDK's exceptions (the openai.OpenAIError family), or
        json.JSONDecodeError when a 2xx answer is not JSON."""
        text = self._client.post(
            self._path,
            body=params,
            cast_to=str,
            # As the typed create(): the API key as a bearer token, never an admin key.
            options={"security": {"bearer_auth": True}, "headers": extra_headers or {}},
        )
        answer = decode(text)
        meter: TokenMeter | None = getattr(_meters, "current", None)
        if meter is not None and self._path == "/chat/completions":
            meter.add(answer)
        return answer


class _Chat:
    def __init__(self, client: OpenAI) -> None:
        self.completions = _Endpoint(client, "/chat/completions")


class Mem0OpenAI:
    """Stands in for `openai.OpenAI` where mem0 uses it: `embeddings.create` answers like a
    `CreateEmbeddingResponse`, `chat.completions.create` like a `ChatCompletion` (attribute reads
    only). The timeout and retry limits are ours, and the base URL is fixed here, so an
    OPENROUTER_API_KEY in the environment cannot reroute mem0's calls."""

    def __init__(self, *, base_url: str, api_key: str, timeout_seconds: float, max_retries: int) -> None:
        self._timeout = timeout_seconds
        self._client = OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=max_retries
        )
        self.embeddings = _Endpoint(self._client, "/embeddings")
        self.chat = _Chat(self._client)

    # The limits and endpoint in force, as on `openai.OpenAI` (tests/core/memory/test_service.py).
    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def max_retries(self) -> int:
        return self._client.max_retries

    def close(self) -> None:
        self._client.close()
