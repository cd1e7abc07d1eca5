"""`python -m bot admin accounts|export|erase|reembed`: what an operator does for people (core.admin)
and for the memory store (core.memory.reembed), from a shell on a machine with the bot's settings.

A person is `platform:user` or `platform:workspace:user` (Slack needs the workspace: the team id, or
the Enterprise Grid org id). Nothing asks the platform, so this works for people who left.
`export`, `erase` and `reembed` say what they will do and ask first; `--yes` skips the question,
and without a terminal to ask in (and no `--yes`) they refuse in one line and change nothing.
What they print for the operator goes to stderr; stdout carries only results (the export's JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.wiring import build_core, mem0_options
from config import Settings
from core.admin import Admin, PersonSummary, describe_identity
from core.errors import DependencyError, NotFoundError
from core.memory.reembed import embedding_state, reembed_all
from core.models import IdentityKey, Platform

# The workspace part of each platform's identities when the person's id alone is given (the
# adapters' WORKSPACE constants; tests/bot/test_admin.py checks they agree). Slack has none.
DEFAULT_WORKSPACE = {Platform.DISCORD: "", Platform.WEB: "", Platform.CONSOLE: "local"}


class AdminError(Exception):
    """A one-line refusal for the operator (exit code 2)."""


def parse_person(text: str) -> IdentityKey:
    platform_name, _, rest = text.partition(":")
    try:
        platform = Platform(platform_name.strip().lower())
    except ValueError:
        names = ", ".join(p.value for p in Platform)
        raise AdminError(f"'{text[:80]}' is not platform:user (platform one of {names})") from None
    workspace, _, user = rest.rpartition(":")
    if not user:
        raise AdminError(f"'{text[:80]}' has no user id after '{platform_name}:'")
    if not workspace:
        if platform not in DEFAULT_WORKSPACE:
            raise AdminError(
                f"Slack ids need the workspace: slack:T0123ABC:{user} "
                "(the team id, or the Enterprise Grid org id)"
            )
        workspace = DEFAULT_WORKSPACE[platform]
    return IdentityKey(platform, workspace, user)


def add_admin_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = sub.add_parser("admin", help="act for a person (erase, export), list accounts, re-embed memories")
    cmds = admin.add_subparsers(dest="admin_command", required=True)
    cmds.add_parser(
        "accounts", help="every account that holds memories, with its identities, counts and tokens today"
    )
    person_help = (
        "platform:user or platform:workspace:user, e.g. discord:80351110224678912, slack:T0123:U0456"
    )
    export = cmds.add_parser("export", help="a person's memories as JSON (stdout, or --output FILE)")
    export.add_argument("person", help=person_help)
    export.add_argument(
        "--output", "-o", type=Path, help="write here (a new file, mode 600) instead of stdout"
    )
    export.add_argument("--yes", "-y", action="store_true", help="do not ask first")
    erase = cmds.add_parser("erase", help="erase everything of a person's account, as /memory forget all")
    erase.add_argument("person", help=person_help)
    erase.add_argument("--yes", "-y", action="store_true", help="do not ask first")
    reembed = cmds.add_parser(
        "reembed", help="re-embed every memory with EMBEDDING_MODEL / EMBEDDING_DIMS (bot stopped)"
    )
    reembed.add_argument("--yes", "-y", action="store_true", help="do not ask first")


@dataclass
class Console:
    """Where the operator is: answers are read from `stdin` only when it is a terminal."""

    stdin: TextIO
    out: TextIO
    err: TextIO

    def say(self, text: str) -> None:
        print(text, file=self.err)

    def confirm(self, action: str, *, yes: bool) -> bool:
        """True to go ahead. AdminError (nothing done) when there is no terminal to ask in."""
        if yes:
            return True
        if not self.stdin.isatty():
            raise AdminError(f"not {action} without confirmation: run it in a terminal, or add --yes")
        self.err.write("Go ahead? [y/N] ")
        self.err.flush()
        if self.stdin.readline().strip().lower() in {"y", "yes"}:
            return True
        self.say("Nothing changed.")
        return False


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _who(summary: PersonSummary) -> str:
    ids = ", ".join(describe_identity(i) for i in summary.identities) or "no identity left"
    return f"account {summary.account_id} ({ids})"


async def _accounts(admin: Admin, con: Console) -> int:
    summaries = await admin.accounts()
    if not summaries:
        con.say("No account holds memories.")
        return 0
    print(f"{'account':<36}  {'memories':>8}  {'tokens_today':>12}  {'paused':<6}  identities", file=con.out)
    for s in summaries:
        ids = ", ".join(describe_identity(i) for i in s.identities) or "-"
        paused = "yes" if s.paused else "no"
        row = f"{s.account_id!s:<36}  {s.memories:>8}  {s.tokens_today:>12}  {paused:<6}  {ids}"
        print(row, file=con.out)
    con.say(f"{_count(len(summaries), 'account holds', 'accounts hold')} memories.")
    return 0


async def _export(admin: Admin, con: Console, identity: IdentityKey, output: Path | None, yes: bool) -> int:
    if output is not None and await asyncio.to_thread(output.exists):
        raise AdminError(f"{output} exists; choose a new file (an export never overwrites one)")
    summary = await admin.person(identity)
    where = str(output) if output else "stdout"
    con.say(f"Export {_count(summary.memories, 'memory', 'memories')} of {_who(summary)} as JSON to {where}.")
    if not con.confirm("exporting", yes=yes):
        return 1
    text = json.dumps(await admin.export(identity), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        con.out.write(text)
    else:
        # Created for the operator alone: it holds a person's words.
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        con.say(f"Wrote {output}.")
    return 0


async def _erase(admin: Admin, con: Console, identity: IdentityKey, yes: bool) -> int:
    summary = await admin.person(identity)
    con.say(
        f"Erase everything Mnemo holds for {describe_identity(identity)}: {_who(summary)}, "
        f"{_count(summary.memories, 'memory', 'memories')}, its stored messages and pending memory "
        "writes, on every linked platform (exactly /memory forget all; running bots stop using it at once). "
        "This cannot be undone."
    )
    if not con.confirm("erasing", yes=yes):
        return 1
    report = await admin.erase(identity)
    con.say(
        f"Erased {_count(report.memories, 'memory', 'memories')} and "
        f"{_count(report.messages, 'stored message', 'stored messages')}."
    )
    return 0


async def _reembed(settings: Settings, con: Console, yes: bool) -> int:
    options = mem0_options(settings)
    state = await asyncio.to_thread(embedding_state, options)
    now = f"recorded now: {state.recorded}" if state.recorded else "nothing recorded yet"
    con.say(
        f"Re-embed every stored memory with {options.embedding} "
        f"(EMBEDDING_MODEL, EMBEDDING_DIMS; {now}), calling the embedding endpoint once per 100 "
        "memories. Stop every running Mnemo first: memories they write meanwhile would be of the old kind."
    )
    if not con.confirm("re-embedding", yes=yes):
        return 1
    report = await asyncio.to_thread(reembed_all, options)
    con.say(f"Re-embedded {_count(report.vectors, 'vector', 'vectors')}; recorded {report.after}.")
    return 0


async def run_admin(
    settings: Settings,
    args: argparse.Namespace,
    *,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Exit codes: 0 done, 1 declined or a dependency failed, 2 refused (one line on stderr).
    ConfigError (the embedding settings do not match the stored memories, ...) is raised."""
    con = Console(stdin, out, err)
    try:
        if args.admin_command == "reembed":
            return await _reembed(settings, con, args.yes)
        identity = parse_person(args.person) if args.admin_command in ("export", "erase") else None
        # Even when the embedding settings no longer match the stored memories: none of these
        # needs an embedding, and an erasure must never wait for a re-embed.
        async with build_core(settings, check_embedding=False) as core:
            admin = Admin(store=core.store, memory=core.memory, removals=core.removals)
            if args.admin_command == "accounts":
                return await _accounts(admin, con)
            assert identity is not None
            if args.admin_command == "export":
                return await _export(admin, con, identity, args.output, args.yes)
            return await _erase(admin, con, identity, args.yes)
    except (AdminError, NotFoundError) as exc:
        con.say(str(exc))
        return 2
    except DependencyError as exc:
        con.say(f"admin {args.admin_command} failed: {exc}")
        return 1


__all__ = ["DEFAULT_WORKSPACE", "AdminError", "add_admin_parser", "parse_person", "run_admin"]
