"""`/memory` results -> Block Kit messages (ephemeral), and the button values they carry.

Button values say what to show or delete, never whose: a click always acts for the person who
clicked (see `translate.action_identity`), so a forged or forwarded value cannot reach another
account.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import ContextActionsBlock, FeedbackButtonObject, FeedbackButtonsElement

from adapters.slack.translate import escape_text
from core.commands import Command, CommandName, CommandResult
from core.models import MemoryItem, MemoryPage

ACTION_DELETE = "mnemo_memory_delete"
ACTION_NEWER = "mnemo_memory_newer"
ACTION_OLDER = "mnemo_memory_older"
ACTION_FORGET_ALL_CONFIRM = "mnemo_forget_all_confirm"
ACTION_FORGET_ALL_CANCEL = "mnemo_forget_all_cancel"

SECTION_LIMIT = 3000  # Block Kit section text maximum
MAX_QUERY_IN_BUTTON = 200  # button values hold at most 2,000 characters
_SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{2,}$")


@dataclass(frozen=True, slots=True)
class ShowState:
    """Which page of `/memory show [query]` a button belongs to."""

    page: int
    query: str
    memory_id: str = ""


def encode_state(state: ShowState) -> str:
    data: dict[str, Any] = {"p": state.page, "q": state.query[:MAX_QUERY_IN_BUTTON]}
    if state.memory_id:
        data["id"] = state.memory_id
    return json.dumps(data, separators=(",", ":"))


def decode_state(value: str) -> ShowState:
    """Raises ValueError for a value this module did not produce."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("button value is not an object")
    page, query, memory_id = data.get("p", 0), data.get("q", ""), data.get("id", "")
    if not isinstance(page, int) or page < 0 or not isinstance(query, str) or not isinstance(memory_id, str):
        raise ValueError("malformed button value")
    return ShowState(page, query[:MAX_QUERY_IN_BUTTON], memory_id)


def clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn)}}


def context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(mrkdwn)}]}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def where(item: MemoryItem) -> str:
    if item.is_private:
        return "in private"
    if item.platform == "slack" and item.channel and _SLACK_CHANNEL.match(item.channel):
        return f"in <#{item.channel}>"  # our own channel id from storage, rendered as a link
    if item.channel:
        return f"in #{escape_text(item.channel)}" + (
            f" ({escape_text(item.platform)})" if item.platform else ""
        )
    return f"on {escape_text(item.platform)}" if item.platform else ""


def _item_blocks(item: MemoryItem, *, index: int, state: ShowState) -> list[dict[str, Any]]:
    details = [part for part in (where(item), (item.created_at or "")[:10]) if part]
    details.append(f"id `{escape_text(item.id)}`")
    block = section(escape_text(item.text) or "_(empty)_")
    block["block_id"] = f"memory_{index}"
    block["accessory"] = button(
        "Delete",
        ACTION_DELETE,
        encode_state(ShowState(state.page, state.query, item.id)),
        style="danger",
    )
    return [block, context(" · ".join(details))]


def _show_blocks(result: CommandResult, page: MemoryPage, state: ShowState) -> list[dict[str, Any]]:
    if not page.items:
        empty: list[dict[str, Any]] = [section(escape_text(result.text))]
        if page.offset > 0 and page.total > 0:  # e.g. the last item of a later page was deleted
            back = button(
                "← Newer", ACTION_NEWER, encode_state(ShowState(max(state.page - 1, 0), state.query))
            )
            empty.append({"type": "actions", "block_id": "memory_pages", "elements": [back]})
        return empty
    first, last = page.offset + 1, page.offset + len(page.items)
    about = f" matching “{escape_text(state.query)}”" if state.query else ""
    blocks: list[dict[str, Any]] = [
        section(f"*What I remember about you*{about} ({first}–{last} of {page.total}, newest first)")
    ]
    for index, item in enumerate(page.items):
        blocks.extend(_item_blocks(item, index=index, state=state))
    navigation = []
    if page.offset > 0:
        navigation.append(
            button("← Newer", ACTION_NEWER, encode_state(ShowState(state.page - 1, state.query)))
        )
    if page.has_more:
        navigation.append(
            button("Older →", ACTION_OLDER, encode_state(ShowState(state.page + 1, state.query)))
        )
    if navigation:
        blocks.append({"type": "actions", "block_id": "memory_pages", "elements": navigation})
    return blocks


def _confirm_blocks(result: CommandResult) -> list[dict[str, Any]]:
    erase = button("Erase everything", ACTION_FORGET_ALL_CONFIRM, "forget-all", style="danger")
    erase["confirm"] = {
        "title": {"type": "plain_text", "text": "Erase everything?"},
        "text": {
            "type": "mrkdwn",
            "text": "Every memory and stored message about you. This cannot be undone.",
        },
        "confirm": {"type": "plain_text", "text": "Erase"},
        "deny": {"type": "plain_text", "text": "Keep"},
        "style": "danger",
    }
    return [
        section(escape_text(result.text)),
        {
            "type": "actions",
            "block_id": "forget_all",
            "elements": [erase, button("Cancel", ACTION_FORGET_ALL_CANCEL, "cancel")],
        },
    ]


def render_result(result: CommandResult, *, command: Command, notice: str | None = None) -> dict[str, Any]:
    """respond() arguments for a command result: `text` (the notification fallback) and `blocks`."""
    if command.name is CommandName.SHOW and result.page is not None:
        blocks = _show_blocks(result, result.page, ShowState(command.page, command.argument))
    elif result.needs_confirmation:
        blocks = _confirm_blocks(result)
    elif command.name is CommandName.HELP:
        blocks = [section(f"```{escape_text(result.text)}```")]
    else:
        blocks = [section(escape_text(result.text))]
    if notice:
        blocks.insert(0, context(escape_text(notice)))
    return {"text": clip(escape_text(result.text)), "blocks": blocks}


def render_text(text: str) -> dict[str, Any]:
    """A plain ephemeral answer (errors, confirmations)."""
    return {"text": clip(escape_text(text)), "blocks": [section(escape_text(text))]}


# -- the assistant pane's feedback buttons ---------------------------------------------------------
ACTION_FEEDBACK = "mnemo_answer_feedback"


def feedback_blocks() -> list[dict[str, Any]]:
    """Slack's thumbs up/down under an answer (context_actions + feedback_buttons); a click
    carries "good" or "bad" and is recorded for the clicker (core Assistant.record_feedback)."""
    buttons = FeedbackButtonsElement(
        action_id=ACTION_FEEDBACK,
        positive_button=FeedbackButtonObject(
            text="Good answer", value="good", accessibility_label="This answer was helpful"
        ),
        negative_button=FeedbackButtonObject(
            text="Bad answer", value="bad", accessibility_label="This answer was not helpful"
        ),
    )
    return [ContextActionsBlock(block_id="mnemo_feedback", elements=[buttons]).to_dict()]


def render_candidates(items: list[MemoryItem], *, heading: str) -> dict[str, Any]:
    """Memories to pick from, each with a Delete button (the /memory one: a click shows /memory
    show afterwards), under a heading."""
    blocks: list[dict[str, Any]] = [section(escape_text(heading))]
    for index, item in enumerate(items):
        blocks.extend(_item_blocks(item, index=index, state=ShowState(0, "")))
    return {"text": clip(escape_text(heading)), "blocks": blocks}
