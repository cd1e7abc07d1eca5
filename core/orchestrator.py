"""One message in, one reply out: the path every platform shares.

Critical path: claim the event (dedupe) -> account and session -> [recall || recent turns || store
the person's message] -> one completion -> store the answer -> reply. The memory write is queued
after that and never delays the reply. Replies within one conversation keep their order (a lock per
conversation); different conversations run concurrently.

Erasure and pause during a reply: the account's erasure epoch is read with the account, and every
write of this reply carries it. If the person erases everything while the reply is being written,
nothing of the exchange is stored (the store refuses the answer atomically) and the answer, which was
built from what they erased, is withdrawn: the reply says so instead (ReplyKind.WITHDRAWN).
Pause is read when the memory write starts and again when it ends (core.memory.writer), not here,
so pausing while a reply is being written keeps that exchange out of memory too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import logcontext, metrics
from core.access import ACCESS_NOTE, AccessPolicy, Verdict
from core.admission import Admission, Turn
from core.budget import Budget, tokens_spent
from core.cache import TTLCache
from core.channel_settings import ChannelSettings
from core.errors import ErasedError, MemoryBackendError, ModelError, StorageError
from core.llm import ChatModel, OnDelta, TokenUsage
from core.locks import KeyedLocks
from core.memory.service import MemoryService
from core.memory.writer import MemoryWriter
from core.models import (
    MAX_MESSAGE_CHARS,
    Account,
    ConversationKey,
    IncomingMessage,
    MemoryItem,
    MemoryOrigin,
    Reply,
    ReplyKind,
    Role,
    StoredMessage,
)
from core.prompt import DEFAULT_MEMORY_TOKENS, PromptParts, build_prompt
from core.redaction import short_hash
from core.replies import MODEL_DOWN_REPLY, STORAGE_DOWN_REPLY, WITHDRAWN_REPLY
from core.storage import Store

log = logging.getLogger(__name__)

# Fills in an adapter's network look-ups (see Orchestrator.handle).
Complete = Callable[[IncomingMessage], Awaitable[IncomingMessage]]

# Conversations known to be followed (a session exists): sessions are never un-followed except by
# deleting them, so a week-long positive cache only saves store reads.
FOLLOWED_CACHE_SIZE = 10_000
FOLLOWED_TTL_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class OrchestratorOptions:
    bot_name: str
    idle_timeout: timedelta
    recall_limit: int
    history_limit: int
    prompt_token_budget: int
    reply_tokens: int
    system_prompt: str | None = None
    memory_prompt_tokens: int = DEFAULT_MEMORY_TOKENS


def _said_before_erasure(message: IncomingMessage, account: Account) -> bool:
    return (
        message.received_at is not None
        and account.erased_at is not None
        and message.received_at < account.erased_at
    )


class Orchestrator:
    def __init__(
        self,
        *,
        store: Store,
        memory: MemoryService,
        model: ChatModel,
        writer: MemoryWriter,
        admission: Admission,
        options: OrchestratorOptions,
        clock: Callable[[], datetime],
        access: AccessPolicy | None = None,
        budget: Budget | None = None,
        channels: ChannelSettings | None = None,
    ) -> None:
        # Who may talk to Mnemo where (core.access), daily token budgets (core.budget; None: usage
        # is not counted), and each channel's own prompt and model (core.channel_settings).
        self._access = access or AccessPolicy()
        self._budget = budget
        self._channels = channels or ChannelSettings()
        self._store = store
        self._admission = admission
        self._memory = memory
        self._model = model
        self._writer = writer
        self._options = options
        self._clock = clock
        self._locks = KeyedLocks()
        self._followed: TTLCache[str, bool] = TTLCache(max_size=FOLLOWED_CACHE_SIZE, ttl=FOLLOWED_TTL_SECONDS)
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

    async def handle(
        self,
        message: IncomingMessage,
        *,
        on_delta: OnDelta | None = None,
        complete: Complete | None = None,
        already_claimed: bool = False,
    ) -> Reply | None:
        """The reply to `message`, or None when it must not be answered (a duplicate delivery, an
        empty message, a conversation Mnemo does not follow when `only_if_following`, or the
        process is shutting down). Never raises for a dependency failure: the reply is then a short
        apology (kind APOLOGY). Raises SwampedError, before anything is claimed or stored, when too
        many replies already wait in this process (core.admission).

        `complete`, if given, fills in what the adapter must look up over the network (privacy of
        the place, the person's name): it runs once the message is known to be answered, in its
        conversation's turn, so look-ups are spent only on messages that get a reply and never
        reorder a conversation.

        `already_claimed`: the message came through the durable intake, which deduplicated it when
        it was accepted; a second attempt after a worker died must be answered, not skipped."""
        if not self._accepting or not message.text.strip():
            return None
        verdict = self._access.check(message)
        if verdict is not Verdict.ALLOWED:
            # Before anything is claimed, stored or sent to the model (core.access).
            log.info("outside the access lists platform=%s verdict=%s", message.platform.value, verdict.value)
            return Reply(ACCESS_NOTE, ReplyKind.REFUSED, None, None) if verdict is Verdict.NOTE else None
        started = time.perf_counter()
        with logcontext.for_message(message):  # its log lines carry its ids (the API's session_id)
            async with self._admission.queue() as turn:
                self._in_flight += 1
                self._idle.clear()
                try:
                    reply = await self._handle(message, on_delta, complete, turn, already_claimed)
                    if reply is not None:
                        metrics.observe_reply(message.platform.value, reply.kind.value, started)
                    return reply
                finally:
                    self._in_flight -= 1
                    if self._in_flight == 0:
                        self._idle.set()

    def may_answer(self, message: IncomingMessage) -> bool:
        return self._access.check(message) is Verdict.ALLOWED

    async def follows(self, conversation: ConversationKey) -> bool:
        """True if Mnemo has taken part in the conversation (it has a session, open or closed).
        Positive answers are cached; a failing store answers False (stay silent, not wrong)."""
        key = conversation.as_string()
        if self._followed.get(key)[0]:
            return True
        try:
            joined = await self._store.has_session(conversation)
        except StorageError as exc:
            log.warning("could not check whether Mnemo follows a conversation: %s", exc)
            return False
        if joined:
            self._followed.put(key, True)
        return joined

    async def _handle(
        self,
        message: IncomingMessage,
        on_delta: OnDelta | None,
        complete: Complete | None,
        turn: Turn,
        already_claimed: bool,
    ) -> Reply | None:
        # One conversation at a time, in arrival order: replies keep their order, and a follow-up
        # that waits here while the first answer is written then finds the conversation followed.
        async with self._locks.hold(message.conversation.as_string()):
            if message.only_if_following and not await self.follows(message.conversation):
                return None
            try:
                if not already_claimed and not await self._store.claim_event(
                    message.event_key, now=self._clock()
                ):
                    log.info("duplicate delivery ignored platform=%s", message.platform.value)
                    return None
            except StorageError:
                log.exception("storage failed before answering platform=%s", message.platform.value)
                return Reply(STORAGE_DOWN_REPLY, ReplyKind.APOLOGY, None, None)
            if complete is not None:
                message = await complete(message)
            # As many replies at once as the process can take without delaying acks (core.admission).
            async with turn():
                reply = await self._answer(message, on_delta, retry=already_claimed)
            if reply.session_id is not None:
                self._followed.put(message.conversation.as_string(), True)
            return reply

    async def _answer(
        self, message: IncomingMessage, on_delta: OnDelta | None, *, retry: bool = False
    ) -> Reply:
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
            if _said_before_erasure(message, account):
                # It waited (in the intake, or for a worker to take it over) while the person erased
                # everything: it is part of what they erased. Nothing of it is stored or recalled.
                log.info("message from before an erasure withdrawn account=%s", short_hash(account.id))
                return Reply(WITHDRAWN_REPLY, ReplyKind.WITHDRAWN, session.id, account.id)
            if self._budget is not None:
                spent = await self._budget.refusal(
                    account_id=account.id, platform=message.platform, workspace=message.workspace
                )
                if spent is not None:  # nothing stored, nothing sent to the model
                    return Reply(spent, ReplyKind.REFUSED, session.id, account.id)
            store_question = self._store_turn(
                session_id=session.id,
                account=account,
                role=Role.USER,
                text=text,
                author_name=message.user_name,
            )
            if retry:
                # The durable intake's retry after a worker died: that worker may have stored the
                # question already (and died before answering). Answer it, do not store it twice.
                history, memories = await asyncio.gather(
                    self._store.recent_messages(session.id, limit=self._options.history_limit),
                    self._recall(account.id, account.epoch, text, include_private=message.is_direct),
                )
                last = history[-1] if history else None
                if last is not None and last.role is Role.USER and last.text == text:
                    store_question.close()
                    stored: StoredMessage | None = last
                else:
                    stored = await store_question
            else:
                history, stored, memories = await asyncio.gather(
                    self._store.recent_messages(session.id, limit=self._options.history_limit),
                    store_question,
                    self._recall(account.id, account.epoch, text, include_private=message.is_direct),
                )
        except StorageError:
            log.exception("storage failed platform=%s", message.platform.value)
            return Reply(STORAGE_DOWN_REPLY, ReplyKind.APOLOGY, None, None)
        # With a remote store the two calls race: history may already hold the message being answered.
        if stored is not None:
            history = [turn for turn in history if turn.id != stored.id]

        person = message.user_name or account.display_name or "this person"
        channel = self._channels.for_message(message)
        prompt = build_prompt(
            PromptParts(
                bot_name=self._options.bot_name,
                platform=message.platform.value.capitalize(),
                person=person,
                memories=memories,
                history=history,
                current_text=text,
                system_prompt=channel.system_prompt or self._options.system_prompt,
            ),
            budget=self._options.prompt_token_budget,
            reply_tokens=self._options.reply_tokens,
            memory_tokens=self._options.memory_prompt_tokens,
        )
        log.info(
            "answering platform=%s session=%s account=%s memories=%d prompt_messages=%d",
            message.platform.value,
            session.id,
            short_hash(account.id),
            len(memories),
            len(prompt),
        )
        usage: list[TokenUsage] = []
        try:
            answer = await self._model.complete(
                prompt, on_delta=on_delta, on_usage=usage.append, model=channel.model
            )
        except ModelError as exc:
            log.warning("model failed (%s) session=%s", exc, session.id)
            await self._charge(message, account, tokens_spent(usage, prompt=prompt, answer=None))
            return Reply(MODEL_DOWN_REPLY, ReplyKind.APOLOGY, session.id, account.id)

        erased = stored is None
        charged = self._charge(message, account, tokens_spent(usage, prompt=prompt, answer=answer))
        if erased:
            await charged
        else:
            try:
                kept, _ = await asyncio.gather(
                    self._store_turn(
                        session_id=session.id,
                        account=account,
                        role=Role.ASSISTANT,
                        text=answer,
                        memory_ids=[memory.id for memory in memories],
                    ),
                    charged,
                )
                erased = kept is None
            except StorageError:  # the memory write below still keeps what was said
                log.exception("could not store the answer session=%s", session.id)
        if erased:
            return Reply(WITHDRAWN_REPLY, ReplyKind.WITHDRAWN, session.id, account.id)
        await self._writer.submit(
            account.id,
            [
                {"role": "user", "content": text},
                {"role": "assistant", "content": answer},
            ],
            MemoryOrigin(message.platform, message.channel, message.is_private),
            epoch=account.epoch,
        )
        return Reply(answer, ReplyKind.ANSWER, session.id, account.id, tuple(memories))

    async def _charge(self, message: IncomingMessage, account: Account, tokens: int) -> None:
        if self._budget is not None:
            await self._budget.record(
                account_id=account.id, platform=message.platform, workspace=message.workspace, tokens=tokens
            )

    async def _store_turn(
        self,
        *,
        session_id: uuid.UUID,
        account: Account,
        role: Role,
        text: str,
        author_name: str | None = None,
        memory_ids: Sequence[str] = (),
    ) -> StoredMessage | None:
        """The stored message, or None when the account was erased since this reply began."""
        try:
            return await self._store.append_message(
                session_id=session_id,
                account_id=account.id,
                role=role,
                text=text,
                now=self._clock(),
                epoch=account.epoch,
                author_name=author_name,
                memory_ids=memory_ids,
            )
        except ErasedError:
            log.info("erased during a reply; its exchange is not stored account=%s", short_hash(account.id))
            return None

    async def _recall(
        self, account_id: uuid.UUID, epoch: int, text: str, *, include_private: bool
    ) -> list[MemoryItem]:
        try:
            return await self._memory.recall(
                account_id,
                text,
                epoch=epoch,
                include_private=include_private,
                limit=self._options.recall_limit,
            )
        except MemoryBackendError as exc:
            log.warning("recall failed, answering without memory: %s", exc)
            return []
