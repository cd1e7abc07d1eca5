"""Small builders shared by the core tests."""

from __future__ import annotations

import itertools

from core.models import IncomingMessage, Platform

_ids = itertools.count(1)


def message(
    text: str,
    *,
    user: str = "alice",
    channel: str | None = None,
    thread: str = "",
    dm: bool = False,
    private: bool | None = None,
    platform: Platform = Platform.CONSOLE,
    workspace: str = "w1",
    message_id: str | None = None,
    name: str | None = None,
) -> IncomingMessage:
    return IncomingMessage(
        platform=platform,
        workspace=workspace,
        user=user,
        channel=channel or (f"dm-{user}" if dm else "general"),
        thread=thread,
        text=text,
        message_id=message_id or f"m{next(_ids)}",
        is_private=dm if private is None else private,
        is_direct=dm,
        mentions_bot=True,
        user_name=name or user.capitalize(),
    )


def prompt_text(prompt: list[dict[str, object]]) -> str:
    return "\n".join(str(m.get("content", "")) for m in prompt)
