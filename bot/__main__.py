"""`python -m bot [run|web|worker|console|jobs|admin|doctor]`, `python -m bot --version`."""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tomllib
from pathlib import Path

from bot.admin import add_admin_parser, run_admin
from bot.app import StartError, format_schedule, run_bot, run_console_mode, run_job_now, run_role
from bot.doctor import run_doctor
from bot.logging_setup import configure_logging
from bot.services import front_doors_configured
from bot.web import WebStartError
from config import ConfigError, load_settings
from core.clock import utc_now


def version() -> str:
    """Mnemo's version, from pyproject.toml (the one place it is written)."""
    try:
        with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as file:
            number = str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        number = "unknown"
    return f"mnemo {number} (Python {platform.python_version()})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Mnemo, the assistant that remembers.")
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser(
        "run",
        help="one process doing everything: the front doors, the web server (PORT), answering, "
        "and the scheduler (default)",
    )
    run.add_argument(
        "--no-scheduler",
        action="store_true",
        help="do not run the background jobs here (a separate `worker` process runs them)",
    )
    sub.add_parser(
        "web",
        help="only the front doors (Slack, Discord gateway, HTTP API on PORT): acknowledge and "
        "record each message in the intake; `worker` processes answer",
    )
    sub.add_parser(
        "worker",
        help="answer what the front doors recorded, and run the background jobs "
        "(with /healthz and /readyz on PORT)",
    )
    console = sub.add_parser("console", help="chat in this terminal")
    console.add_argument("--user", default="you", help="who you are (default: you)")
    console.add_argument("--channel", default=None, help="talk in a shared channel instead of a DM")
    console.add_argument(
        "--dm",
        action="store_true",
        help="a private conversation (the default without --channel)",
    )
    jobs = sub.add_parser("jobs", help="see the background jobs' schedule, or run one now")
    jobs_sub = jobs.add_subparsers(dest="jobs_command")
    jobs_sub.add_parser("list", help="the jobs, their intervals and next run times (default)")
    run_one = jobs_sub.add_parser("run", help="run one job now, in this process")
    run_one.add_argument("name", help="the job's name, as `jobs list` shows it")
    add_admin_parser(sub)
    sub.add_parser("doctor", help="check every configured dependency, one line each (exit 0: all pass)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "run" and args.no_scheduler:
        settings = settings.model_copy(update={"scheduler_enabled": False})
    chatting_here = args.command == "console" or (
        args.command in (None, "run") and not front_doors_configured(settings) and sys.stdin.isatty()
    )
    quiet = chatting_here or args.command in ("admin", "doctor")
    if quiet and "log_level" not in settings.model_fields_set:
        # A chat or a tool in this terminal: INFO lines would interleave with what it prints.
        settings = settings.model_copy(update={"log_level": "WARNING"})
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
        if args.command == "jobs":
            if args.jobs_command == "run":
                return asyncio.run(run_job_now(settings, args.name))
            print(format_schedule(settings, now=utc_now()))
            return 0
        if args.command == "admin":
            return asyncio.run(run_admin(settings, args))
        if args.command == "doctor":
            return asyncio.run(run_doctor(settings, out=sys.stdout))
        if args.command in ("web", "worker"):
            return asyncio.run(run_role(settings, args.command))
        return asyncio.run(run_bot(settings))
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:  # found at start-up, e.g. a Supabase URL or key the server rejects
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    except StartError as exc:  # Slack or Discord refused us, or could not be reached
        print(str(exc), file=sys.stderr)
        return 2
    except WebStartError as exc:
        print(f"Could not start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
