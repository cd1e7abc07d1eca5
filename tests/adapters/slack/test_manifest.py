"""The Slack app manifests must grant exactly what the adapter uses, so one paste creates a
working app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.slack.shortcuts import FORGET_CALLBACK, REMEMBER_CALLBACK

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = {"socket": ROOT / "slack-manifest.yaml", "http": ROOT / "slack-manifest.http.yaml"}

# Web API methods the adapter calls -> the bot scopes they need (app-level token calls need none).
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "apps_connections_open": set(),  # app-level token, connections:write
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_delete": {"chat:write"},
    "users_info": {"users:read"},
    "conversations_info": {"channels:read", "groups:read", "im:read", "mpim:read"},
    "conversations_open": {"im:write"},
    "files_upload_v2": {"files:write"},
    "views_publish": set(),  # the App Home tab: no scope, the home tab must be enabled
}
# Called by bolt's assistant helpers and slack_sdk's chat_stream for the assistant pane (not by a
# `client.` line of the adapter): the pane's tests see each of them hit the fake Web API.
HELPER_METHOD_SCOPES: dict[str, set[str]] = {
    "assistant.threads.setStatus": {"assistant:write"},
    "assistant.threads.setTitle": {"assistant:write"},
    "assistant.threads.setSuggestedPrompts": {"assistant:write"},
    "chat.startStream": {"chat:write"},
    "chat.appendStream": {"chat:write"},
    "chat.stopStream": {"chat:write"},
    "conversations.replies": {"im:history"},  # bolt's thread-context store, in the pane (a DM)
}
EVENTS = {
    "app_home_opened",
    "app_mention",
    "assistant_thread_context_changed",
    "assistant_thread_started",
    "message.channels",
    "message.groups",
    "message.im",
    "message.mpim",
}
SHORTCUTS = {"mnemo_remember_message", "mnemo_forget_message"}
HISTORY_SCOPES = {"channels:history", "groups:history", "im:history", "mpim:history", "app_mentions:read"}


def load(kind: str) -> dict[str, Any]:
    data = yaml.safe_load(MANIFESTS[kind].read_text())
    assert isinstance(data, dict)
    return data


def test_every_web_api_call_of_the_adapter_is_known() -> None:
    source = "\n".join(path.read_text() for path in (ROOT / "adapters" / "slack").glob("*.py"))
    called = set(re.findall(r"client\.([a-z]+_[A-Za-z_0-9]+)\(", source))

    assert called
    assert called <= set(METHOD_SCOPES), f"add the scopes of {called - set(METHOD_SCOPES)} to the manifests"


@pytest.mark.parametrize("kind", MANIFESTS)
def test_manifest_grants_what_the_adapter_needs(kind: str) -> None:
    manifest = load(kind)
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    settings = manifest["settings"]

    needed = set().union(*METHOD_SCOPES.values(), *HELPER_METHOD_SCOPES.values())
    assert needed | HISTORY_SCOPES | {"commands"} == scopes
    assert set(settings["event_subscriptions"]["bot_events"]) == EVENTS
    assert settings["interactivity"]["is_enabled"] is True
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/memory"
    assert manifest["features"]["bot_user"]["display_name"] == "Mnemo"
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


@pytest.mark.parametrize("kind", MANIFESTS)
def test_manifest_declares_the_assistant_pane_and_the_shortcuts(kind: str) -> None:
    features = load(kind)["features"]
    pane = features["assistant_view"]

    assert pane["assistant_description"]
    assert pane["suggested_prompts"]
    assert all(prompt["title"] and prompt["message"] for prompt in pane["suggested_prompts"])
    shortcuts = {shortcut["callback_id"]: shortcut for shortcut in features["shortcuts"]}
    assert set(shortcuts) == SHORTCUTS
    for shortcut in shortcuts.values():
        assert shortcut["type"] == "message"
        assert 1 <= len(shortcut["name"]) <= 24  # Slack's limit for a shortcut's name
        assert 1 <= len(shortcut["description"]) <= 150


def test_the_shortcut_callback_ids_are_the_adapters() -> None:
    assert {REMEMBER_CALLBACK, FORGET_CALLBACK} == SHORTCUTS


def test_socket_mode_manifest_needs_no_url() -> None:
    manifest = load("socket")

    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in manifest["settings"]["event_subscriptions"]
    assert "url" not in manifest["features"]["slash_commands"][0]


def test_http_manifest_sends_everything_to_slack_events() -> None:
    manifest = load("http")
    settings = manifest["settings"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        manifest["features"]["slash_commands"][0]["url"],
    ]

    assert settings["socket_mode_enabled"] is False
    assert urls == ["https://YOUR-HOST/slack/events"] * 3


def test_both_manifests_differ_only_in_transport() -> None:
    socket, http = load("socket"), load("http")
    for manifest in (socket, http):
        manifest["settings"].pop("socket_mode_enabled")
        manifest["settings"]["event_subscriptions"].pop("request_url", None)
        manifest["settings"]["interactivity"].pop("request_url", None)
        manifest["features"]["slash_commands"][0].pop("url", None)

    assert socket == http
