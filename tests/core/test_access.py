"""The access policy (core.access), as the pure decision it is: who and where, block wins, DMs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.access import AccessPolicy, PlatformLists, Verdict
from core.models import IncomingMessage, Platform
from tests.core.helpers import message


def slack(user: str = "U1", channel: str = "C1", *, dm: bool = False) -> IncomingMessage:
    return message(
        "hi", user=user, channel="D1" if dm else channel, dm=dm, platform=Platform.SLACK, workspace="T1"
    )


def discord(
    user: str = "111", channel: str = "222", *, server: str = "333", roles: frozenset[str] = frozenset()
) -> IncomingMessage:
    base = message("hi", user=user, channel=channel, platform=Platform.DISCORD, workspace="")
    return replace(base, server=server, roles=roles)


OPEN = AccessPolicy()


def test_nothing_set_lets_everyone_in_everywhere() -> None:
    assert OPEN.open_to_all
    assert OPEN.check(slack()) is Verdict.ALLOWED
    assert OPEN.check(slack(dm=True)) is Verdict.ALLOWED
    assert OPEN.check(discord()) is Verdict.ALLOWED
    assert OPEN.check(discord(server="")) is Verdict.ALLOWED


@pytest.mark.parametrize(
    ("lists", "msg", "verdict"),
    [
        (PlatformLists(allowed_users=frozenset({"U1"})), slack("U1"), Verdict.ALLOWED),
        (PlatformLists(allowed_users=frozenset({"U1"})), slack("U2"), Verdict.SILENT),
        (PlatformLists(allowed_users=frozenset({"U1"})), slack("U2", dm=True), Verdict.NOTE),
        (PlatformLists(allowed_channels=frozenset({"C1"})), slack(channel="C2"), Verdict.SILENT),
        # Channel lists do not govern DMs (ALLOW_DMS does).
        (PlatformLists(allowed_channels=frozenset({"C1"})), slack(dm=True), Verdict.ALLOWED),
        (PlatformLists(blocked_channels=frozenset({"C1"})), slack(channel="C1"), Verdict.SILENT),
        # Block wins over allow.
        (
            PlatformLists(allowed_users=frozenset({"U1"}), blocked_users=frozenset({"U1"})),
            slack("U1"),
            Verdict.SILENT,
        ),
        (
            PlatformLists(allowed_channels=frozenset({"C1"}), blocked_channels=frozenset({"C1"})),
            slack(),
            Verdict.SILENT,
        ),
        (PlatformLists(allowed_users=frozenset()), slack(), Verdict.SILENT),  # an empty list allows nobody
    ],
)
def test_slack_lists(lists: PlatformLists, msg: IncomingMessage, verdict: Verdict) -> None:
    assert AccessPolicy(slack=lists).check(msg) is verdict


@pytest.mark.parametrize(
    ("lists", "msg", "verdict"),
    [
        (PlatformLists(allowed_roles=frozenset({"9"})), discord(roles=frozenset({"9"})), Verdict.ALLOWED),
        (PlatformLists(allowed_roles=frozenset({"9"})), discord(), Verdict.SILENT),
        # Users and roles together: either lets the person in.
        (
            PlatformLists(allowed_roles=frozenset({"9"}), allowed_users=frozenset({"111"})),
            discord("111"),
            Verdict.ALLOWED,
        ),
        (
            PlatformLists(allowed_roles=frozenset({"9"}), blocked_roles=frozenset({"8"})),
            discord(roles=frozenset({"9", "8"})),
            Verdict.SILENT,
        ),
        # In a DM no role can be shown: with only roles allowed, DMs get the note.
        (PlatformLists(allowed_roles=frozenset({"9"})), discord(server=""), Verdict.NOTE),
        # A thread's channel is its parent (the adapter keys it so); a server id covers the server.
        (PlatformLists(allowed_channels=frozenset({"222"})), discord(channel="222"), Verdict.ALLOWED),
        (PlatformLists(allowed_channels=frozenset({"333"})), discord(channel="444"), Verdict.ALLOWED),
        (
            PlatformLists(allowed_channels=frozenset({"333"})),
            discord(channel="444", server="555"),
            Verdict.SILENT,
        ),
        (PlatformLists(blocked_channels=frozenset({"333"})), discord(), Verdict.SILENT),
        (PlatformLists(blocked_users=frozenset({"111"})), discord(server=""), Verdict.NOTE),
    ],
)
def test_discord_lists(lists: PlatformLists, msg: IncomingMessage, verdict: Verdict) -> None:
    assert AccessPolicy(discord=lists).check(msg) is verdict


def test_dms_off_refuses_dms_with_a_note_on_both_platforms_and_nothing_else() -> None:
    policy = AccessPolicy(allow_dms=False)
    assert not policy.open_to_all
    assert policy.check(slack(dm=True)) is Verdict.NOTE
    assert policy.check(discord(server="")) is Verdict.NOTE
    assert policy.check(slack()) is Verdict.ALLOWED
    assert policy.check(discord()) is Verdict.ALLOWED


def test_one_platforms_lists_leave_the_other_platform_and_the_console_alone() -> None:
    policy = AccessPolicy(slack=PlatformLists(allowed_users=frozenset()), allow_dms=False)
    assert policy.check(discord()) is Verdict.ALLOWED
    assert policy.check(message("hi", dm=True)) is Verdict.ALLOWED  # console
    assert policy.check(message("hi", platform=Platform.WEB, workspace="")) is Verdict.ALLOWED
