"""HTTP mode's front gate: what a request to /slack/events must pass before bolt sees it.

Bolt checks signatures itself, but it reads bodies of any size, and it answers some bad input with
a 500 or raises (a non-numeric timestamp, a body that is not UTF-8 JSON, payload fields of the
wrong type that its matchers index without looking). `admit` turns every such request into a
`Refused` with a 4xx status, in this order: the size (before anything is read), the signature
(before anything is parsed), then the payload's shape.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import (
    is_assistant_event,
    to_action,
    to_command,
    to_event,
    to_message,
    to_options,
    to_shortcut,
    to_step,
    to_view,
)
from starlette.requests import Request

from adapters.common.body import BodyTooLarge, UnreadableBody, read_capped_body

MAX_BODY_BYTES = 1_000_000  # Slack's payloads are a few KB; anything this big is not from Slack
MAX_CLOCK_SKEW_SECONDS = 300  # Slack's rule for replayed requests
MAX_TIMESTAMP_DIGITS = 12

# bolt reads each of these from every payload before a listener runs (and again in the error
# handler): a KeyError or TypeError there escapes bolt as a 500.
_BOLT_EXTRACTORS = (to_options, to_shortcut, to_action, to_view, to_command, to_event, to_message, to_step)
# Fields bolt compares with == or a regex: a non-string there raises TypeError in re.search.
_MATCHED_FIELDS = ("type", "subtype", "command", "callback_id", "action_id", "block_id")


class Refused(Exception):
    """The request is refused with `status` (always a 4xx) and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature_of(secret: bytes, timestamp: str, body: bytes) -> str:
    """Slack's request signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{raw body}")."""
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return f"v0={digest}"


async def admit(request: Request, *, secret: bytes, clock: Callable[[], float]) -> AsyncBoltRequest:
    """The request as bolt should see it. Raises Refused."""
    try:
        # Capped before the signature is checked: the signature covers the whole body, so an
        # unsigned flood would otherwise be held in memory in full before being refused.
        body = await read_capped_body(request, limit=MAX_BODY_BYTES)
    except BodyTooLarge:
        raise Refused(413, "request body too large") from None
    except UnreadableBody as exc:
        raise Refused(400, str(exc)) from None
    check_signature(request.headers, body, secret=secret, now=clock())
    return to_bolt_request(request, body)


def check_signature(headers: Mapping[str, str], body: bytes, *, secret: bytes, now: float) -> None:
    """Raises Refused unless the request carries Slack's signature for this body, made recently."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        raise Refused(401, "missing X-Slack-Request-Timestamp or X-Slack-Signature")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise Refused(400, "malformed X-Slack-Request-Timestamp")
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise Refused(401, "stale request timestamp")
    # Headers arrive latin-1 decoded, and compare_digest raises TypeError for a str that is not
    # ASCII: such a signature is refused before comparing, and the comparison is on bytes.
    expected = signature_of(secret, timestamp, body)
    if not signature.isascii() or not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Refused(401, "invalid signature")


def to_bolt_request(request: Request, body: bytes) -> AsyncBoltRequest:
    """What bolt's starlette adapter builds, from the body already read. Raises Refused (400)."""
    # bolt's own headers (x-slack-bolt-lazy-only...) are for its serverless self-invocation: a
    # lazy-only request is acknowledged and then not handled, so none may come from the network.
    headers: dict[str, str | Sequence[str]] = {}
    for name, value in request.headers.items():
        if not name.startswith("x-slack-bolt-"):
            headers.setdefault(name, value)  # the first value, the one the signature check read
    try:
        parsed = AsyncBoltRequest(body=body.decode("utf-8"), query=request.url.query, headers=headers)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors.
        raise Refused(400, "malformed body") from None
    if not isinstance(parsed.body, dict) or not parsed.body or not routable(parsed.body):
        raise Refused(400, "malformed body")
    return parsed


def _strings(payload: Mapping[str, Any], keys: Sequence[str]) -> bool:
    return all(payload.get(key) is None or isinstance(payload[key], str) for key in keys)


def routable(body: Mapping[str, Any]) -> bool:
    """Whether bolt can route this payload without raising: the parts it indexes or matches
    without checking their type have the types Slack sends."""
    if not _strings(body, _MATCHED_FIELDS):
        return False
    event, view, actions = body.get("event"), body.get("view"), body.get("actions")
    if event is not None and not (isinstance(event, Mapping) and _strings(event, _MATCHED_FIELDS)):
        return False
    if view is not None and not (isinstance(view, Mapping) and _strings(view, _MATCHED_FIELDS)):
        return False
    if actions is not None and not (
        isinstance(actions, list)
        and all(isinstance(action, Mapping) and _strings(action, _MATCHED_FIELDS) for action in actions)
    ):
        return False
    if body.get("type") == "block_actions" and not (
        actions and all(isinstance(action.get("action_id"), str) for action in actions)
    ):
        return False  # bolt indexes actions[0]["action_id"]
    if not all(
        body.get(key) is None or isinstance(body[key], (Mapping, str))
        for key in ("team", "user", "enterprise", "channel", "container", "message")
    ):
        return False
    if isinstance(event, Mapping) and not _event_routable(event, body):
        return False
    try:
        for extract in _BOLT_EXTRACTORS:
            extract(dict(body))
    except (KeyError, IndexError, TypeError, AttributeError):
        return False
    return True


def _event_routable(event: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    # bolt's function matcher calls .get on event["function"]; its assistant middleware needs a
    # channel and thread (from event["assistant_thread"], else the event) or raises ValueError.
    if event.get("function") is not None and not isinstance(event["function"], Mapping):
        return False
    if not is_assistant_event(dict(body)):
        return True
    thread = event.get("assistant_thread")
    if thread is not None and not isinstance(thread, Mapping):
        return False
    if thread is not None and thread.get("channel_id") is not None and thread.get("thread_ts") is not None:
        return True
    return event.get("channel") is not None and event.get("thread_ts") is not None
