"""`python -m bot [run|console|jobs]`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.app import run_bot, run_console_mode
from bot.logging_setup import configure_logging
from config import ConfigError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Mnemo, the assistant that remembers.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run every configured front door (default)")
    console = sub.add_parser("console", help="chat in this terminal")
    console.add_argument("--user", default="you", help="who you are (default: you)")
    console.add_argument("--channel", default=None, help="talk in a shared channel instead of a DM")
    console.add_argument(
        "--dm",
        action="store_true",
        help="a private conversation (the default without --channel)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        if args.command == "console":
            return asyncio.run(
                run_console_mode(
                    settings,
                    user=args.user,
                    channel=args.channel,
                    is_dm=args.dm or not args.channel,
                )
            )
        return asyncio.run(run_bot(settings))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
