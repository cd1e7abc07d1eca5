"""Per-channel prompt and model (core.channel_settings): the file format, one clear line per bad
entry, the fallbacks, and the orchestrator using them (the fake model records what it was sent)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.wiring import build_core
from config import ConfigError
from core.channel_settings import ChannelChoice, load_channel_settings, parse_channel_settings
from core.models import Platform
from tests.conftest import make_settings
from tests.core.helpers import message
from tests.fakes.openai_server import FakeOpenAI

GOOD = '''
[slack.C0SUPPORT]
model = "big-model"
system_prompt = """You are {bot_name}, the support desk in {platform}. Talk to {person} briefly."""

[discord.123456789012345678]   # a server
model = "server-model"
system_prompt = "Server prompt for {person}."

[discord.223456789012345678]   # a channel in that server: its own prompt, the server's model
system_prompt = "Channel prompt."
'''


def test_lookup_channel_then_server_then_defaults() -> None:
    settings = parse_channel_settings(GOOD, source="t.toml")
    assert len(settings) == 3
    slack = message("hi", channel="C0SUPPORT", platform=Platform.SLACK)
    assert settings.for_message(slack).model == "big-model"
    in_server = replace(message("hi", channel="999", platform=Platform.DISCORD), server="123456789012345678")
    assert settings.for_message(in_server) == ChannelChoice("server-model", "Server prompt for {person}.")
    in_channel = replace(in_server, channel="223456789012345678")
    assert settings.for_message(in_channel) == ChannelChoice("server-model", "Channel prompt.")
    elsewhere = message("hi", channel="C0OTHER", platform=Platform.SLACK)
    assert settings.for_message(elsewhere) == ChannelChoice()
    # The same id on another platform is another place.
    assert settings.for_message(message("hi", channel="C0SUPPORT")) == ChannelChoice()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[slack.C1\n", "t.toml: not valid TOML"),
        ("[teams.C1]\nmodel = 'x'", "unknown section [teams]"),
        ("slack = 3", "[slack] needs entries like [slack.<id>]"),
        ("[slack.general]\nmodel = 'x'", "[slack.general]: 'general' is not a Slack channel id"),
        ("[discord.abc]\nmodel = 'x'", "is not a Discord channel or server id"),
        ("[slack.C1]\nmodle = 'x'", "[slack.C1]: unknown key 'modle' (expected model, system_prompt)"),
        ("[slack.C1]\nmodel = ''", "[slack.C1]: model must be a non-empty string"),
        ("[slack.C1]\nmodel = 4", "[slack.C1]: model must be a non-empty string"),
        ("[slack.C1]", "[slack.C1]: empty entry"),
        (
            "[slack.C1]\nsystem_prompt = 'Hi {name}'",
            "system_prompt may only use {bot_name}, {platform} and {person}",
        ),
        ("[slack.C1]\nsystem_prompt = 'Hi {'", "system_prompt may only use"),
    ],
)
def test_each_bad_entry_is_one_clear_line(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_channel_settings(text, source="t.toml")
    assert error in str(caught.value)
    assert str(caught.value).startswith("CHANNEL_SETTINGS_FILE t.toml")
    assert "\n" not in str(caught.value)


def test_no_file_means_defaults_and_a_missing_file_is_one_line(tmp_path: Path) -> None:
    assert len(load_channel_settings(None)) == 0
    missing = tmp_path / "nope.toml"
    with pytest.raises(
        ConfigError, match=r"CHANNEL_SETTINGS_FILE .*nope.toml: cannot be read \(No such file"
    ):
        load_channel_settings(missing)


async def test_a_bad_file_stops_start_up_before_anything_opens(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    bad = tmp_path / "channels.toml"
    bad.write_text("[slack.C1]\nmodle = 'x'\n")
    settings = make_settings(tmp_path / "data", fake_openai, channel_settings_file=bad)
    with pytest.raises(ConfigError, match="unknown key 'modle'"):
        async with build_core(settings):
            pass
    assert not (tmp_path / "data" / "mnemo.db").exists()


async def test_the_orchestrator_uses_the_channels_model_and_prompt(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    path = tmp_path / "channels.toml"
    path.write_text(GOOD)
    settings = make_settings(
        tmp_path / "data",
        fake_openai,
        channel_settings_file=path,
        system_prompt="Default prompt for {person}.",
    )
    async with build_core(settings) as core:
        support = message("hello", channel="C0SUPPORT", platform=Platform.SLACK, workspace="T1", name="Ann")
        await core.orchestrator.handle(support)
        await core.orchestrator.handle(
            message("hello", channel="C0OTHER", platform=Platform.SLACK, workspace="T1")
        )
    first, second = [
        r.body
        for r in fake_openai.state.requests
        if r.path.endswith("/chat/completions") and not r.body.get("response_format")
    ][:2]
    assert first["model"] == "big-model"
    assert first["messages"][0]["content"] == "You are Mnemo, the support desk in Slack. Talk to Ann briefly."
    assert second["model"] == "fake-chat"  # CHAT_MODEL
    assert second["messages"][0]["content"] == "Default prompt for Alice."
