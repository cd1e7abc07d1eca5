"""`/memory`, pure: options -> core commands, results -> ephemeral answers, confirm ids, sync."""

from __future__ import annotations

import json
import re

import pytest

from adapters.discord.commands import (
    ConfirmPress,
    commands_need_sync,
    confirm_custom_id,
    confirm_problem,
    memory_command,
    parse_confirm,
    render_result,
)
from core.commands import CommandName, CommandResult
from core.errors import UserFacingError
from core.models import MemoryItem, MemoryPage

ALICE = 1_000_000_000_000_000_002
BOB = 1_000_000_000_000_000_003


def test_memory_command_maps_options_to_core_commands() -> None:
    show = memory_command("show", query="  coffee   beans ", page=2)
    assert (show.name, show.argument, show.page) == (CommandName.SHOW, "coffee beans", 1)
    assert memory_command("forget", memory_id=" `abc-123` ").argument == "abc-123"
    assert memory_command("forget-all").confirmed is False
    assert memory_command("forget-all", confirmed=True).confirmed is True
    assert memory_command("export").name is CommandName.EXPORT


@pytest.mark.parametrize(
    ("subcommand", "kwargs", "message"),
    [
        ("forget", {"memory_id": ""}, "Give the id"),
        ("forget", {"memory_id": "a b; drop"}, "doesn't look like a memory id"),
        ("show", {"page": 0}, "page starts at 1"),
        ("show", {"query": "x" * 300}, "too long"),
        ("explode", {}, "Unknown /memory command"),
    ],
)
def test_bad_command_input_gets_a_clear_error(
    subcommand: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UserFacingError, match=message):
        memory_command(subcommand, **kwargs)  # type: ignore[arg-type]


def item(n: int) -> MemoryItem:
    return MemoryItem(f"id-{n}", f"fact number {n}", "2026-11-01T10:00:00", "discord", "123", n % 2 == 0)


def test_show_renders_an_embed_with_ids_and_next_page_hint() -> None:
    page = MemoryPage([item(n) for n in range(10)], offset=0, total=23)
    answer = render_result(CommandResult("text", page=page), user_id=ALICE, size_limit=10)
    assert answer.embed is not None
    description = answer.embed.description or ""
    assert "`id-3`" in description
    assert "fact number 3" in description
    assert "page:2" in description
    assert "1-10 of 23" in (answer.embed.title or "")


def test_export_becomes_a_json_file_unless_too_large() -> None:
    document = json.dumps({"memories": [{"text": "x"}]})
    answer = render_result(CommandResult("Here", export_json=document), user_id=ALICE, size_limit=10_000)
    assert answer.file is not None
    assert json.loads(answer.file[1]) == {"memories": [{"text": "x"}]}
    too_big = render_result(CommandResult("Here", export_json=document), user_id=ALICE, size_limit=5)
    assert too_big.file is None
    assert "more than Discord lets me attach" in too_big.content


def test_forget_all_asks_for_a_confirmation_owned_by_the_asker() -> None:
    answer = render_result(CommandResult("Sure?", needs_confirmation=True), user_id=ALICE, size_limit=1)
    assert answer.confirm_for == ALICE


def test_confirm_buttons_check_owner_and_expiry_statelessly() -> None:
    custom_id = confirm_custom_id("yes", user_id=ALICE, expires_at=1_000)
    match = re.fullmatch(r"mnemo:forget-all:(?P<action>yes|no):(?P<user>\d+):(?P<expires>\d+)", custom_id)
    assert match is not None
    assert len(custom_id) <= 100
    press = parse_confirm(match)
    assert press == ConfirmPress("yes", ALICE, 1_000)
    assert confirm_problem(press, presser_id=ALICE, now=999) is None
    assert "Only the person who asked" in (confirm_problem(press, presser_id=BOB, now=999) or "")
    assert "expired" in (confirm_problem(press, presser_id=ALICE, now=1_001) or "")


# -- command sync ----------------------------------------------------------------------------------
LOCAL = [
    {
        "name": "memory",
        "description": "mem",
        "type": 1,
        "options": [{"name": "show", "description": "d", "type": 1, "options": []}],
        "nsfw": False,
        "default_member_permissions": None,
        "contexts": [0, 1],
    }
]


def test_commands_in_sync_when_discord_only_added_its_own_fields() -> None:
    remote = [
        {
            **LOCAL[0],
            "id": "55",
            "application_id": "1",
            "version": "9",
            "contexts": [0, 1],
            "options": [{"name": "show", "description": "d", "type": 1}],
            "name_localizations": None,
        }
    ]
    assert not commands_need_sync(LOCAL, remote)


@pytest.mark.parametrize(
    "remote",
    [
        [],
        [{**LOCAL[0], "description": "old"}],
        [{**LOCAL[0], "options": []}],
        [LOCAL[0], {"name": "legacy", "type": 1, "description": "x"}],
    ],
)
def test_commands_need_sync_when_anything_we_set_differs(remote: list[dict[str, object]]) -> None:
    assert commands_need_sync(LOCAL, remote)
