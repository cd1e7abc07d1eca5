"""The one face of the core that every front door uses (Slack, Discord, the console, the HTTP API).

A front door translates its platform's events into the neutral models (core.models), calls these
methods, and renders what comes back. It never reaches past this class into the store, the memory
or the model: what a front door may do to a person's data is exactly what is listed here, and the
removals all go through core.erasure.

    events    -> accept (record an event durably before acknowledging it; a worker answers it)
    message   -> handle (a reply, streamed through on_delta), follows, claim_delivery
    /memory   -> run_command (the same commands everywhere)
    HTTP API  -> account, settings, conversations, conversation_messages, delete_conversation,
                 erase_conversations, memory_page
    linking   -> issue_link_code, redeem_link_code, linked_identities, unlink
    surfaces  -> remember_text, memories_like, record_feedback (message menus and shortcuts,
                 Slack's assistant pane), on_change and identities_changed (a front door that
                 shows a person's data, e.g. Slack's App Home, refreshes it after every change
                 that person makes through any front door, and after memories were learned)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.commands import Command, CommandName, CommandResult, MemoryCommands
from core.erasure import Removals
from core.intake.model import HoldingIntake, Intake, NewDelivery
from core.linking import IssuedCode, LinkOutcome, LinkService
from core.llm import OnDelta
from core.memory.service import MemoryService
from core.memory.writer import MemoryWriter
from core.models import (
    MAX_MESSAGE_CHARS,
    Account,
    AccountSettings,
    AnswerFeedback,
    ConversationKey,
    ConversationPage,
    IdentityKey,
    IncomingMessage,
    MemoryItem,
    MemoryOrigin,
    MemoryPage,
    MessagePage,
    Platform,
    Rating,
    Reply,
)
from core.orchestrator import Complete, Orchestrator
from core.storage import Store

log = logging.getLogger(__name__)

# How many conversations one pass of erase_conversations deletes before listing again.
_ERASE_BATCH = 100
# /memory commands that change what is kept about a person (on_change listeners hear of them).
_CHANGES = frozenset(
    {
        CommandName.FORGET,
        CommandName.FORGET_ALL,
        CommandName.PAUSE,
        CommandName.RESUME,
        CommandName.LINK,
        CommandName.UNLINK,
    }
)


@dataclass(frozen=True, slots=True)
class DataChange:
    """A person's data changed: `identity` did something (a /memory command, linking), or new
    memories were learned for `account_id` (a memory write landed: `learned`)."""

    identity: IdentityKey | None = None
    account_id: uuid.UUID | None = None

    @property
    def learned(self) -> bool:
        return self.identity is None


ChangeListener = Callable[[DataChange], None]
"""Told of a change. Must not block: it schedules its own work (see identities_changed)."""


class Assistant:
    def __init__(
        self,
        *,
        intake: Intake,
        orchestrator: Orchestrator,
        commands: MemoryCommands,
        links: LinkService,
        removals: Removals,
        store: Store,
        memory: MemoryService,
        clock: Callable[[], datetime],
        writer: MemoryWriter,
    ) -> None:
        self._intake = intake
        self._orchestrator = orchestrator
        self._commands = commands
        self._links = links
        self._removals = removals
        self._store = store
        self._memory = memory
        self.clock = clock
        self._writer = writer
        self._change_listeners: list[ChangeListener] = []
        writer.on_written(lambda account_id: self._notify(DataChange(account_id=account_id)))

    # -- events ------------------------------------------------------------------------------------
    async def accept(self, delivery: NewDelivery) -> bool:
        """Record a platform event durably, before acknowledging it to the platform: from then on
        some worker answers it, even if this process dies. False for a duplicate (already
        accepted: acknowledge it, do nothing else). Raises StorageError (do not acknowledge: the
        platform will deliver it again)."""
        return await self._intake.accept(delivery)

    async def answer_recorded(
        self, delivery: NewDelivery, message: IncomingMessage, *, on_delta: OnDelta | None = None
    ) -> Reply | None:
        """Answer here, now (a front door whose client waits on the connection), with the message
        recorded in the intake as held by this process first: if the process dies before the
        answer, the hold expires and a worker answers it (stored in the conversation, where the
        client finds it). Like `handle` otherwise; answers directly if the inbox cannot hold."""
        intake = self._intake
        if not isinstance(intake, HoldingIntake):
            return await self.handle(message, on_delta=on_delta)
        held = await intake.hold(delivery)
        if held is None:
            return await self.handle(message, on_delta=on_delta)  # a duplicate: the claim decides
        try:
            reply = await self.handle(message, on_delta=on_delta)
        except Exception:
            await intake.release(held.id)  # the client hears the error (overloaded...) and may retry
            raise
        # Not when cancelled (shutdown, a lost hold): then a worker answers it instead.
        await intake.release(held.id)
        return reply

    # -- messages ----------------------------------------------------------------------------------
    @property
    def accepting(self) -> bool:
        """False once shutdown began: new messages get no reply (front doors say so, or stop)."""
        return self._orchestrator.accepting

    async def handle(
        self,
        message: IncomingMessage,
        *,
        on_delta: OnDelta | None = None,
        complete: Complete | None = None,
        already_claimed: bool = False,
    ) -> Reply | None:
        """See Orchestrator.handle. Raises SwampedError (core.admission) when overloaded."""
        return await self._orchestrator.handle(
            message, on_delta=on_delta, complete=complete, already_claimed=already_claimed
        )

    async def remember_text(
        self, identity: IdentityKey, text: str, origin: MemoryOrigin, *, display_name: str | None = None
    ) -> bool:
        """Remember what the person chose ("Remember this"): a memory write of their account, tagged
        with where it was said (its privacy). False, nothing queued, when their memory is paused.
        Raises StorageError; the write itself never raises (core.memory.writer)."""
        account = await self._store.resolve_account(identity, display_name=display_name)
        settings = await self._store.get_settings(account.id)
        if settings.memory_paused:
            return False
        # The writer checks pause and erasure again when the write starts and when it lands.
        message = [{"role": "user", "content": text[:MAX_MESSAGE_CHARS]}]
        await self._writer.submit(account.id, message, origin, epoch=settings.epoch)
        return True

    def may_answer(self, message: IncomingMessage) -> bool:
        """False when the access lists (core.access) keep this person or place out: nothing of
        theirs may then go to the model or into memory (handle() refuses such messages itself)."""
        return self._orchestrator.may_answer(message)

    async def follows(self, conversation: ConversationKey) -> bool:
        """True if Mnemo takes part in the conversation (a thread it answered in)."""
        return await self._orchestrator.follows(conversation)

    async def claim_delivery(self, message: IncomingMessage) -> bool:
        """Mark the message handled without answering it (a front door that refuses it, e.g. when
        swamped, so its duplicate deliveries stay silent). False if it was handled already.
        Raises StorageError."""
        return await self._store.claim_event(message.event_key, now=self.clock())

    # -- /memory -----------------------------------------------------------------------------------
    async def run_command(
        self,
        identity: IdentityKey,
        command: Command,
        *,
        display_name: str | None = None,
        conversation: ConversationKey | None = None,
    ) -> CommandResult:
        """Raises UserFacingError (a clear answer for the person) and DependencyError.
        `conversation`: where the command was given (for `/memory why`)."""
        result = await self._commands.run(
            identity, command, display_name=display_name, conversation=conversation
        )
        if command.name in _CHANGES and not result.needs_confirmation:
            self._changed(identity)
        return result

    async def usage_line(self, identity: IdentityKey) -> str | None:
        """Today's model tokens against the daily budget, for surfaces that show it (Slack's Home
        tab); None when no budget is set."""
        return await self._commands.usage_line(identity)

    # -- the HTTP API's views of a person's data ------------------------------------------------------
    async def account(self, identity: IdentityKey, *, display_name: str | None = None) -> Account:
        return await self._store.resolve_account(identity, display_name=display_name)

    async def settings(self, identity: IdentityKey) -> AccountSettings:
        account = await self.account(identity)
        return await self._store.get_settings(account.id)

    async def memory_page(
        self, identity: IdentityKey, *, offset: int, limit: int, query: str | None = None
    ) -> tuple[AccountSettings, MemoryPage]:
        account = await self.account(identity)
        settings = await self._store.get_settings(account.id)
        page = await self._memory.page(
            account.id, epoch=settings.epoch, offset=offset, limit=limit, query=query
        )
        return settings, page

    async def conversations(
        self, *, platform: Platform, workspace: str, channel: str, offset: int, limit: int
    ) -> ConversationPage:
        return await self._store.list_conversations(
            platform=platform, workspace=workspace, channel=channel, offset=offset, limit=limit
        )

    async def has_conversation(self, conversation: ConversationKey) -> bool:
        return await self._store.has_session(conversation)

    async def conversation_messages(
        self, conversation: ConversationKey, *, offset: int, limit: int
    ) -> MessagePage:
        return await self._store.conversation_messages(conversation, offset=offset, limit=limit)

    async def delete_conversation(self, conversation: ConversationKey) -> int:
        """Returns the sessions deleted (0: no such conversation)."""
        return await self._removals.delete_conversation(conversation)

    async def erase_conversations(self, *, platform: Platform, workspace: str, channel: str) -> int:
        """Delete every conversation of one channel (a web caller's sessions); returns how many
        sessions went."""
        deleted = 0
        while True:
            page = await self._store.list_conversations(
                platform=platform, workspace=workspace, channel=channel, offset=0, limit=_ERASE_BATCH
            )
            removed = 0
            for summary in page.items:
                removed += await self._removals.delete_conversation(summary.conversation)
            if not removed:  # nothing left (or nothing deletable): never loop forever
                return deleted
            deleted += removed

    # -- linking -----------------------------------------------------------------------------------
    async def issue_link_code(self, identity: IdentityKey) -> IssuedCode:
        return await self._links.issue_code(identity)

    async def redeem_link_code(self, identity: IdentityKey, code: str) -> LinkOutcome:
        """Refusals are UserFacingError subclasses (core.linking)."""
        outcome = await self._links.redeem(identity, code)
        self._changed(identity)
        return outcome

    async def linked_identities(self, identity: IdentityKey) -> list[IdentityKey]:
        return await self._links.identities(identity)

    async def unlink(self, identity: IdentityKey, platform: str) -> list[IdentityKey]:
        """UnlinkError (core.linking) when there is nothing to detach."""
        remaining = await self._links.unlink(identity, platform)
        self._changed(identity)
        return remaining

    # -- surfaces: shortcuts, feedback, views that show a person's data ----------------------------
    async def memories_like(
        self, identity: IdentityKey, text: str, *, channel: str, limit: int = 5
    ) -> list[MemoryItem]:
        """The person's own memories learned in `channel` that are closest to `text`: what was
        most likely learned from a message said there (mem0 does not record the message a memory
        came from). For the person only: private ones included."""
        account = await self._store.resolve_account(identity)
        found = await self._memory.recall(
            account.id, text, epoch=account.epoch, include_private=True, limit=limit * 4
        )
        return [item for item in found if item.channel == channel][:limit]

    async def record_feedback(self, identity: IdentityKey, *, answer: str, rating: Rating) -> None:
        """Keep the person's rating of one answer (`answer`: the front door's id for the answer's
        message). A second click replaces the first. Erased with the account."""
        account = await self._store.resolve_account(identity)
        await self._store.record_feedback(account.id, answer=answer, rating=rating, now=self.clock())

    async def feedback(self, identity: IdentityKey) -> list[AnswerFeedback]:
        account = await self._store.resolve_account(identity)
        return await self._store.list_feedback(account.id)

    def on_change(self, listener: ChangeListener) -> None:
        """Call `listener(change)` after a person's data changed: a /memory command that changes
        something, linking or unlinking (through any front door), or a memory write that added
        memories (learned from a conversation, or "Remember this")."""
        self._change_listeners.append(listener)

    async def identities_changed(self, change: DataChange) -> list[IdentityKey]:
        """Every identity whose data `change` touched: the account's linked identities."""
        if change.identity is not None:
            return list({change.identity, *await self._links.identities(change.identity)})
        if change.account_id is not None:
            return await self._store.list_identities(change.account_id)
        return []

    def _changed(self, identity: IdentityKey) -> None:
        self._notify(DataChange(identity=identity))

    def _notify(self, change: DataChange) -> None:
        for listener in self._change_listeners:
            try:
                listener(change)
            except Exception:  # a view that cannot refresh must not fail the change itself
                log.exception("change listener failed")


__all__ = ["Assistant", "ChangeListener", "DataChange"]
