"""Logging: one line per event, JSON on request, secrets and message text kept out."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logging_setup import REDACTED, Redactor, configure_logging, secret_values
from bot.wiring import build_core
from config import LogFormat
from tests.conftest import make_settings
from tests.core.jobs.helpers import message
from tests.fakes.openai_server import FakeOpenAI

OPENAI_KEY = "sk-live-abcdef0123456789"
SLACK_TOKEN = "xoxb-1234-5678-supersecret"
SIGNING = "signing-secret-0a1b2c3d4e5f"
DB_URL = "postgresql://postgres:db-password-42@db.example.com:5432/postgres"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_redactor_removes_configured_secrets_and_url_passwords() -> None:
    redact = Redactor([OPENAI_KEY, SLACK_TOKEN, "tiny"])
    line = f"calling with key={OPENAI_KEY} token {SLACK_TOKEN} via {DB_URL} tiny"
    out = redact(line)
    assert OPENAI_KEY not in out
    assert SLACK_TOKEN not in out
    assert "db-password-42" not in out
    assert "postgresql://postgres:***@db.example.com:5432/postgres" in out
    assert out.endswith(" tiny")  # too short to be treated as a secret: left alone
    assert redact("http://127.0.0.1:8080/v1/models") == "http://127.0.0.1:8080/v1/models"


def test_secret_values_come_from_every_secret_setting(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(
        tmp_path,
        fake_openai,
        openai_api_key=OPENAI_KEY,
        slack_bot_token=SLACK_TOKEN,
        slack_signing_secret=SIGNING,
        supabase_db_url=DB_URL,
    )
    assert set(secret_values(settings)) == {OPENAI_KEY, SLACK_TOKEN, SIGNING, DB_URL}


def test_json_lines_carry_level_logger_and_fields_and_never_a_secret(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(
        tmp_path, fake_openai, openai_api_key=OPENAI_KEY, slack_bot_token=SLACK_TOKEN,
        slack_signing_secret=SIGNING, log_format=LogFormat.JSON,
    )  # fmt: skip
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    log = logging.getLogger("mnemo.test")
    log.info("answering platform=%s account=%s", "slack", "ab12cd34ef", extra={"session": "s-1"})
    try:
        raise ValueError(f"request to https://x.example/?token={SLACK_TOKEN} failed")
    except ValueError:
        log.exception("call failed with key %s", OPENAI_KEY)
    logging.getLogger("openai").info("noisy library line")  # below WARNING: dropped

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # one line per event, the traceback included in its line
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO"
    assert first["logger"] == "mnemo.test"
    assert first["msg"] == "answering platform=slack account=ab12cd34ef"
    assert first["session"] == "s-1"
    assert second["level"] == "ERROR"
    assert REDACTED in second["msg"]
    assert "ValueError" in second["exc"]
    for secret in (OPENAI_KEY, SLACK_TOKEN, SIGNING):
        assert secret not in stream.getvalue()


def test_text_lines_are_redacted_too(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_openai, openai_api_key=OPENAI_KEY)
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    logging.getLogger("mnemo.test").warning("bad key %s at %s", OPENAI_KEY, DB_URL)
    out = stream.getvalue()
    assert " WARNING mnemo.test: bad key *** at postgresql://postgres:***@db.example.com" in out
    assert OPENAI_KEY not in out


async def test_a_conversation_logs_ids_but_never_the_message_text_at_info(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path / "data", fake_openai, openai_api_key=OPENAI_KEY, log_format="json")
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    secret_text = "my bank PIN is 4417 and my diagnosis is private"
    async with build_core(settings) as core:
        reply = await core.orchestrator.handle(message(secret_text))
        assert reply is not None
        await core.writer.flush(10)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    answering = [e for e in entries if e["msg"].startswith("answering")]
    assert answering, entries
    assert "platform=console" in answering[0]["msg"]
    assert "account=" in answering[0]["msg"]
    assert "4417" not in stream.getvalue()
    assert OPENAI_KEY not in stream.getvalue()


def test_every_secret_setting_is_redacted_even_ones_added_later(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """The list is read from the settings: each SecretStr field, set to a distinct value, is found."""
    from pydantic import SecretStr

    from config import Settings

    names = [
        name
        for name, field in Settings.model_fields.items()
        if field.annotation is not None and "SecretStr" in str(field.annotation)
    ]
    assert "supabase_anon_key" in names
    values = {name: SecretStr(f"value-of-{name}-0123456789") for name in names}
    settings = make_settings(tmp_path, fake_openai).model_copy(update=values)
    assert set(secret_values(settings)) == {v.get_secret_value() for v in values.values()}


def test_json_lines_carry_no_ansi_colour_codes(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_openai, log_format=LogFormat.JSON, log_level="DEBUG")
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    # As coloured library output looks: level names, URLs and whole lines wrapped in escapes.
    logging.getLogger("uvicorn.error").warning("\x1b[32mINFO\x1b[0m:     Started \x1b[1mserver\x1b[0m")
    try:
        raise RuntimeError("\x1b[31mboom\x1b[0m")
    except RuntimeError:
        logging.getLogger("mnemo.test").exception("failed", extra={"detail": "\x1b[33mwarn\x1b[0m"})
    out = stream.getvalue()
    assert "\x1b" not in out
    assert "\\u001b" not in out  # nor escaped by the JSON encoder
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["msg"] == "INFO:     Started server"
    assert second["detail"] == "warn"
    assert "RuntimeError: boom" in second["exc"]


def test_text_lines_carry_no_ansi_colour_codes_either(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    stream = io.StringIO()
    configure_logging(make_settings(tmp_path, fake_openai), stream=stream)
    logging.getLogger("discord.client").error("\x1b[31;1mlogging in\x1b[0m failed")
    assert stream.getvalue().rstrip().endswith("ERROR discord.client: logging in failed")


async def test_lines_about_an_api_chat_carry_the_session_id_its_client_holds(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """The HTTP API answers with a session_id; every line written while answering carries it."""
    import uuid

    from adapters.http.auth import Principal
    from adapters.http.translate import to_incoming

    settings = make_settings(tmp_path / "data", fake_openai, log_format="json")
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    session_id = uuid.uuid4()
    async with build_core(settings) as core:
        incoming = to_incoming(
            Principal(subject="user-7", display_name="Sam"),
            text="hello",
            session_id=session_id,
            message_id="m-1",
            now=core.clock(),
        )
        fake_openai.fail(503, endpoint="chat")  # the model's failure is logged too
        reply = await core.orchestrator.handle(incoming)
        assert reply is not None
        logging.getLogger("mnemo.test").info("after the reply")
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    about = [e for e in entries if e["logger"] == "core.orchestrator"]
    assert {e["msg"].split(" ")[0] for e in about} >= {"answering", "model"}
    for entry in about:
        assert entry["session_id"] == str(session_id), entry
        assert entry["platform"] == "web"
    after = next(e for e in entries if e["msg"] == "after the reply")
    assert "session_id" not in after  # bound only while the message is handled


async def test_text_lines_end_with_the_session_id(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    from core import logcontext

    stream = io.StringIO()
    configure_logging(make_settings(tmp_path, fake_openai), stream=stream)
    with logcontext.bind(platform="web", session_id="6f1c"):
        logging.getLogger("core.orchestrator").info("answering platform=web memories=0")
    line = stream.getvalue().rstrip()
    assert line.endswith("answering platform=web memories=0 session_id=6f1c")
