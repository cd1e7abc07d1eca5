"""Socket Mode against a fake Socket Mode websocket and the fake Web API; start-up failures."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.slack.render import ACTION_OLDER, ShowState, encode_state
from adapters.slack.service import SlackService
from adapters.slack.web_api import SlackStartError
from bot.wiring import Core, build_core
from tests.adapters.slack import payloads as p
from tests.adapters.slack.conftest import settle, slack_answering, slack_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import APP_TOKEN, FakeSlack
from tests.fakes.slack_socket import FakeSocketMode


@dataclass
class SocketHarness:
    core: Core
    service: SlackService
    socket: FakeSocketMode
    slack: FakeSlack

    async def settle(self) -> None:
        await settle(self.service, self.core)


@pytest.fixture
async def socket_mode(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> AsyncIterator[SocketHarness]:
    async with FakeSocketMode() as fake_socket:
        fake_slack.state.socket_url = fake_socket.url
        settings = slack_settings(
            tmp_path / "data", fake_openai, fake_slack, slack_app_token=APP_TOKEN, slack_signing_secret=None
        )
        async with build_core(settings) as core, slack_answering(settings, core) as service:
            yield SocketHarness(core, service, fake_socket, fake_slack)


async def test_start_connects_and_stop_disconnects(socket_mode: SocketHarness) -> None:
    assert socket_mode.socket.connected.is_set()
    assert socket_mode.slack.count("apps.connections.open") == 1
    assert socket_mode.slack.count("auth.test") == 1

    await socket_mode.service.stop()

    await socket_mode.slack.wait_for(lambda: not socket_mode.socket.connected.is_set())


async def test_event_is_acked_and_answered_in_the_thread(socket_mode: SocketHarness) -> None:
    mention = p.app_mention("hello over the socket")

    envelope_id = await socket_mode.socket.send("events_api", p.envelope(mention))
    ack = await socket_mode.socket.wait_ack(envelope_id)
    await socket_mode.slack.wait_for(lambda: socket_mode.slack.count("chat.postMessage") == 1)
    await socket_mode.settle()

    assert ack == {"envelope_id": envelope_id}
    posted = socket_mode.slack.posted(p.GENERAL)
    assert len(posted) == 1
    assert posted[0].thread_ts == mention["ts"]


async def test_redelivered_envelopes_give_one_reply(socket_mode: SocketHarness) -> None:
    payload = p.envelope(p.dm("are you there?"))

    first = await socket_mode.socket.send("events_api", payload)
    await socket_mode.socket.wait_ack(first)
    retry = await socket_mode.socket.send("events_api", payload, retry_attempt=1, retry_reason="timeout")
    await socket_mode.socket.wait_ack(retry)
    await socket_mode.slack.wait_for(lambda: socket_mode.slack.count("chat.postMessage") >= 1)
    await socket_mode.settle()

    assert socket_mode.slack.count("chat.postMessage") == 1


async def test_slash_command_over_the_socket(socket_mode: SocketHarness) -> None:
    command = p.slash_command("help", response_url=socket_mode.slack.response_url("help"))

    envelope_id = await socket_mode.socket.send("slash_commands", command)
    ack = await socket_mode.socket.wait_ack(envelope_id)
    await socket_mode.slack.wait_for(lambda: len(socket_mode.slack.responses("help")) == 1)

    assert ack["envelope_id"] == envelope_id
    (answer,) = socket_mode.slack.responses("help")
    assert answer["response_type"] == "ephemeral"
    assert "/memory forget" in str(answer["blocks"])


async def test_button_click_over_the_socket(socket_mode: SocketHarness) -> None:
    action = p.block_action(
        ACTION_OLDER,
        encode_state(ShowState(1, "")),
        response_url=socket_mode.slack.response_url("page"),
    )

    envelope_id = await socket_mode.socket.send("interactive", action)
    await socket_mode.socket.wait_ack(envelope_id)
    await socket_mode.slack.wait_for(lambda: len(socket_mode.slack.responses("page")) == 1)

    (answer,) = socket_mode.slack.responses("page")
    assert answer["replace_original"] is True
    assert "I don't remember anything about you yet." in str(answer["blocks"])
    assert "mnemo_memory_newer" not in str(answer["blocks"])  # nothing to page back to


# -- start-up failures: clear messages, nothing left open ------------------------------------------


async def _start(
    settings_dir: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack, **overrides: object
) -> str:
    settings = slack_settings(settings_dir, fake_openai, fake_slack, **overrides)
    async with build_core(settings) as core:
        service = SlackService(settings, core.assistant)
        with pytest.raises(SlackStartError) as failure:
            await service.start()
        await service.stop()  # safe after a failed start
    return str(failure.value)


async def test_wrong_bot_token_stops_start_up_clearly(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    message = await _start(tmp_path / "d", fake_openai, fake_slack, slack_bot_token="xoxb-wrong")

    assert message == "Slack refused SLACK_BOT_TOKEN (invalid_auth)"
    assert "xoxb-wrong" not in message


async def test_wrong_app_token_stops_start_up_clearly(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    message = await _start(tmp_path / "d", fake_openai, fake_slack, slack_app_token="xapp-wrong")

    assert message.startswith("Slack refused SLACK_APP_TOKEN (invalid_auth)")
    assert "connections:write" in message


async def test_unreachable_slack_stops_start_up_clearly(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_slack: FakeSlack
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{closed_port}/api/"

    message = await _start(tmp_path / "d", fake_openai, fake_slack, slack_api_url=url)

    assert message.startswith(f"could not reach the Slack Web API at {url}")


async def test_a_malformed_envelope_does_not_stop_the_connection(socket_mode: SocketHarness) -> None:
    await socket_mode.socket.send("events_api", {"type": "event_callback", "event": "garbage"})
    await socket_mode.socket.send_raw("this is not json")

    envelope_id = await socket_mode.socket.send("events_api", p.envelope(p.dm("still there?")))
    await socket_mode.socket.wait_ack(envelope_id)
    await socket_mode.slack.wait_for(lambda: socket_mode.slack.count("chat.postMessage") == 1)

    assert socket_mode.socket.connected.is_set()
