"""Ids that every log line written while handling one message carries (a contextvar).

`for_message(message)` binds the ids a person can match against what they see: the platform and,
for the HTTP API, the `session_id` its client holds (the conversation's id, not the store's session
row). bot.logging_setup adds them to each line (JSON fields, or `key=value` at the end of a text
line). Only ids: never what anyone wrote.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType

from core.models import IncomingMessage

_FIELDS: ContextVar[Mapping[str, str]] = ContextVar("mnemo_log_fields", default=MappingProxyType({}))

# raw keys (core.models.IncomingMessage.raw) whose values are ids a person can quote back to us.
_RAW_IDS = ("session_id",)


def current() -> Mapping[str, str]:
    return _FIELDS.get()


@contextlib.contextmanager
def bind(**fields: str) -> Iterator[None]:
    token = _FIELDS.set({**_FIELDS.get(), **fields})
    try:
        yield
    finally:
        _FIELDS.reset(token)


def for_message(message: IncomingMessage) -> contextlib.AbstractContextManager[None]:
    fields = {"platform": message.platform.value}
    for key in _RAW_IDS:
        value = message.raw.get(key)
        if isinstance(value, str) and value:
            fields[key] = value
    return bind(**fields)
