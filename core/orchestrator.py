"""One message in, one reply out: the path every platform shares.

Critical path: claim the event (dedupe) -> account and session -> [recall || recent turns || store
the person's message] -> one completion -> store the answer -> reply. The memory write is queued
after that and never delays the reply. Replies within one conversation keep their order (a lock per
conversation); different conversations run concurrently.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import MemoryBackendError, ModelError, StorageError
from core.llm import ChatModel, OnDelta
from core.locks import KeyedLocks
from core.memory import MemoryService
from core.memory_writer import MemoryWriter
from core.models import (
    IncomingMessage,
    MemoryItem,
    MemoryOrigin,
    Reply,
    ReplyKind,
    Role,
)
from core.prompt import PromptParts, build_prompt
from core.storage import Store

log = logging.getLogger(__name__)

MODEL_DOWN_REPLY = "Sorry, I can't think right now (my model isn't answering). Please try again in a moment."
STORAGE_DOWN_REPLY = "Sorry, something went wrong on my side. Please try again in a moment."
MAX_MESSAGE_CHARS = 16_000


def short_hash(value: uuid.UUID | str) -> str:
    """Account ids in logs: enough to correlate, not enough to identify."""
    return hashlib.sha256(str(value).encode()).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class OrchestratorOptions:
    bot_name: str
    idle_timeout: timedelta
    recall_limit: int
    history_limit: int
    prompt_token_budget: int
    reply_tokens: int
    system_prompt: str | None = None


class Orchestrator:
    def __init__(
        self,
        *,
        store: Store,
        memory: MemoryService,
        model: ChatModel,
        writer: MemoryWriter,
        options: OrchestratorOptions,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._memory = memory
        self._model = model
        self._writer = writer
        self._options = options
        self._clock = clock
        self._locks = KeyedLocks()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._accepting = True

    @property
    def accepting(self) -> bool:
        """False once shutdown began (readiness reports "draining")."""
        return self._accepting

    def stop_accepting(self) -> None:
        self._accepting = False

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=timeout)
            return True
        except TimeoutError:
            return False

    async def handle(self, message: IncomingMessage, *, on_delta: OnDelta | None = None) -> Reply | None:
        """The reply to `message`, or None when it must not be answered (a duplicate delivery, an
        empty message, or the process is shutting down). Never raises for a dependency failure: the
        reply is then a short apology (kind APOLOGY)."""
        if not self._accepting or not message.text.strip():
            return None
        self._in_flight += 1
        self._idle.clear()
        try:
            return await self._handle(message, on_delta)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _handle(self, message: IncomingMessage, on_delta: OnDelta | None) -> Reply | None:
        now = self._clock()
        try:
            if not await self._store.claim_event(message.event_key, now=now):
                log.info("duplicate delivery ignored platform=%s", message.platform.value)
                return None
        except StorageError:
            log.exception("storage failed before answering platform=%s", message.platform.value)
            return Reply(STORAGE_DOWN_REPLY, ReplyKind.APOLOGY, None, None)

        async with self._locks.hold(message.conversation.as_string()):
            return await self._answer(message, on_delta)

    async def _answer(self, message: IncomingMessage, on_delta: OnDelta | None) -> Reply:
        text = message.text[:MAX_MESSAGE_CHARS]
        try:
            # Independent: one round trip of waiting instead of two on a remote store.
            account, session = await asyncio.gather(
                self._store.resolve_account(message.identity, display_name=message.user_name),
                self._store.touch_session(
                    message.conversation,
                    now=self._clock(),
                    idle_timeout=self._options.idle_timeout,
                ),
            )
            history, stored, settings, memories = await asyncio.gather(
                self._store.recent_messages(session.id, limit=self._options.history_limit),
                self._store.append_message(
                    session_id=session.id,
                    account_id=account.id,
                    role=Role.USER,
                    text=text,
                    now=self._clock(),
                    author_name=message.user_name,
                ),
                self._store.get_settings(account.id),
                self._recall(account.id, text, include_private=message.is_direct),
            )
        except StorageError:
            log.exception("storage failed platform=%s", message.platform.value)
            return Reply(STORAGE_DOWN_REPLY, ReplyKind.APOLOGY, None, None)
        # With a remote store the two calls race: history may already hold the message being answered.
        history = [turn for turn in history if turn.id != stored.id]

        person = message.user_name or account.display_name or "this person"
        prompt = build_prompt(
            PromptParts(
                bot_name=self._options.bot_name,
                platform=message.platform.value.capitalize(),
                person=person,
                memories=memories,
                history=history,
                current_text=text,
                system_prompt=self._options.system_prompt,
            ),
            budget=self._options.prompt_token_budget,
            reply_tokens=self._options.reply_tokens,
        )
        log.info(
            "answering platform=%s session=%s account=%s memories=%d prompt_messages=%d",
            message.platform.value,
            session.id,
            short_hash(account.id),
            len(memories),
            len(prompt),
        )
        try:
            answer = await self._model.complete(prompt, on_delta=on_delta)
        except ModelError as exc:
            log.warning("model failed (%s) session=%s", exc, session.id)
            return Reply(MODEL_DOWN_REPLY, ReplyKind.APOLOGY, session.id, account.id)

        try:
            await self._store.append_message(
                session_id=session.id,
                account_id=account.id,
                role=Role.ASSISTANT,
                text=answer,
                now=self._clock(),
            )
        except StorageError:
            log.exception("could not store the answer session=%s", session.id)

        if not settings.memory_paused:
            self._writer.submit(
                account.id,
                [
                    {"role": "user", "content": text},
                    {"role": "assistant", "content": answer},
                ],
                MemoryOrigin(message.platform, message.channel, message.is_private),
            )
        return Reply(answer, ReplyKind.ANSWER, session.id, account.id)

    async def _recall(self, account_id: uuid.UUID, text: str, *, include_private: bool) -> list[MemoryItem]:
        try:
            return await self._memory.recall(
                account_id,
                text,
                include_private=include_private,
                limit=self._options.recall_limit,
            )
        except MemoryBackendError as exc:
            log.warning("recall failed, answering without memory: %s", exc)
            return []
