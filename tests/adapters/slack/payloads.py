"""Slack payloads shaped like the documented ones (Events API, slash commands, block_actions),
and request signing as Slack does it."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0TEAM"
BOT_USER = "UMNEMO"
BOT_ID = "BMNEMO"
ALICE = "UALICE"
BOB = "UBOB"
GENERAL = "C0GENERAL"
SECRET_CHANNEL = "C0SECRET"  # a private channel: new private channels also start with C
ALICE_DM = "D0ALICE"

_ts = itertools.count(1)
_event_ids = itertools.count(1)


def new_ts() -> str:
    return f"{1_750_000_000 + next(_ts)}.{next(_ts):06d}"


_triggers = itertools.count(1)


def new_trigger_id() -> str:
    """Slack gives every command, click and shortcut its own trigger_id (the intake keys on it)."""
    return f"13345224609.738474920.{next(_triggers):032x}"


def envelope(event: dict[str, Any], *, team: str = TEAM, enterprise: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "enterprise_id": enterprise,
        "api_app_id": "A0MNEMO",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": enterprise,
                "team_id": team,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
    }


def app_mention(
    text: str,
    *,
    user: str = ALICE,
    channel: str = GENERAL,
    ts: str | None = None,
    thread_ts: str | None = None,
    team: str = TEAM,
) -> dict[str, Any]:
    ts = ts or new_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": team,
        "client_msg_id": f"cm-{ts}",
        "blocks": [],
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = BOT_USER
    return event


def message(
    text: str,
    *,
    user: str | None = ALICE,
    channel: str = GENERAL,
    channel_type: str = "channel",
    ts: str | None = None,
    thread_ts: str | None = None,
    subtype: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    ts = ts or new_ts()
    event: dict[str, Any] = {
        "type": "message",
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
        "team": TEAM,
    }
    if user is not None:
        event["user"] = user
    if thread_ts:
        event["thread_ts"] = thread_ts
    if subtype:
        event["subtype"] = subtype
    event.update(extra)
    return event


def dm(text: str, *, user: str = ALICE, channel: str = ALICE_DM, **kwargs: Any) -> dict[str, Any]:
    return message(text, user=user, channel=channel, channel_type="im", **kwargs)


def slash_command(
    text: str,
    *,
    user: str = ALICE,
    response_url: str,
    channel: str = GENERAL,
    team: str = TEAM,
    enterprise: str | None = None,
    trigger_id: str | None = None,
) -> dict[str, str]:
    body = {
        "token": "legacy-verification-token",
        "team_id": team,
        "team_domain": "acme",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/memory",
        "text": text,
        "api_app_id": "A0MNEMO",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    if enterprise:
        body["enterprise_id"] = enterprise
    return body


def block_action(
    action_id: str,
    value: str,
    *,
    user: str = ALICE,
    response_url: str,
    block_id: str = "memory_0",
    team: str = TEAM,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
        "api_app_id": "A0MNEMO",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1548261231.000200", "is_ephemeral": True},
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team, "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": GENERAL, "name": "general"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": "Button", "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": "1548426417.840180",
            }
        ],
    }


def sign(body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def json_request(payload: dict[str, Any], **sign_kwargs: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", **sign(body, **sign_kwargs)}


def form_request(fields: dict[str, str], **sign_kwargs: Any) -> tuple[bytes, dict[str, str]]:
    body = urlencode(fields).encode()
    return body, {"Content-Type": "application/x-www-form-urlencoded", **sign(body, **sign_kwargs)}


def interactive_request(payload: dict[str, Any], **sign_kwargs: Any) -> tuple[bytes, dict[str, str]]:
    return form_request({"payload": json.dumps(payload)}, **sign_kwargs)
