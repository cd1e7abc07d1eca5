"""The App Home tab's view (views.publish): one person's memories and controls, for that person.

Button values say which page or memory, never whose: every click acts for the person who clicked
(translate.action_identity), and the tab is published only to them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from adapters.slack.render import button, clip, context, section, where
from adapters.slack.translate import escape_text
from core.linking import describe_identity
from core.models import AccountSettings, IdentityKey, MemoryItem, MemoryPage

HOME_DELETE = "mnemo_home_delete"
HOME_NEWER = "mnemo_home_newer"
HOME_OLDER = "mnemo_home_older"
HOME_PAUSE = "mnemo_home_pause"
HOME_RESUME = "mnemo_home_resume"
HOME_EXPORT = "mnemo_home_export"
HOME_FORGET_ALL = "mnemo_home_forget_all"
HOME_ACTIONS = (HOME_DELETE, HOME_NEWER, HOME_OLDER, HOME_PAUSE, HOME_RESUME, HOME_EXPORT, HOME_FORGET_ALL)

HOME_PAGE_SIZE = 10  # 2 blocks a memory: far below a home view's 100 blocks


@dataclass(frozen=True, slots=True)
class HomeState:
    """What a Home button is about: a page, and for Delete the memory."""

    page: int = 0
    memory_id: str = ""


def encode_home(state: HomeState) -> str:
    data: dict[str, Any] = {"p": state.page}
    if state.memory_id:
        data["id"] = state.memory_id
    return json.dumps(data, separators=(",", ":"))


def decode_home(value: str) -> HomeState:
    """Raises ValueError for a value this module did not produce."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("button value is not an object")
    page, memory_id = data.get("p", 0), data.get("id", "")
    if not isinstance(page, int) or isinstance(page, bool) or page < 0 or not isinstance(memory_id, str):
        raise ValueError("malformed button value")
    return HomeState(page, memory_id)


@dataclass(frozen=True, slots=True)
class HomeData:
    """Everything the tab shows, read for the viewer."""

    settings: AccountSettings
    page: MemoryPage
    page_number: int
    linked: list[IdentityKey]
    notice: str = ""


def _memory_blocks(item: MemoryItem, *, index: int, page: int) -> list[dict[str, Any]]:
    learned = [part for part in (where(item), _when(item)) if part]
    block = section(escape_text(item.text) or "_(empty)_")
    block["block_id"] = f"home_memory_{index}"
    block["accessory"] = button("Delete", HOME_DELETE, encode_home(HomeState(page, item.id)), style="danger")
    return [block, context("Learned " + " · ".join(learned) if learned else "Learned: unknown")]


def _when(item: MemoryItem) -> str:
    return f"on {item.created_at[:10]}" if item.created_at else ""


def _controls(data: HomeData) -> dict[str, Any]:
    if data.settings.memory_paused:
        toggle = button("Resume remembering", HOME_RESUME, "resume", style="primary")
    else:
        toggle = button("Pause remembering", HOME_PAUSE, "pause")
    forget = button("Forget everything", HOME_FORGET_ALL, "forget-all", style="danger")
    forget["confirm"] = {
        "title": {"type": "plain_text", "text": "Forget everything?"},
        "text": {
            "type": "mrkdwn",
            "text": "Every memory and stored message about you, on every linked platform. "
            "This cannot be undone.",
        },
        "confirm": {"type": "plain_text", "text": "Forget everything"},
        "deny": {"type": "plain_text", "text": "Keep"},
        "style": "danger",
    }
    export = button("Export (JSON to your DMs)", HOME_EXPORT, "export")
    return {"type": "actions", "block_id": "home_controls", "elements": [toggle, export, forget]}


def _linked(data: HomeData) -> str:
    platforms = sorted({describe_identity(identity) for identity in data.linked})
    if len(platforms) <= 1:
        return "Linked accounts: none yet. `/memory link` gives you a code for Discord or the web."
    return (
        "Linked accounts: "
        + ", ".join(platforms)
        + " share this memory. `/memory unlink <platform>` to detach."
    )


def _pages(data: HomeData) -> list[dict[str, Any]]:
    page, number = data.page, data.page_number
    navigation = []
    if page.offset > 0:
        navigation.append(button("← Newer", HOME_NEWER, encode_home(HomeState(max(number - 1, 0)))))
    if page.has_more:
        navigation.append(button("Older →", HOME_OLDER, encode_home(HomeState(number + 1))))
    return [{"type": "actions", "block_id": "home_pages", "elements": navigation}] if navigation else []


def home_view(data: HomeData) -> dict[str, Any]:
    """The `view` argument of views.publish."""
    page = data.page
    status = (
        "*Paused*: I'm not remembering anything new."
        if data.settings.memory_paused
        else "I remember what you tell me, and only you see it here."
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "What Mnemo remembers about you"}},
    ]
    if data.notice:
        blocks.append(context(escape_text(data.notice)))
    blocks += [section(status), _controls(data), context(_linked(data)), {"type": "divider"}]
    if not page.items:
        empty = "Nothing on this page." if page.total else "I don't remember anything about you yet."
        blocks.append(section(empty))
        if page.offset > 0:  # e.g. the last memory of a later page was deleted
            back = button("← Newer", HOME_NEWER, encode_home(HomeState(max(data.page_number - 1, 0))))
            blocks.append({"type": "actions", "block_id": "home_pages", "elements": [back]})
    else:
        first, last = page.offset + 1, page.offset + len(page.items)
        blocks.append(context(f"{first}–{last} of {page.total}, newest first"))
        for index, item in enumerate(page.items):
            blocks += _memory_blocks(item, index=index, page=data.page_number)
        blocks += _pages(data)
    return {
        "type": "home",
        "private_metadata": encode_home(HomeState(data.page_number)),
        "blocks": blocks,
    }


def home_error_view(text: str) -> dict[str, Any]:
    return {"type": "home", "blocks": [section(clip(escape_text(text)))]}
