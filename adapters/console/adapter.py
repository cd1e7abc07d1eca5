"""Chat with Mnemo in a terminal: `python -m bot console [--user NAME] [--channel NAME] [--dm]`.

Ctrl-C leaves at once, even while an answer is being written (the answer is abandoned; queued
memory writes are kept for the retry job by the caller's shutdown). `/new` starts a new
conversation (a new session: recent turns are not carried over; memories are). `/memory show
<words>` lists only the memories that match the words.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from typing import TextIO

from rich.live import Live

from adapters.console.terminal import LineReader, Screen
from adapters.console.translate import WORKSPACE, render_result, to_incoming
from core.admission import SwampedError
from core.assistant import Assistant
from core.commands import parse_memory_command
from core.errors import BotError, UserFacingError
from core.models import ConversationKey, IdentityKey, Platform, Reply, ReplyKind
from core.replies import COMMAND_FAILED_REPLY, SWAMPED_REPLY

PROMPT = "you> "
HELP_LINE = "/memory help for commands, /new for a new conversation, /quit (or Ctrl-C) to leave."


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
        self._thread = ""
        self._reader = LineReader(stdin)
        self._screen = Screen(stdout, bot_name=bot_name.lower())
        self._identity = IdentityKey(Platform.CONSOLE, WORKSPACE, user)
        self.interrupted = False

    def _write(self, text: str) -> None:
        self._screen.write(text)

    async def run(self) -> None:
        """Read lines until end of input, /quit or Ctrl-C (then `interrupted` is True)."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def interrupt() -> None:
            self.interrupted = True
            if task is not None:
                task.cancel()

        try:
            loop.add_signal_handler(signal.SIGINT, interrupt)
            installed = True
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            installed = False
        try:
            await self._chat()
        except asyncio.CancelledError:
            if not self.interrupted or task is None:
                raise
            task.uncancel()
            self._write("\n")
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGINT)

    async def _chat(self) -> None:
        where = "a private chat" if self._is_dm else f"#{self._channel}"
        self._write(f"Chatting as {self._user} in {where}. {HELP_LINE}\n")
        while True:
            self._write(PROMPT)
            line = await self._reader.readline()
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
        if line == "/new":
            self._thread = uuid.uuid4().hex
            self._write("Started a new conversation. (What I remember about you stays: /memory show)\n")
            return
        if line.startswith("/"):
            self._write("Unknown command. Try /memory help, /new, or /quit.\n")
            return
        await self._reply(line)

    async def _reply(self, line: str) -> None:
        message = to_incoming(
            line,
            user=self._user,
            channel=self._channel,
            is_dm=self._is_dm,
            now=self._assistant.clock(),
            thread=self._thread,
        )
        live: Live | None = None
        streamed: list[str] = []

        async def on_delta(piece: str) -> None:
            nonlocal live
            streamed.append(piece)
            if live is None:
                live = self._screen.live()
                live.start()
            live.update(self._screen.renderable("".join(streamed)), refresh=True)

        try:
            reply = await self._assistant.handle(message, on_delta=on_delta)
        except SwampedError:
            reply = Reply(SWAMPED_REPLY, ReplyKind.APOLOGY, None, None)
        finally:
            if live is not None:
                self._screen.stop(live)  # on Ctrl-C: what was streamed so far stays on the screen
        if reply is None:
            return
        if live is None:
            self._screen.answer(reply.text)
        elif "".join(streamed) != reply.text:
            # Not what was streamed (an apology after a broken stream, a withdrawn answer).
            self._screen.answer(reply.text)

    async def _command(self, text: str) -> None:
        try:
            command = parse_memory_command(text)
            # `why` looks at the answers given here (the channel, whatever /new started in it).
            where = ConversationKey(Platform.CONSOLE, WORKSPACE, self._channel, "")
            result = await self._assistant.run_command(
                self._identity, command, display_name=self._user, conversation=where
            )
            shown = render_result(result)
        except UserFacingError as exc:
            self._write(f"{exc}\n")
            return
        except BotError:
            self._write(f"{COMMAND_FAILED_REPLY}\n")
            return
        self._write(shown + "\n")


__all__ = ["PROMPT", "ConsoleAdapter"]
