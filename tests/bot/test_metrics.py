"""GET /metrics: Prometheus text with the counters a reply, a model outage, a memory write and a
swamped process leave behind, read through the real web app and the real core over the fakes."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.logging_setup import configure_logging
from bot.web import create_web_app
from bot.wiring import Core, build_core
from core.admission import SwampedError
from core.models import ReplyKind
from tests.conftest import make_settings
from tests.core.jobs.helpers import message
from tests.fakes.openai_server import FakeOpenAI

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(core: Core) -> tuple[httpx.Response, Samples]:
    app = create_web_app(core)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.get("/metrics")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return response, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_a_reply_is_counted_timed_and_its_tokens_and_memory_write_too(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    fake_openai.state.usage = (1, 1)  # every chat completion reports 1 prompt and 1 completion token
    _, before = await scrape(core)
    reply = await core.orchestrator.handle(message("I live in Lisbon and I like cycling"))
    assert reply is not None
    assert reply.kind is ReplyKind.ANSWER
    assert await core.writer.flush(10)
    response, after = await scrape(core)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert delta(before, after, "mnemo_replies_total", platform="console", kind="answer") == 1
    assert delta(before, after, "mnemo_apologies_total", platform="console") == 0
    assert delta(before, after, "mnemo_reply_seconds_count", platform="console") == 1
    assert delta(before, after, "mnemo_reply_seconds_sum", platform="console") > 0
    assert delta(before, after, "mnemo_model_tokens_total", kind="prompt") == 1
    assert delta(before, after, "mnemo_model_tokens_total", kind="completion") == 1
    assert delta(before, after, "mnemo_memory_writes_total", outcome="written") == 1
    assert value(after, "mnemo_memory_write_queue") == 0
    assert value(after, "mnemo_replies_waiting") == 0
    assert value(after, "mnemo_replies_active") == 0
    # The limit adapts to event-loop lag (core.admission): somewhere between its floor and the setting.
    assert 1 <= value(after, "mnemo_replies_limit") <= core.settings.max_concurrent_replies
    names = {name for name, _ in after}
    assert all(name.startswith("mnemo_") for name in names if not name.startswith(("python_", "process_")))
    assert "Lisbon" not in response.text  # labels never carry what people said


async def test_a_model_outage_counts_an_apology_and_a_failed_memory_write(
    core: Core, fake_openai: FakeOpenAI
) -> None:
    _, before = await scrape(core)
    fake_openai.fail(503, endpoint="chat")
    apology = await core.orchestrator.handle(message("hello there"))
    assert apology is not None
    assert apology.kind is ReplyKind.APOLOGY
    fake_openai.fail(500, endpoint="extract", times=5)
    answer = await core.orchestrator.handle(message("my dog is called Rex"))
    assert answer is not None
    assert answer.kind is ReplyKind.ANSWER
    assert await core.writer.flush(10)
    _, after = await scrape(core)
    assert delta(before, after, "mnemo_replies_total", platform="console", kind="apology") == 1
    assert delta(before, after, "mnemo_apologies_total", platform="console") == 1
    assert delta(before, after, "mnemo_replies_total", platform="console", kind="answer") == 1
    assert delta(before, after, "mnemo_memory_write_failures_total", reason="error") == 1
    assert delta(before, after, "mnemo_memory_writes_total", outcome="written") == 0


async def test_admission_rejections_and_queue_depths_while_the_model_is_held(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path / "data", fake_openai, max_concurrent_replies=1, max_waiting_replies=0)
    async with build_core(settings) as core:
        _, before = await scrape(core)
        gate = fake_openai.hold("chat")
        first = asyncio.create_task(core.orchestrator.handle(message("first", user="ann")))
        await gate.arrived()
        with pytest.raises(SwampedError):
            await core.orchestrator.handle(message("second", user="bob"))
        _, during = await scrape(core)
        gate.release()
        assert (await first) is not None
    assert delta(before, during, "mnemo_admission_rejections_total") == 1
    assert value(during, "mnemo_replies_active") == 1
    assert value(during, "mnemo_replies_limit") == 1


async def test_logged_errors_are_counted_by_source(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path / "data", fake_openai)
    configure_logging(settings, stream=io.StringIO())
    async with build_core(settings) as core:
        _, before = await scrape(core)
        logging.getLogger("core.something").error("a failure")
        logging.getLogger("adapters.slack.x").exception("another")
        logging.getLogger("core.something").warning("only a warning")
        _, after = await scrape(core)
    assert delta(before, after, "mnemo_errors_total", source="core") == 1
    assert delta(before, after, "mnemo_errors_total", source="adapters") == 1


async def test_a_streamed_reply_asks_for_usage_and_counts_it(core: Core, fake_openai: FakeOpenAI) -> None:
    """Streams carry `usage` only when asked (stream_options.include_usage), in a last chunk with
    no choices; the fake answers here with such a stream, as OpenAI sends it."""
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 41, "completion_tokens": 7, "total_tokens": 48}},
    ]
    stream = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
    fake_openai.answer_raw(stream.encode(), content_type="text/event-stream", endpoint="chat")
    pieces: list[str] = []

    async def on_delta(piece: str) -> None:
        pieces.append(piece)

    _, before = await scrape(core)
    reply = await core.orchestrator.handle(message("hi"), on_delta=on_delta)
    _, after = await scrape(core)
    assert reply is not None
    assert reply.text == "Hello"
    assert pieces == ["Hello"]
    chat = [r for r in fake_openai.state.requests if r.path.endswith("/chat/completions")][-1]
    assert chat.body["stream_options"] == {"include_usage": True}
    assert delta(before, after, "mnemo_model_tokens_total", kind="prompt") == 41
    assert delta(before, after, "mnemo_model_tokens_total", kind="completion") == 7


async def test_the_exposition_is_only_mnemo_series_without_created_timestamps(core: Core) -> None:
    response, samples = await scrape(core)
    assert {name for name, _ in samples} == {name for name, _ in samples if name.startswith("mnemo_")}
    assert not any(name.endswith("_created") for name, _ in samples)
    assert "# TYPE mnemo_reply_seconds histogram" in response.text
