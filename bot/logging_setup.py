"""Logging: one line per event, text or JSON (LOG_FORMAT=json). Message text is never logged at INFO.

Lines written while a message is handled carry its ids (core.logcontext: the platform, and the HTTP
API's `session_id`, the one its clients hold). ANSI colour and cursor codes, which some libraries
put in their messages, are removed: log platforms show them as garbage and JSON lines must stay plain.

Every line passes through a redactor that removes the configured secret values (API keys, bot
tokens, signing and JWT secrets, database URLs) and the password part of any URL, wherever they
come from: our messages, a third-party library's, or an exception's text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic import SecretStr

from config import LogFormat, Settings
from core import logcontext
from core.metrics import ErrorCounter

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# scheme://user:password@host -> scheme://user:***@host
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?P<tail>@)")
REDACTED = "***"
# CSI sequences (colours, cursor moves) and the other two-byte escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
_CONTEXT_KEYS = "_mnemo_context"
# Shorter values are not treated as secrets: replacing "1" everywhere would garble every line.
_MIN_SECRET_LENGTH = 6


def secret_values(settings: Settings) -> list[str]:
    """Every SecretStr setting's value (read from the settings themselves, so a new secret setting
    cannot be forgotten here)."""
    values = []
    for name in type(settings).model_fields:
        secret = getattr(settings, name, None)
        if isinstance(secret, SecretStr):
            raw = secret.get_secret_value()
            if len(raw) >= _MIN_SECRET_LENGTH:
                values.append(raw)
    return values


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is removed whole.
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _URL_PASSWORD.sub(rf"\g<head>{REDACTED}\g<tail>", text)


def plain(text: str) -> str:
    """`text` without ANSI escape sequences."""
    return _ANSI.sub("", text) if "\x1b" in text else text


class ContextFields(logging.Filter):
    """Adds the ids bound in core.logcontext to each record (as attributes, which the JSON
    formatter writes as fields); a field the call passed itself in `extra=` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        added = []
        for key, value in logcontext.current().items():
            if key not in record.__dict__:
                setattr(record, key, value)
                added.append(key)
        setattr(record, _CONTEXT_KEYS, added)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        for key in getattr(record, _CONTEXT_KEYS, ()):
            if f"{key}=" not in line:  # the message may say it already (platform=slack)
                line += f" {key}={getattr(record, key)}"
        return plain(self._redact(line))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, any `extra=` fields, and exc."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self._redact = redact or Redactor(())

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": self._redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = self._redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = self._redact(self.formatException(record.exc_info))
        # Redact the encoded line too: a secret inside an `extra` structure or a str() of an object.
        # json.dumps writes ESC as \u001b: remove escapes from the values before encoding.
        return self._redact(json.dumps(_plain_values(entry), default=str))


def _plain_values(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: plain(value) if isinstance(value, str) else value for key, value in entry.items()}


# httpx2 is the openai SDK's HTTP stack; it logs every request URL at INFO.
_NOISY = (
    "httpx",
    "httpx2",
    "httpcore",
    "openai",
    "mem0",
    "slack_bolt",
    "slack_sdk",
    "discord",
    "apscheduler",
)


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    redact = Redactor(secret_values(settings))
    if settings.log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter(redact))
    else:
        handler.setFormatter(TextFormatter(redact))
    handler.addFilter(ContextFields())
    root = logging.getLogger()
    # ErrorCounter: every logged error also counts in /metrics (mnemo_errors_total).
    root.handlers[:] = [handler, ErrorCounter()]
    root.setLevel(settings.log_level)
    # Third-party chatter that would log request bodies or URLs with tokens at INFO/DEBUG.
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # uvicorn's own loggers propagate to ours (log_config=None); its access log stays off.
    logging.getLogger("uvicorn.error").setLevel(max(logging.INFO, root.level))
    # mem0 warns on first use that spaCy is missing: it is optional and left out on purpose (its model
    # download needs the internet); without it mem0 ranks by similarity alone.
    logging.getLogger("mem0.utils.spacy_models").setLevel(logging.ERROR)
