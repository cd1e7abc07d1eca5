"""The `/memory` commands, platform-neutral: Slack, Discord, the console and the HTTP API share them.

`parse_memory_command` turns the text after `/memory` into a `Command` (or raises UserFacingError
with a clear answer). `MemoryCommands.run` executes it for the person behind an identity and returns
a `CommandResult` that each adapter renders its own way (Block Kit, embeds, plain text).
"""

from __future__ import annotations

import enum
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from core.budget import Budget, describe_reset
from core.erasure import Removals
from core.errors import UserFacingError
from core.linking import LinkService, describe_identity, display_code
from core.matching import matches
from core.memory.service import MemoryService
from core.models import Account, ConversationKey, IdentityKey, MemoryItem, MemoryPage
from core.redaction import short_hash
from core.storage import AccountStore, ConversationStore

log = logging.getLogger(__name__)

PAGE_SIZE = 10
# `/memory show <words>` looks through this many of the person's memories, newest first.
MATCH_SCAN = 10_000


class CommandName(enum.StrEnum):
    SHOW = "show"
    FORGET = "forget"
    FORGET_ALL = "forget-all"
    PAUSE = "pause"
    RESUME = "resume"
    EXPORT = "export"
    HELP = "help"
    LINK = "link"
    LINKS = "links"
    UNLINK = "unlink"
    WHY = "why"
    USAGE = "usage"


HELP_TEXT = """\
/memory show [words] [--page N]   what I remember about you (newest first, or matching the words)
/memory forget <id>    forget one thing
/memory forget all     forget everything about you (asks to confirm)
/memory pause          stop remembering new things (I still answer)
/memory resume         start remembering again
/memory export         your memories as a JSON file
/memory why            which memories my last answer to you here was based on
/memory usage          the model tokens you used today, and your daily limit
/memory link [code]    link your accounts on other platforms (no code: get one; with a code: use it)
/memory links          which platforms are linked to your memory
/memory unlink <platform>   detach a platform (slack, discord, web)
/memory help           this help"""


@dataclass(frozen=True, slots=True)
class Command:
    name: CommandName
    argument: str = ""
    page: int = 0
    confirmed: bool = False


def parse_memory_command(text: str) -> Command:
    """Parse what follows `/memory`. Unknown subcommands raise UserFacingError naming the valid ones."""
    words = text.strip().split()
    if not words:
        return Command(CommandName.SHOW)
    head, rest = words[0].lower(), words[1:]
    if head in {"show", "list"}:
        page = 0
        if len(rest) >= 2 and rest[-2] == "--page":
            if not rest[-1].isdigit() or int(rest[-1]) < 1:
                raise UserFacingError("--page takes a page number: 1, 2, 3...")
            page, rest = int(rest[-1]) - 1, rest[:-2]
        return Command(CommandName.SHOW, argument=" ".join(rest), page=page)
    if head in {"forget-all", "clear"} or (head == "forget" and [w.lower() for w in rest[:1]] == ["all"]):
        tail = rest[1:] if head == "forget" else rest
        return Command(CommandName.FORGET_ALL, confirmed=[w.lower() for w in tail] == ["confirm"])
    if head in {"forget", "delete"}:
        if len(rest) != 1:
            raise UserFacingError("Usage: /memory forget <id> (the id is shown by /memory show)")
        return Command(CommandName.FORGET, argument=rest[0])
    if head == "link":
        return Command(CommandName.LINK, argument="".join(rest))
    if head == "links" and not rest:
        return Command(CommandName.LINKS)
    if head == "unlink":
        if len(rest) != 1:
            raise UserFacingError("Usage: /memory unlink <platform> (see /memory links)")
        return Command(CommandName.UNLINK, argument=rest[0])
    if head in {"pause", "resume", "export", "help", "why", "usage"} and not rest:
        return Command(CommandName(head))
    if head in {"pause", "resume", "export", "help", "why", "usage"}:
        raise UserFacingError(f"/memory {head} takes no arguments.")
    raise UserFacingError(f"Unknown command '{words[0][:40]}'. Try one of:\n{HELP_TEXT}")


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What happened, for the adapter to render. `text` alone is always a complete answer."""

    text: str
    page: MemoryPage | None = None
    query: str = ""
    needs_confirmation: bool = False
    export_json: str | None = None
    items: list[MemoryItem] = field(default_factory=list)


def _platform_list(identities: list[IdentityKey]) -> str:
    names = sorted({describe_identity(i) for i in identities})
    return ", ".join(names)


def format_item(item: MemoryItem) -> str:
    where = "private" if item.is_private else f"#{item.channel}" if item.channel else "public"
    source = f"{item.platform}, {where}" if item.platform else where
    date = (item.created_at or "")[:10]
    return f"{item.text}  ({source}{', ' + date if date else ''}; id {item.id})"


class CommandStore(AccountStore, ConversationStore, Protocol):
    """The store roles the commands use: accounts and settings, and answers' provenance."""


class MemoryCommands:
    def __init__(
        self,
        *,
        store: CommandStore,
        memory: MemoryService,
        removals: Removals,
        links: LinkService,
        budget: Budget | None = None,
    ) -> None:
        self._budget = budget  # None: usage is not counted (/memory usage says so)
        self._store = store
        self._memory = memory
        self._removals = removals
        self._links = links

    async def run(
        self,
        identity: IdentityKey,
        command: Command,
        *,
        display_name: str | None = None,
        conversation: ConversationKey | None = None,
    ) -> CommandResult:
        """Raises UserFacingError (bad id...) and DependencyError subclasses (backend down).
        `conversation`: where the command was given (`why` looks at the answers given there)."""
        if command.name in (CommandName.LINK, CommandName.LINKS, CommandName.UNLINK):
            return await self._link_command(identity, command)
        account = await self._store.resolve_account(identity, display_name=display_name)
        if command.name is CommandName.SHOW and command.argument:
            # Only the memories that say those words (core.matching), newest first.
            everything = await self._memory.page(account.id, epoch=account.epoch, offset=0, limit=MATCH_SCAN)
            found = [item for item in everything.items if matches(item, command.argument)]
            offset = command.page * PAGE_SIZE
            page = MemoryPage(found[offset : offset + PAGE_SIZE], offset, len(found))
            return CommandResult(self._show_text(page, command.argument), page=page, query=command.argument)
        if command.name is CommandName.SHOW:
            page = await self._memory.page(
                account.id, epoch=account.epoch, offset=command.page * PAGE_SIZE, limit=PAGE_SIZE
            )
            return CommandResult(
                self._show_text(page, command.argument),
                page=page,
                query=command.argument,
            )
        if command.name is CommandName.FORGET:
            item = await self._removals.forget(account.id, command.argument)
            return CommandResult(f"Forgotten: {item.text}", items=[item])
        if command.name is CommandName.FORGET_ALL:
            if not command.confirmed:
                return CommandResult(
                    "This erases everything I remember about you and our stored conversations. "
                    "It cannot be undone. Confirm to go ahead.",
                    needs_confirmation=True,
                )
            report = await self._removals.erase(account.id)
            log.info(
                "erased account=%s memories=%d messages=%d",
                short_hash(account.id),
                report.memories,
                report.messages,
            )
            removed, messages = report.memories, report.messages
            return CommandResult(
                f"Done. I erased {removed} memor{'y' if removed == 1 else 'ies'} and "
                f"{messages} stored message{'' if messages == 1 else 's'}."
            )
        if command.name is CommandName.WHY:
            return await self._why(account.id, account.epoch, conversation)
        if command.name in (CommandName.PAUSE, CommandName.RESUME):
            paused = command.name is CommandName.PAUSE
            await self._store.set_memory_paused(account.id, paused)
            return CommandResult(
                "Paused: I won't remember anything new until you /memory resume."
                if paused
                else "Resumed: I'll remember what you tell me again."
            )
        if command.name is CommandName.USAGE:
            return CommandResult(await self._usage_text(identity, account))
        if command.name is CommandName.EXPORT:
            items = await self._memory.export(account.id, epoch=account.epoch)
            document = {
                "account_id": str(account.id),
                "memories": [
                    {
                        "id": i.id,
                        "text": i.text,
                        "created_at": i.created_at,
                        "learned_on": i.platform,
                        "channel": i.channel,
                        "private": i.is_private,
                    }
                    for i in items
                ],
            }
            return CommandResult(
                f"Here are your {len(items)} memories as JSON.",
                export_json=json.dumps(document, indent=2, ensure_ascii=False),
                items=items,
            )
        return CommandResult(HELP_TEXT)

    async def _why(
        self, account_id: uuid.UUID, epoch: int, conversation: ConversationKey | None
    ) -> CommandResult:
        if conversation is None:
            raise UserFacingError("/memory why works in a conversation with me: ask it where I answered you.")
        ids = await self._store.last_answer_memories(
            account_id,
            platform=conversation.platform.value,
            workspace=conversation.workspace,
            channel=conversation.channel,
        )
        if ids is None:
            return CommandResult("I haven't answered you here yet (or you erased it).")
        items = await self._memory.items(account_id, ids, epoch=epoch)
        if not items:
            note = " (what it used has since been forgotten)" if ids else ""
            return CommandResult(f"My last answer to you here used none of my memories of you{note}.")
        gone = len(ids) - len(items)
        lines = [
            "My last answer to you here was based on these memories:",
            *(f"- {format_item(item)}" for item in items),
        ]
        if gone:
            lines.append(f"({gone} more {'was' if gone == 1 else 'were'} forgotten since.)")
        return CommandResult("\n".join(lines), items=items)

    async def _link_command(self, identity: IdentityKey, command: Command) -> CommandResult:
        if command.name is CommandName.LINK and not command.argument:
            issued = await self._links.issue_code(identity)
            code = display_code(issued.code)
            return CommandResult(
                f"Your link code is {code} (only you can see this). It works once, for 10 minutes.\n"
                f"On your other platform, send Mnemo: /memory link {code}\n"
                "Then what you tell me in either place is remembered in both "
                "(private things are still only recalled in private chats)."
            )
        if command.name is CommandName.LINK:
            outcome = await self._links.redeem(identity, command.argument)
            return CommandResult(
                f"Linked. Your memory now spans: {_platform_list(outcome.identities)}. "
                f"{outcome.memories_moved} memor{'y' if outcome.memories_moved == 1 else 'ies'} "
                "joined from this account."
            )
        if command.name is CommandName.LINKS:
            linked = await self._links.identities(identity)
            if len(linked) <= 1:
                return CommandResult("Only this platform is linked. Use /memory link to add another.")
            return CommandResult(f"Linked to your memory: {_platform_list(linked)}.")
        detached = await self._links.unlink(identity, command.argument)
        return CommandResult(
            f"Unlinked {_platform_list(detached)}. It starts with a fresh, empty memory; "
            "what I remembered stays with your other platforms."
        )

    async def _usage_text(self, identity: IdentityKey, account: Account) -> str:
        if self._budget is None:
            return "Model use is not counted here."
        used = await self._budget.today(
            account_id=account.id, platform=identity.platform, workspace=identity.workspace
        )
        limits = self._budget.limits
        mine = f" of your {limits.per_person:,}" if limits.per_person is not None else ""
        lines = [f"Today (UTC) you have used {used.person:,} model tokens{mine}."]
        if limits.per_workspace is not None:
            lines.append(f"Everyone here together: {used.workspace:,} of {limits.per_workspace:,}.")
        if limits.unlimited:
            lines.append("There is no daily limit.")
        else:
            lines.append(describe_reset(self._budget.now()))
        return " ".join(lines)

    @staticmethod
    def _show_text(page: MemoryPage, query: str) -> str:
        if not page.items:
            if page.offset and page.total:
                return "No more memories."
            return (
                f"I don't remember anything about you matching '{query}'."
                if query
                else ("I don't remember anything about you yet.")
            )
        about = f" matching '{query}'" if query else ""
        span = f"{page.offset + 1}-{page.offset + len(page.items)} of {page.total}"
        header = f"What I remember about you{about} ({span}):"
        lines = [header, *(f"- {format_item(item)}" for item in page.items)]
        if page.has_more:
            next_page = page.offset // PAGE_SIZE + 2
            more = f"/memory show {query + ' ' if query else ''}--page {next_page}"
            lines.append(f"(more: {more})")
        return "\n".join(lines)
