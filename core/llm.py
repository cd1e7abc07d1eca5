"""The chat model: a port and its OpenAI-compatible implementation (OpenAI, Ollama, vLLM, OpenRouter...)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionChunk

from core.errors import ModelError

ChatMessage = dict[str, str]
OnDelta = Callable[[str], Awaitable[None]]


class ChatModel(Protocol):
    async def complete(self, messages: list[ChatMessage], *, on_delta: OnDelta | None = None) -> str:
        """The model's answer. With `on_delta`, the answer is streamed and each new piece of text is
        passed to it as it arrives; the full text is still returned. Raises ModelError."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


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

    async def complete(self, messages: list[ChatMessage], *, on_delta: OnDelta | None = None) -> str:
        try:
            if on_delta is None:
                response = await self._client.chat.completions.create(
                    model=self._model,
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=self._max_tokens,
                )
                text = response.choices[0].message.content if response.choices else None
            else:
                text = await self._stream(messages, on_delta)
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
        if not text or not text.strip():
            raise ModelError("model returned an empty answer")
        return text

    async def _stream(self, messages: list[ChatMessage], on_delta: OnDelta) -> str:
        stream = await self._client.chat.completions.create(
            model=self._model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=self._max_tokens,
            stream=True,
        )
        parts: list[str] = []
        async for piece in _deltas(cast("openai.AsyncStream[ChatCompletionChunk]", stream)):
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


async def _deltas(
    stream: openai.AsyncStream[openai.types.chat.ChatCompletionChunk],
) -> AsyncIterator[str]:
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content
