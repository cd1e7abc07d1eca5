"""`python -m bot admin`: erase and export a person by platform and user id, list accounts, re-embed.

Erasure is checked with the canary probes of tests/core/test_erasure.py: after `admin erase` no file
under DATA_DIR and no row holds the person's words, and someone else's stay."""

from __future__ import annotations

import argparse
import io
import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.admin import DEFAULT_WORKSPACE, add_admin_parser, parse_person, run_admin
from bot.wiring import build_core
from config import Settings
from core.models import Platform
from tests.conftest import make_settings
from tests.core.helpers import message
from tests.core.test_erasure import ALICE, PROBES, in_any_file, plant
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]


class Terminal(io.StringIO):
    """Typed answers, read as from a terminal."""

    def isatty(self) -> bool:
        return True


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(settings.data_dir.parent),
        "PYTHONPATH": str(ROOT),
        "OPENAI_BASE_URL": settings.openai_base_url,
        "OPENAI_API_KEY": "test-key",
        "CHAT_MODEL": settings.chat_model,
        "EMBEDDING_MODEL": settings.embedding_model,
        "EMBEDDING_DIMS": str(settings.embedding_dims),
        "DATA_DIR": str(settings.data_dir),
        "LLM_MAX_RETRIES": "0",
    }


def bot(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        env=env,
        cwd=Path(env["DATA_DIR"]).parent,  # no .env there
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_admin_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["admin", *argv])


async def planted(settings: Settings, fake: FakeOpenAI, secret: str) -> None:
    """Alice's canary everywhere (tests/core/test_erasure.py), and one memory of Bob's."""
    async with build_core(settings) as core:
        await plant(core, fake, secret)
        await core.orchestrator.handle(message("bob grows leeks", user="bob", dm=True, channel="dm-b"))
        assert await core.writer.flush(10)


async def probes_finding(settings: Settings, needle: str) -> list[str]:
    async with build_core(settings) as core:
        found = [place for place, probe in PROBES.items() if probe(core, needle)]
        return found + (["a file under DATA_DIR"] if in_any_file(core, needle) else [])


async def test_admin_erase_leaves_no_file_or_row_with_the_persons_words(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    secret = f"canary{uuid.uuid4().hex[:8]}"
    await planted(settings, fake_openai, secret)
    assert await probes_finding(settings, secret)

    result = bot(["admin", "erase", "console:w1:alice", "--yes"], env_for(settings))

    assert result.returncode == 0, result.stderr
    assert "Erase everything Mnemo holds for console:w1:alice" in result.stderr
    assert "Erased 1 memory and 2 stored messages." in result.stderr
    assert await probes_finding(settings, secret) == []
    assert await probes_finding(settings, "bob grows leeks") != []  # nobody else's


async def test_without_yes_and_without_a_terminal_it_refuses_in_one_line_and_erases_nothing(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    secret = f"canary{uuid.uuid4().hex[:8]}"
    await planted(settings, fake_openai, secret)

    result = bot(["admin", "erase", "console:w1:alice"], env_for(settings))

    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "not erasing without confirmation: run it in a terminal, or add --yes"
    )
    assert "Traceback" not in result.stderr
    assert "store.messages" in await probes_finding(settings, secret)


async def test_in_a_terminal_it_asks_and_only_yes_goes_ahead(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    secret = f"canary{uuid.uuid4().hex[:8]}"
    await planted(settings, fake_openai, secret)
    out, err = io.StringIO(), io.StringIO()
    erase = args("erase", "console:w1:alice")

    assert await run_admin(settings, erase, stdin=Terminal("n\n"), out=out, err=err) == 1
    assert "Go ahead? [y/N] Nothing changed." in err.getvalue()
    assert "memory.vectors" in await probes_finding(settings, secret)

    assert await run_admin(settings, erase, stdin=Terminal("y\n"), out=out, err=err) == 0
    assert await probes_finding(settings, secret) == []


async def test_export_writes_only_that_persons_memories(
    settings: Settings, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    secret = f"canary{uuid.uuid4().hex[:8]}"
    await planted(settings, fake_openai, secret)
    out, err = io.StringIO(), io.StringIO()

    export = args("export", "console:w1:alice", "--yes")
    code = await run_admin(settings, export, stdin=io.StringIO(), out=out, err=err)

    assert code == 0, err.getvalue()
    document: dict[str, Any] = json.loads(out.getvalue())
    assert [m["text"] for m in document["memories"]] == [f"my code is {secret}"]
    assert document["identities"] == [{"platform": "console", "workspace": "w1", "user": "alice"}]
    assert "Export 1 memory of account" in err.getvalue()

    target = tmp_path / "alice.json"
    assert await run_admin(settings, args("export", "console:w1:alice", "-y", "-o", str(target))) == 0
    assert json.loads(target.read_text()) == document
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    err = io.StringIO()
    again = args("export", "console:w1:alice", "-y", "-o", str(target))
    assert await run_admin(settings, again, err=err) == 2
    assert "exists; choose a new file" in err.getvalue()


async def test_accounts_lists_every_account_with_its_memory_count(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    await planted(settings, fake_openai, "canary-accounts")
    out, err = io.StringIO(), io.StringIO()

    assert await run_admin(settings, args("accounts"), out=out, err=err) == 0

    rows = out.getvalue().splitlines()
    assert rows[0].split() == ["account", "memories", "tokens_today", "paused", "identities"]
    cells = sorted(row.split()[1:] for row in rows[1:])
    assert sorted([c[0], *c[2:]] for c in cells) == [
        ["1", "no", "console:w1:alice"],
        ["1", "no", "console:w1:bob"],
    ]
    assert all(int(c[1]) > 0 for c in cells)  # each chatted: the model's usage counted today
    assert "2 accounts hold memories." in err.getvalue()


@pytest.mark.parametrize(
    ("person", "problem"),
    [
        (
            "slack:U0456",
            "Slack ids need the workspace: slack:T0123ABC:U0456 (the team id, or the Enterprise Grid org id)",
        ),
        ("matrix:@a:b", "'matrix:@a:b' is not platform:user (platform one of slack, discord, console, web)"),
        ("discord:", "'discord:' has no user id after 'discord:'"),
    ],
)
async def test_a_malformed_person_is_one_line_and_changes_nothing(
    settings: Settings, person: str, problem: str
) -> None:
    err = io.StringIO()
    assert await run_admin(settings, args("erase", person, "--yes"), err=err) == 2
    assert err.getvalue().strip() == problem
    assert not settings.data_dir.exists()  # not even the store was opened


async def test_someone_mnemo_never_saw_is_one_line_and_nothing_is_created(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    await planted(settings, fake_openai, "canary-known")
    for command in ("erase", "export"):
        err = io.StringIO()
        assert await run_admin(settings, args(command, "discord:404", "--yes"), err=err) == 2
        assert err.getvalue().strip() == "Mnemo has no account for discord:404."
    async with build_core(settings) as core:
        assert await core.store.find_account(parse_person("discord:404")) is None


def test_person_ids_default_to_the_adapters_workspaces() -> None:
    from adapters.console.translate import WORKSPACE as CONSOLE
    from adapters.discord.translate import WORKSPACE as DISCORD
    from adapters.http.translate import WORKSPACE as WEB

    assert DEFAULT_WORKSPACE == {Platform.DISCORD: DISCORD, Platform.WEB: WEB, Platform.CONSOLE: CONSOLE}
    assert parse_person("discord:80351110224678912") == parse_person("discord::80351110224678912")
    assert parse_person("slack:E01ORG:U0456").workspace == "E01ORG"
    assert parse_person("console:alice") == ALICE.__class__(Platform.CONSOLE, "local", "alice")


def test_a_new_embedding_size_is_refused_at_start_up_until_reembed(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    first = env_for(make_settings(tmp_path / "data", fake_openai))
    told = bot(["console", "--user", "zoe"], first, stdin="I keep two goats\n/quit\n")
    assert told.returncode == 0, told.stderr
    bigger = first | {"EMBEDDING_DIMS": "96"}

    refused = bot(["console", "--user", "zoe"], bigger, stdin="/memory show\n")
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("Configuration error: EMBEDDING_DIMS=96 and EMBEDDING_MODEL=fake-embed do not")
    assert "`python -m bot admin reembed`" in line

    # Erasure and export do not wait for a re-embed.
    exported = bot(["admin", "export", "console:zoe", "--yes"], bigger)
    assert exported.returncode == 0, exported.stderr
    assert "I keep two goats" in exported.stdout
    assert bot(["admin", "reembed"], bigger).returncode == 2  # no terminal, no --yes: nothing done
    done = bot(["admin", "reembed", "--yes"], bigger)
    assert done.returncode == 0, done.stderr
    assert "Re-embedded 1 vector; recorded fake-embed at 96 dims." in done.stderr

    shown = bot(["console", "--user", "zoe"], bigger, stdin="/memory show goats\n")
    assert shown.returncode == 0, shown.stderr
    assert "I keep two goats" in shown.stdout


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--version"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("mnemo 0.1.0 (Python 3.11")
