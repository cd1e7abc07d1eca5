"""Per-channel behaviour: a system prompt and a model per Slack channel, Discord channel or Discord
server, read once at start-up from CHANNEL_SETTINGS_FILE (TOML: Python reads it without a new
dependency, and it keeps long prompts readable with triple quotes).

    [slack.C0123ABCD]
    model = "gpt-4o"
    system_prompt = "You are {bot_name}, the support desk's assistant in {platform}. Be brief."

    [discord.123456789012345678]      # a channel id, or a server (guild) id for the whole server
    model = "llama3.1:70b"

A Discord thread follows its channel, and a channel's entry wins over its server's. Anything not set
falls back: the model to CHAT_MODEL, the prompt to SYSTEM_PROMPT or the default prompt. A bad file or
entry stops start-up with one line naming the file, the entry and what is wrong (ConfigError).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import ConfigError
from core.models import IncomingMessage, Platform

_FIELDS = ("model", "system_prompt")
_IDS = {
    Platform.SLACK: (re.compile(r"^[A-Z0-9]{2,32}$"), "a Slack channel id like C0123ABCD"),
    Platform.DISCORD: (re.compile(r"^[0-9]{15,21}$"), "a Discord channel or server id (15 to 21 digits)"),
}
_PLACEHOLDERS = {"bot_name": "Mnemo", "platform": "Slack", "person": "Ann"}


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    """What one place uses; None = the default."""

    model: str | None = None
    system_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    entries: Mapping[tuple[Platform, str], ChannelChoice] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def for_message(self, message: IncomingMessage) -> ChannelChoice:
        """The channel's entry, else (Discord) its server's, else the defaults. Fields left unset
        in the channel's entry come from the server's."""
        if not self.entries:
            return ChannelChoice()
        channel = self.entries.get((message.platform, message.channel), ChannelChoice())
        server = (
            self.entries.get((message.platform, message.server), ChannelChoice())
            if message.server
            else ChannelChoice()
        )
        return ChannelChoice(
            model=channel.model or server.model,
            system_prompt=channel.system_prompt or server.system_prompt,
        )


def _entry(where: str, value: Any) -> ChannelChoice:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table with model and/or system_prompt")
    unknown = sorted(set(value) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (expected model, system_prompt)")
    if not value:
        raise ConfigError(f"{where}: empty entry (set model and/or system_prompt)")
    for name in _FIELDS:
        if name in value and (not isinstance(value[name], str) or not value[name].strip()):
            raise ConfigError(f"{where}: {name} must be a non-empty string")
    prompt = value.get("system_prompt")
    if prompt is not None:
        try:
            prompt.format(**_PLACEHOLDERS)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"{where}: system_prompt may only use {{bot_name}}, {{platform}} and {{person}} "
                f"(write {{{{ and }}}} for literal braces): {type(exc).__name__} {exc}"
            ) from None
    model = value.get("model")
    return ChannelChoice(model=model.strip() if model else None, system_prompt=prompt)


def parse_channel_settings(text: str, *, source: str) -> ChannelSettings:
    """ConfigError (one line, naming `source` and the entry) for anything malformed."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"CHANNEL_SETTINGS_FILE {source}: not valid TOML ({exc})") from None
    entries: dict[tuple[Platform, str], ChannelChoice] = {}
    for platform_name, places in document.items():
        platform = next((known for known in _IDS if known.value == platform_name), None)
        if platform is None:
            raise ConfigError(
                f"CHANNEL_SETTINGS_FILE {source}: unknown section [{platform_name}] "
                "(expected [slack.<channel id>] or [discord.<channel or server id>])"
            )
        pattern, expected = _IDS[platform]
        if not isinstance(places, dict) or not places:
            raise ConfigError(
                f"CHANNEL_SETTINGS_FILE {source}: [{platform_name}] needs entries like [{platform_name}.<id>]"
            )
        for place, value in places.items():
            where = f"CHANNEL_SETTINGS_FILE {source}: [{platform_name}.{place}]"
            if not pattern.match(place):
                raise ConfigError(f"{where}: '{place[:40]}' is not {expected}")
            entries[(platform, place)] = _entry(where, value)
    return ChannelSettings(entries)


def load_channel_settings(path: Path | None) -> ChannelSettings:
    """The settings in `path` (none: every place uses the defaults). ConfigError, one line, when the
    file cannot be read or an entry is bad."""
    if path is None:
        return ChannelSettings()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"CHANNEL_SETTINGS_FILE {path}: cannot be read ({reason})") from None
    return parse_channel_settings(text, source=str(path))


__all__ = ["ChannelChoice", "ChannelSettings", "load_channel_settings", "parse_channel_settings"]
