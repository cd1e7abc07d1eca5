"""The access, budget and channel-settings settings as read from the environment (config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def no_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "k")


def test_unset_means_everyone_and_unlimited() -> None:
    settings = load_settings()
    assert settings.allow_dms is True
    assert settings.slack_allowed_channels is None
    assert settings.discord_allowed_roles is None
    assert settings.daily_token_budget_per_person is None
    assert settings.daily_token_budget_per_workspace is None
    assert settings.channel_settings_file is None


def test_comma_separated_ids_with_spaces_and_an_empty_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_ALLOWED_CHANNELS", " C0123ABCD, C0456EFGH ,")
    monkeypatch.setenv("DISCORD_BLOCKED_ROLES", "123456789012345678")
    monkeypatch.setenv("DISCORD_ALLOWED_USERS", "")
    monkeypatch.setenv("ALLOW_DMS", "false")
    monkeypatch.setenv("DAILY_TOKEN_BUDGET_PER_PERSON", "50000")
    settings = load_settings()
    assert settings.slack_allowed_channels == {"C0123ABCD", "C0456EFGH"}
    assert settings.discord_blocked_roles == {"123456789012345678"}
    assert settings.discord_allowed_users is None  # empty = not set
    assert settings.allow_dms is False
    assert settings.daily_token_budget_per_person == 50_000


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("SLACK_ALLOWED_USERS", "alice", "SLACK_ALLOWED_USERS: 'alice' is not a Slack id"),
        ("SLACK_BLOCKED_CHANNELS", "#general", "SLACK_BLOCKED_CHANNELS: '#general' is not a Slack id"),
        ("DISCORD_ALLOWED_ROLES", "moderators", "DISCORD_ALLOWED_ROLES: 'moderators' is not a Discord id"),
        ("DISCORD_ALLOWED_CHANNELS", "123", "is not a Discord id (15 to 21 digits)"),
        ("DAILY_TOKEN_BUDGET_PER_PERSON", "0", "DAILY_TOKEN_BUDGET_PER_PERSON"),
        ("DAILY_TOKEN_BUDGET_PER_WORKSPACE", "lots", "DAILY_TOKEN_BUDGET_PER_WORKSPACE"),
        ("ALLOW_DMS", "maybe", "ALLOW_DMS"),
    ],
)
def test_bad_values_are_one_clear_line(
    name: str, value: str, needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)


ROOT = Path(__file__).resolve().parents[2]
MINE = (
    "ALLOW_DMS",
    "SLACK_ALLOWED_CHANNELS",
    "SLACK_ALLOWED_USERS",
    "SLACK_BLOCKED_CHANNELS",
    "SLACK_BLOCKED_USERS",
    "DISCORD_ALLOWED_CHANNELS",
    "DISCORD_ALLOWED_ROLES",
    "DISCORD_ALLOWED_USERS",
    "DISCORD_BLOCKED_CHANNELS",
    "DISCORD_BLOCKED_ROLES",
    "DISCORD_BLOCKED_USERS",
    "DAILY_TOKEN_BUDGET_PER_PERSON",
    "DAILY_TOKEN_BUDGET_PER_WORKSPACE",
    "CHANNEL_SETTINGS_FILE",
)


def test_each_of_these_settings_is_in_env_example_and_the_readme() -> None:
    from config import Settings

    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Access, budgets and per-channel settings", 1)[1].split("\n## ", 1)[0]
    for name in MINE:
        assert name.lower() in Settings.model_fields, name
        assert f"\n{name}=" in example, name
        assert name in section, name
