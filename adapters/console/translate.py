"""Console lines -> IncomingMessage, and command results -> text."""

from __future__ import annotations

import uuid
from datetime import datetime

from core.commands import CommandResult
from core.models import IncomingMessage, Platform

WORKSPACE = "local"


def to_incoming(line: str, *, user: str, channel: str, is_dm: bool, now: datetime) -> IncomingMessage:
    return IncomingMessage(
        platform=Platform.CONSOLE,
        workspace=WORKSPACE,
        user=user,
        channel=channel,
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
