"""HTTP mode's front gate: what a request to /slack/events must pass before bolt sees it.

Bolt checks signatures itself, but it reads bodies of any size, and it answers some bad input with
a 500 (a non-numeric timestamp, a body that is not UTF-8 JSON). `admit` turns every such request into a
`Refused` with a 4xx status, in this order: the size (before anything is read), the signature
(before anything is parsed), then the payload's shape.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from starlette.requests import Request

from adapters.common.body import BodyTooLarge, UnreadableBody, read_capped_body

MAX_BODY_BYTES = 1_000_000  # Slack's payloads are a few KB; anything this big is not from Slack
MAX_CLOCK_SKEW_SECONDS = 300  # Slack's rule for replayed requests
MAX_TIMESTAMP_DIGITS = 12


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
    if not hmac.compare_digest(signature_of(secret, timestamp, body), signature):
        raise Refused(401, "invalid signature")


def to_bolt_request(request: Request, body: bytes) -> AsyncBoltRequest:
    """What bolt's starlette adapter builds, from the body already read. Raises Refused (400)."""
    headers: dict[str, str | Sequence[str]] = dict(request.headers)
    try:
        parsed = AsyncBoltRequest(body=body.decode("utf-8"), query=request.url.query, headers=headers)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors.
        raise Refused(400, "malformed body") from None
    if not isinstance(parsed.body, dict) or not parsed.body or not routable(parsed.body):
        raise Refused(400, "malformed body")
    return parsed


def routable(body: Mapping[str, Any]) -> bool:
    """The parts of a payload bolt indexes without checking their type (a 500 otherwise)."""
    if "event" in body and not isinstance(body["event"], Mapping):
        return False
    actions = body.get("actions")
    if actions is not None and not (
        isinstance(actions, list) and all(isinstance(action, Mapping) for action in actions)
    ):
        return False
    return all(
        body.get(key) is None or isinstance(body[key], (Mapping, str))
        for key in ("team", "user", "enterprise", "channel", "container", "view", "message")
    )
