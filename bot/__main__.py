"""`python -m bot [run|web|worker|console|jobs]`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.app import format_schedule, run_bot, run_console_mode, run_job_now, run_role
from bot.logging_setup import configure_logging
from bot.services import front_doors_configured
from bot.web import WebStartError
from config import ConfigError, load_settings
from core.clock import utc_now


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Mnemo, the assistant that remembers.")
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
    if chatting_here and "log_level" not in settings.model_fields_set:
        # A chat in this terminal: INFO lines would interleave with the conversation.
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
        if args.command in ("web", "worker"):
            return asyncio.run(run_role(settings, args.command))
        return asyncio.run(run_bot(settings))
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:  # found at start-up, e.g. a Supabase URL or key the server rejects
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    except WebStartError as exc:
        print(f"Could not start: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
