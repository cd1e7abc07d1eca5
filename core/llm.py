"""The chat model: a port and its OpenAI-compatible implementation (OpenAI, Ollama, vLLM, OpenRouter...).

Requests go through the SDK's documented lower-level path, `client.post(path, body=..., cast_to=object)`:
the SDK still builds the request, authenticates, retries (backoff with jitter, Retry-After), times out,
decodes SSE and turns HTTP failures into its exceptions, but it neither walks the typed params (its
pure-Python transform costs milliseconds per call with a 20-message prompt, on the event loop) nor
builds a pydantic model per response or per streamed chunk. We read the one field we need from the
JSON ourselves (`answer_text`, `delta_text`); bench/model_request.py times both paths side by side.

Token usage (core.budget) is read from the answer's `usage` the same way (`usage_of`); streamed
requests ask for it with `stream_options.include_usage` (OpenAI, vLLM, Ollama, OpenRouter and
llama.cpp's server send it as a last chunk; a server that sends none gives no usage).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import openai
from openai import AsyncOpenAI, AsyncStream

from core import metrics
from core.errors import ModelError

ChatMessage = dict[str, str]
OnDelta = Callable[[str], Awaitable[None]]

CHAT_PATH = "/chat/completions"


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """What the model reported spending on one request."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


OnUsage = Callable[[TokenUsage], None]


class ChatModel(Protocol):
    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        on_delta: OnDelta | None = None,
        on_usage: OnUsage | None = None,
        model: str | None = None,
    ) -> str:
        """The model's answer. With `on_delta`, the answer is streamed and each new piece of text is
        passed to it as it arrives; the full text is still returned. `on_usage` gets the tokens the
        model reports spending, if it reports any (also when the answer then fails, e.g. empty).
        `model` names another model than the configured one for this request. Raises ModelError."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class MalformedAnswerError(ValueError):
    """The endpoint answered 2xx with something that is not a chat completion."""


def answer_text(data: object) -> str | None:
    """The text of a non-streamed chat completion (`choices[0].message.content`); None when the
    model gave no text. MalformedAnswerError when `data` is not shaped like a completion."""
    if not isinstance(data, dict):
        raise MalformedAnswerError(f"expected a JSON object, got {type(data).__name__}")
    choices = data.get("choices")
    if not choices:  # as the typed SDK read it: no choices is an empty answer
        return None
    first = choices[0] if isinstance(choices, list) else None
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        raise MalformedAnswerError("completion without a message")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise MalformedAnswerError("message content is not text")
    return content


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def usage_of(data: object) -> TokenUsage | None:
    """The `usage` of a completion or of a stream's last chunk: prompt + completion tokens (or
    `total_tokens` alone, counted as prompt). None when absent or not numbers: usage never fails
    an answer."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    if prompt is None and completion is None:
        total = _count(usage.get("total_tokens"))
        return None if total is None else TokenUsage(total, 0)
    return TokenUsage(prompt or 0, completion or 0)


def delta_text(chunk: object) -> str | None:
    """The new text in one streamed chunk (`choices[0].delta.content`); None for chunks that carry
    none (role announcements, usage, finish). MalformedAnswerError when the chunk is not a chunk."""
    if not isinstance(chunk, dict):
        raise MalformedAnswerError(f"expected a JSON object per chunk, got {type(chunk).__name__}")
    choices = chunk.get("choices")
    if not choices:
        return None
    first = choices[0] if isinstance(choices, list) else None
    delta = first.get("delta") if isinstance(first, dict) else None
    if delta is None:
        return None
    if not isinstance(delta, dict):
        raise MalformedAnswerError("chunk delta is not an object")
    content = delta.get("content")
    if content is not None and not isinstance(content, str):
        raise MalformedAnswerError("chunk content is not text")
    return content


class OpenAIChatModel:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        max_tokens: int,
        timeout_seconds: float,
        max_retries: int,
    ) -> None:
        # The SDK's own retry loop does exponential backoff with jitter and honours Retry-After.
        self._client = AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout_seconds,
            max_retries=max_retries,
        )
        self._model = model
        self._max_tokens = max_tokens

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        on_delta: OnDelta | None = None,
        on_usage: OnUsage | None = None,
        model: str | None = None,
        json_object: bool = False,
    ) -> str:
        """See ChatModel.complete. `model` overrides the configured model for this request (a
        channel's own model, core.channel_settings). `json_object` asks for an answer that is one
        JSON object (OpenAI's JSON mode, as mem0's extraction does; the prompt must say "JSON")."""
        body: dict[str, Any] = {
            "model": model or self._model,
            "messages": messages,
            "max_tokens": self._max_tokens,
        }
        if json_object:
            body["response_format"] = {"type": "json_object"}
        try:
            if on_delta is None:
                # As the typed create(): the API key as a bearer token, never an admin key.
                data = await self._client.post(
                    CHAT_PATH, body=body, cast_to=object, options={"security": {"bearer_auth": True}}
                )
                usage = usage_of(data)
                if usage is not None and on_usage is not None:
                    on_usage(usage)
                text = answer_text(data)
                metrics.count_usage(data)
            else:
                text = await self._stream(body, on_delta, on_usage)
        except openai.RateLimitError as exc:
            raise ModelError(f"model rate limited: {exc}") from exc
        except openai.APITimeoutError as exc:
            raise ModelError("model timed out") from exc
        except openai.APIConnectionError as exc:
            raise ModelError(f"model unreachable: {exc}") from exc
        except openai.APIStatusError as exc:
            raise ModelError(f"model error {exc.status_code}", retryable=exc.status_code >= 500) from exc
        except openai.OpenAIError as exc:
            raise ModelError(f"model error: {exc}") from exc
        except (json.JSONDecodeError, MalformedAnswerError) as exc:
            # A 2xx that is not a completion (a proxy's error page, a truncated body): the typed
            # SDK let these escape as raw exceptions; here they are the model failing.
            raise ModelError(f"model answered something that is not a completion: {exc}") from exc
        if not text or not text.strip():
            raise ModelError("model returned an empty answer")
        return text

    async def _stream(self, body: dict[str, Any], on_delta: OnDelta, on_usage: OnUsage | None) -> str:
        stream = await self._client.post(
            CHAT_PATH,
            # include_usage: the last chunk then carries `usage` (tokens in /metrics); servers that
            # do not know the option ignore it.
            body={**body, "stream": True, "stream_options": {"include_usage": True}},
            cast_to=object,
            options={"security": {"bearer_auth": True}},
            stream=True,
            stream_cls=AsyncStream[object],
        )
        parts: list[str] = []
        async with stream:
            async for chunk in stream:
                metrics.count_usage(chunk)  # the last chunk carries `usage` where the server sends it
                usage = usage_of(chunk)
                if usage is not None and on_usage is not None:
                    on_usage(usage)
                piece = delta_text(chunk)
                if piece:
                    parts.append(piece)
                    await on_delta(piece)
        return "".join(parts)

    async def ping(self) -> None:
        try:
            await self._client.models.list()
        except openai.OpenAIError as exc:
            raise ModelError(f"model endpoint unreachable: {exc}") from exc

    async def close(self) -> None:
        await self._client.close()
