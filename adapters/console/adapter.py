"""Chat with Mnemo in a terminal: `python -m bot console [--user NAME] [--channel NAME] [--dm]`."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from adapters.console.translate import WORKSPACE, render_result, to_incoming
from core.assistant import Assistant
from core.commands import parse_memory_command
from core.errors import BotError, UserFacingError
from core.models import ConversationKey, IdentityKey, Platform, ReplyKind
from core.replies import COMMAND_FAILED_REPLY

PROMPT = "you> "


class ConsoleAdapter:
    name = "console"

    def __init__(
        self,
        *,
        assistant: Assistant,
        user: str,
        channel: str | None,
        is_dm: bool,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
        bot_name: str = "Mnemo",
    ) -> None:
        self._assistant = assistant
        self._user = user
        self._is_dm = is_dm or channel is None
        self._channel = channel or f"dm-{user}"
        self._stdin = stdin
        self._stdout = stdout
        self._bot = bot_name.lower()

    def _write(self, text: str) -> None:
        self._stdout.write(text)
        self._stdout.flush()

    async def run(self) -> None:
        """Read lines until EOF or /quit."""
        where = "a private chat" if self._is_dm else f"#{self._channel}"
        self._write(f"Chatting as {self._user} in {where}. /memory help for commands, /quit to leave.\n")
        while True:
            self._write(PROMPT)
            line = await asyncio.to_thread(self._stdin.readline)
            if not line:
                self._write("\n")
                return
            line = line.strip()
            if not line:
                continue
            if line in {"/quit", "/exit"}:
                return
            await self.handle_line(line)

    async def handle_line(self, line: str) -> None:
        if line == "/memory" or line.startswith("/memory "):
            await self._command(line.removeprefix("/memory"))
            return
        if line.startswith("/"):
            self._write("Unknown command. Try /memory help, or /quit.\n")
            return
        message = to_incoming(
            line,
            user=self._user,
            channel=self._channel,
            is_dm=self._is_dm,
            now=self._assistant.clock(),
        )
        streamed = False

        async def on_delta(piece: str) -> None:
            nonlocal streamed
            if not streamed:
                self._write(f"{self._bot}> ")
                streamed = True
            self._write(piece)

        reply = await self._assistant.handle(message, on_delta=on_delta)
        if reply is None:
            return
        if streamed and reply.kind is ReplyKind.ANSWER:
            self._write("\n")
        else:
            prefix = "\n" if streamed else ""
            self._write(f"{prefix}{self._bot}> {reply.text}\n")

    async def _command(self, text: str) -> None:
        identity = IdentityKey(Platform.CONSOLE, WORKSPACE, self._user)
        try:
            command = parse_memory_command(text)
            where = ConversationKey(Platform.CONSOLE, WORKSPACE, self._channel, "")
            result = await self._assistant.run_command(
                identity, command, display_name=self._user, conversation=where
            )
        except UserFacingError as exc:
            self._write(f"{exc}\n")
            return
        except BotError:
            self._write(f"{COMMAND_FAILED_REPLY}\n")
            return
        self._write(render_result(result) + "\n")
