"""Payloads of Slack's assistant pane, App Home and message shortcuts, shaped like the documented
ones (docs.slack.dev: assistant_thread_started, assistant_thread_context_changed, app_home_opened,
message_action, block_actions with feedback_buttons)."""

from __future__ import annotations

from typing import Any

from tests.adapters.slack.payloads import ALICE, ALICE_DM, GENERAL, TEAM, new_trigger_id, new_ts


def thread_started(
    *, user: str = ALICE, channel: str = ALICE_DM, thread_ts: str, looking_at: str = GENERAL
) -> dict[str, Any]:
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {"channel_id": looking_at, "team_id": TEAM, "enterprise_id": None},
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "event_ts": new_ts(),
    }


def context_changed(
    *, user: str = ALICE, channel: str = ALICE_DM, thread_ts: str, looking_at: str
) -> dict[str, Any]:
    event = thread_started(user=user, channel=channel, thread_ts=thread_ts, looking_at=looking_at)
    return event | {"type": "assistant_thread_context_changed"}


def pane_message(text: str, *, thread_ts: str, user: str = ALICE, channel: str = ALICE_DM) -> dict[str, Any]:
    ts = new_ts()
    return {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "parent_user_id": "UMNEMO",
        "channel": channel,
        "event_ts": ts,
        "channel_type": "im",
        "team": TEAM,
        "client_msg_id": f"cm-{ts}",
    }


def home_opened(*, user: str, tab: str = "home") -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": tab, "event_ts": new_ts()}


def feedback_click(
    value: str, *, user: str = ALICE, channel: str = ALICE_DM, message_ts: str
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0MNEMO",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": new_trigger_id(),
        "team": {"id": TEAM, "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "ts": message_ts, "user": "UMNEMO", "text": "an answer"},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0TEAM/1/feedback",
        "actions": [
            {
                "action_id": "mnemo_answer_feedback",
                "block_id": "mnemo_feedback",
                "type": "feedback_buttons",
                "value": value,
                "action_ts": "1548426417.840180",
            }
        ],
    }


def home_click(action_id: str, value: str, *, user: str, private_metadata: str = "") -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0MNEMO",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": f"V{user}"},
        "trigger_id": new_trigger_id(),
        "team": {"id": TEAM, "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {"id": f"V{user}", "type": "home", "private_metadata": private_metadata, "blocks": []},
        "state": {"values": {}},
        "actions": [
            {
                "action_id": action_id,
                "block_id": "home",
                "text": {"type": "plain_text", "text": "Button", "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": "1548426417.840180",
            }
        ],
    }


def message_shortcut(
    callback_id: str,
    *,
    clicker: str,
    author: str | None,
    text: str,
    channel: str = GENERAL,
    response_url: str,
    bot_id: str | None = None,
) -> dict[str, Any]:
    ts = new_ts()
    message: dict[str, Any] = {"type": "message", "text": text, "ts": ts}
    if author is not None:
        message["user"] = author
    if bot_id is not None:
        message["bot_id"] = bot_id
    return {
        "type": "message_action",
        "callback_id": callback_id,
        "trigger_id": new_trigger_id(),
        "message_ts": ts,
        "response_url": response_url,
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": clicker, "name": clicker.lower(), "team_id": TEAM},
        "channel": {"id": channel, "name": "general"},
        "message": message,
        "token": "legacy-verification-token",
        "action_ts": ts,
        "is_enterprise_install": False,
        "enterprise": None,
    }
