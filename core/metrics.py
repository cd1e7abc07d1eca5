"""The process's Prometheus metrics (prometheus-client), every name starting with `mnemo_`.

The counters and the histogram are module-level objects in one registry, incremented by one-line
hooks where the facts are known: the orchestrator (a reply and how long it took), the model client
(tokens from `usage`), the memory writer (writes and failures) and its update judge, admission
(rejections) and the log handler below (errors). Queue depths are read when Prometheus scrapes
(`QueueDepths`, bound to one running core by bot/web.py), so they are never stale and never
double-counted between cores.

Labels are bounded sets (platforms, reply kinds, outcomes, token kinds): never an id or a text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# No `_created` series next to each counter: they double what a scrape carries and nothing here uses
# them. (The function is unannotated in prometheus-client 0.26.)
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)

REPLIES = Counter(
    "mnemo_replies",
    "Replies Mnemo gave, by platform and kind (answer, apology, withdrawn).",
    ["platform", "kind"],
    registry=REGISTRY,
)
APOLOGIES = Counter(
    "mnemo_apologies",
    "Replies that were an apology because a dependency (model, storage) failed, by platform.",
    ["platform"],
    registry=REGISTRY,
)
REPLY_SECONDS = Histogram(
    "mnemo_reply_seconds",
    "Time from taking a message to having its reply, by platform.",
    ["platform"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0),
    registry=REGISTRY,
)
MODEL_TOKENS = Counter(
    "mnemo_model_tokens",
    "Tokens the model reported in `usage` for chat replies, by kind (prompt, completion).",
    ["kind"],
    registry=REGISTRY,
)
MEMORY_WRITES = Counter(
    "mnemo_memory_writes",
    "Memory writes that ended, by outcome (written, dropped, discarded).",
    ["outcome"],
    registry=REGISTRY,
)
MEMORY_WRITE_FAILURES = Counter(
    "mnemo_memory_write_failures",
    "Memory writes kept for the retry job, by reason (error, crash, queue_full).",
    ["reason"],
    registry=REGISTRY,
)
MEMORY_UPDATE_JUDGEMENTS = Counter(
    "mnemo_memory_update_judgements",
    "Writes whose new memories the model judged against older ones (core.memory.update_judge), by "
    "outcome (replaced, none, failed, unusable).",
    ["outcome"],
    registry=REGISTRY,
)
ADMISSION_REJECTIONS = Counter(
    "mnemo_admission_rejections",
    "Messages refused at once because too many replies were already waiting (swamped).",
    registry=REGISTRY,
)
ERRORS = Counter(
    "mnemo_errors",
    "Log records at ERROR or above, by the top-level package that logged them.",
    ["source"],
    registry=REGISTRY,
)


def observe_reply(platform: str, kind: str, started: float) -> None:
    """One reply of `kind` on `platform`, begun at `started` (time.perf_counter())."""
    REPLIES.labels(platform, kind).inc()
    if kind == "apology":
        APOLOGIES.labels(platform).inc()
    REPLY_SECONDS.labels(platform).observe(time.perf_counter() - started)


def count_usage(data: object) -> None:
    """Add the `usage` of a chat completion (or of a streamed chunk that carries it)."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return
    count_tokens(usage.get("prompt_tokens"), usage.get("completion_tokens"))


def count_tokens(prompt: object, completion: object) -> None:
    """Add reported prompt and completion tokens (anything but a positive int is ignored)."""
    for kind, tokens in (("prompt", prompt), ("completion", completion)):
        if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0:
            MODEL_TOKENS.labels(kind).inc(tokens)


class ErrorCounter(logging.Handler):
    """Counts ERROR+ records in `mnemo_errors_total` (bot/logging_setup.py attaches it to the root
    logger): every failure that is logged is counted, with no hook at each place it happens."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        ERRORS.labels(record.name.split(".", 1)[0] or "root").inc()


class QueueDepths(Collector):
    """Gauges read at scrape time: `depths` maps a metric's name to (help, a function giving it)."""

    def __init__(self, depths: Mapping[str, tuple[str, Callable[[], float]]]) -> None:
        self._depths = dict(depths)

    def collect(self) -> Iterable[Metric]:
        for name, (help_text, read) in self._depths.items():
            yield GaugeMetricFamily(name, help_text, value=read())


def exposition(*extra: CollectorRegistry) -> bytes:
    """The Prometheus text of the process's metrics and of `extra` registries."""
    return b"".join(generate_latest(registry) for registry in (REGISTRY, *extra))
