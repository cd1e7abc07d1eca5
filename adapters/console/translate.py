"""Console lines -> IncomingMessage, and command results -> text.

All pure: no I/O, so each rule is tested on its own (tests/adapters/console/test_translate.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from core.commands import CommandResult
from core.models import IncomingMessage, Platform

WORKSPACE = "local"


def to_incoming(
    line: str,
    *,
    user: str,
    channel: str,
    is_dm: bool,
    now: datetime,
    thread: str = "",
) -> IncomingMessage:
    """`thread`: the conversation within the channel; `/new` starts another (a new session)."""
    return IncomingMessage(
        platform=Platform.CONSOLE,
        workspace=WORKSPACE,
        user=user,
        channel=channel,
        thread=thread,
        text=line,
        message_id=uuid.uuid4().hex,
        is_private=is_dm,
        is_direct=is_dm,
        mentions_bot=True,
        user_name=user,
        received_at=now,
    )


def render_result(result: CommandResult) -> str:
    text = result.text
    if result.needs_confirmation:
        text += "\nType '/memory forget all confirm' to go ahead."
    if result.export_json is not None:
        text += "\n" + result.export_json
    return text
