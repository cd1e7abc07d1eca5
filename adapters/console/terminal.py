"""The terminal side of the console: reading lines that Ctrl-C can interrupt, and answers rendered
from Markdown (rich) instead of showing `**`, `#` and backticks.

Reading: `asyncio.to_thread(stdin.readline)` parks the read in the loop's default executor, and
`asyncio.run` joins that executor on the way out, so Ctrl-C waited for Enter. `LineReader` reads in
a daemon thread of its own (hand-written: a dozen lines, and no terminal library reads a plain pipe
or a StringIO the same way), which the interpreter does not wait for.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import TextIO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segment


class LineReader:
    def __init__(self, stdin: TextIO) -> None:
        self._stdin = stdin
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._thread: threading.Thread | None = None

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            line = self._stdin.readline()
            try:
                loop.call_soon_threadsafe(self._lines.put_nowait, line)
            except RuntimeError:  # the loop closed: the console is gone
                return
            if not line:
                return

    async def readline(self) -> str:
        """The next line with its newline, or "" at end of input."""
        if self._thread is None:
            loop = asyncio.get_running_loop()
            self._thread = threading.Thread(
                target=self._pump, args=(loop,), name="console-stdin", daemon=True
            )
            self._thread.start()
        return await self._lines.get()


class Answer:
    """`name> ` and the answer rendered from Markdown: on the same line when it fits one line,
    otherwise the rendered block below the name. Links keep their URL in the text."""

    def __init__(self, name: str, text: str) -> None:
        self._prefix = f"{name}> "
        self._markdown = Markdown(text, hyperlinks=False)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        narrow = options.update_width(max(20, options.max_width - len(self._prefix)))
        lines = console.render_lines(self._markdown, narrow, pad=False)
        if len(lines) == 1:
            yield Segment(self._prefix)
            yield from _strip_end(lines[0])
            yield Segment.line()
            return
        yield Segment(self._prefix.rstrip())
        yield Segment.line()
        for line in console.render_lines(self._markdown, options, pad=False):
            yield from _strip_end(line)
            yield Segment.line()


def _strip_end(line: list[Segment]) -> Iterator[Segment]:
    """A line without its trailing spaces (rich pads some blocks to the full width)."""
    while line and not line[-1].text.strip() and not line[-1].control:
        line = line[:-1]
    if line:
        *head, last = line
        yield from head
        yield Segment(last.text.rstrip(), last.style, last.control)


class Screen:
    """Writes to the terminal: plain lines, and answers rendered as they stream in."""

    def __init__(self, stdout: TextIO, *, bot_name: str) -> None:
        self._stdout = stdout
        self._bot = bot_name
        # Colours only on a real terminal; a pipe or a file gets plain text.
        self._console = Console(file=stdout, highlight=False, soft_wrap=False)

    def write(self, text: str) -> None:
        self._stdout.write(text)
        self._stdout.flush()

    def answer(self, text: str) -> None:
        self._console.print(Answer(self._bot, text))

    def live(self) -> Live:
        """Re-renders the answer as pieces arrive (on a terminal; elsewhere only the final one is
        printed, when it stops). Update it with `renderable(text)`."""
        return Live(
            console=self._console,
            auto_refresh=False,
            vertical_overflow="visible",
            transient=False,
            redirect_stdout=False,  # log lines on stderr stay where logging sends them
            redirect_stderr=False,
        )

    def stop(self, live: Live) -> None:
        live.stop()
        if not self._console.is_terminal:
            self.write("\n")  # on a terminal Live ends the line itself

    def renderable(self, text: str) -> Answer:
        return Answer(self._bot, text)
