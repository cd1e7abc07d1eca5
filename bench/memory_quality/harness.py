"""Runs the dataset through Mnemo's real pipeline and through a plain embedding top-k.

Mnemo: a core built by bot.wiring.build_core against the loopback fake OpenAI server (whose
embeddings come from the benchmark's real model). Each person links their Discord identity to their
Slack one (/memory link), then every turn goes in as a real message through the Assistant facade,
in date order with the core's clock set to the turn's time; a session's memory writes finish before
the next session starts. Each question then goes through the same recall call the orchestrator
makes for a message in that place (MemoryService.recall with the production recall limit; private
memories only in a DM).

The update judge (which older memories a new one replaces, asked at write time): the fake model
cannot judge, so by default it answers "replaces nothing", honestly. `judge` scripts it instead; the
benchmark's second Mnemo run gives it the dataset's labels (`labelled_judge`), which shows what the
mechanism does with a correct judge: its ceiling, not any model's quality.

Plain top-k: every line the person said, embedded with the same model; the k most similar to the
question, k being the number of memories Mnemo recalled for it (equal memories per prompt). Once
over everything the person said, once only over what was said in public for a public question.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MEM0_TELEMETRY", "False")  # before mem0 is imported (it reads it on import)

from bot.wiring import Core, build_core
from config import Settings
from core.models import IdentityKey, IncomingMessage, MemoryItem, Platform, ReplyKind
from core.prompt import memory_line
from tests.fakes.openai_server import FakeOpenAI, JudgeRequest, judge_request, replacing

from .dataset import DISCORD, DM, PUBLIC, SLACK, UPDATE, Dataset, Person, Question
from .embedder import CachedEmbedder
from .scoring import Recall, TurnMatcher

# What the fake model answers every message with: short, so the exchange mem0 embeds stays small,
# and never a "user:" line, so the fake extraction keeps exactly the person's line.
REPLY = "Noted."
WRITE_TIMEOUT_SECONDS = 120.0
# The stores sync every commit to disk; scratch space in memory keeps a shared machine's disk out of
# the run's time (what is measured here is what gets recalled).
_SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None

Progress = Callable[[str], None]
Judge = Callable[[JudgeRequest], str]


class BenchClock:
    """The core's clock, moved by the benchmark to each turn's and each question's time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True, slots=True)
class PipelineRun:
    mnemo: list[Recall]
    plain: list[Recall]
    plain_public_only: list[Recall]
    recall_limit: int
    turns_fed: int
    memories_stored: int
    feed_seconds: float
    ask_seconds: float
    judge_requests: int = 0  # update judge completions asked during the feed
    judge_prompt_tokens: float = 0.0  # their median prompt, estimated as the fake does (chars / 4)


def labelled_judge(dataset: Dataset) -> Judge:
    """A judge that knows the labels: a new memory replaces an older one exactly when the dataset
    says the line it came from updates that one (an update question's evidence and superseded)."""
    text = {t.id: t.text for p in dataset.people for _, t in p.turns()}
    pairs = {
        (text[new], text[old])
        for q in dataset.questions
        if q.kind == UPDATE
        for new in q.evidence
        for old in q.superseded
    }
    return replacing(pairs)


def exchange_text(line: str) -> str:
    """The text mem0 embeds to find a new exchange's neighbours (its parse_messages, one line)."""
    return f"user: {line}\nassistant: {REPLY}\n".replace("\n", " ")


def texts_to_embed(dataset: Dataset) -> list[str]:
    """Every text the run will embed: each line (stored and recalled with), the exchange mem0 looks
    up neighbours with, and each question. Once each."""
    lines = [t.text for p in dataset.people for _, t in p.turns()]
    texts = [*lines, *(exchange_text(line) for line in lines), *(q.text for q in dataset.questions)]
    return list(dict.fromkeys(texts))


def identity(dataset: Dataset, person: Person, *, platform: str) -> IdentityKey:
    if platform == DISCORD:
        return IdentityKey(Platform.DISCORD, "", person.discord_user)
    return IdentityKey(Platform.SLACK, dataset.workspace, person.slack_user)


@asynccontextmanager
async def open_core(
    fake: FakeOpenAI, clock: BenchClock, *, dims: int, recall_limit: int | None
) -> AsyncIterator[Core]:
    with tempfile.TemporaryDirectory(prefix="mnemo-quality-", dir=_SCRATCH) as tmp:
        values: dict[str, Any] = {
            "openai_base_url": fake.base_url,
            "openai_api_key": "bench",
            "embedding_dims": dims,
            "data_dir": Path(tmp) / "data",
            "llm_max_retries": 0,
        }
        if recall_limit is not None:
            values["memory_recall_limit"] = recall_limit
        # Anything else (MEMORY_RECALL_LIMIT too, unless given) as production reads it.
        settings = Settings(_env_file=None, **values)
        async with build_core(settings, clock=clock) as core:
            yield core


async def _link_identities(core: Core, dataset: Dataset, *, clock: BenchClock) -> None:
    """Everyone links their Discord identity to their Slack one (/memory link) before talking."""
    clock.now = min(s.turns[0].at for p in dataset.people for s in p.sessions) - timedelta(hours=1)
    for person in dataset.people:
        issued = await core.assistant.issue_link_code(identity(dataset, person, platform=SLACK))
        await core.assistant.redeem_link_code(identity(dataset, person, platform=DISCORD), issued.code)


async def _feed(core: Core, dataset: Dataset, *, clock: BenchClock, progress: Progress) -> int:
    said = sorted(
        ((turn.at, person, session, turn) for person in dataset.people for session, turn in person.turns()),
        key=lambda item: (item[0], item[3].id),
    )
    for n, (at, person, session, turn) in enumerate(said, start=1):
        clock.now = at
        who = identity(dataset, person, platform=session.platform)
        message = IncomingMessage(
            platform=who.platform,
            workspace=who.workspace,
            user=who.user,
            channel=session.channel,
            text=turn.text,
            message_id=turn.id,
            is_private=session.place == DM,
            is_direct=session.place == DM,
            mentions_bot=True,
            user_name=person.name,
            received_at=at,
        )
        reply = await core.assistant.handle(message)
        if reply is None or reply.kind is not ReplyKind.ANSWER:
            raise RuntimeError(f"turn {turn.id} was not answered: {reply}")
        if n == len(said) or said[n][2] is not session:
            await _settle(core, session.id)
        if n % 250 == 0:
            progress(f"fed {n}/{len(said)} turns")
    return len(said)


async def _settle(core: Core, session_id: str) -> None:
    """Every memory write of a session lands before the next session begins (days later), so what
    was said earlier is in memory first; within a session writes run as they do in production."""
    if not await core.writer.flush(WRITE_TIMEOUT_SECONDS):
        raise RuntimeError(f"the memory writes of session {session_id} did not finish")


async def _stored(core: Core, dataset: Dataset) -> int:
    total = 0
    for person in dataset.people:
        account = await core.assistant.account(identity(dataset, person, platform=SLACK))
        total += len(await core.memory.export(account.id, epoch=account.epoch))
    return total


async def _recall(core: Core, dataset: Dataset, *, question: Question, limit: int) -> list[MemoryItem]:
    """What the orchestrator recalls for a message with this text from this person, in this place."""
    person = next(p for p in dataset.people if p.id == question.person)
    account = await core.assistant.account(identity(dataset, person, platform=question.platform))
    return await core.memory.recall(
        account.id, question.text, epoch=account.epoch, include_private=question.place == DM, limit=limit
    )


def plain_top_k(
    embedder: CachedEmbedder, person: Person, *, question: Question, k: int, public_only: bool
) -> list[str]:
    """The k lines the person said most similar to the question (cosine), most similar first."""
    lines = [t.text for s, t in person.turns() if not public_only or s.place == PUBLIC]
    if k <= 0 or not lines:
        return []
    scores = embedder.matrix(lines) @ embedder.matrix([question.text])[0]
    order = np.argsort(-scores, kind="stable")[:k]
    return [lines[i] for i in order]


def _as_recall(
    question: Question, texts: list[str], *, matcher: TurnMatcher, lines: list[str] | None = None
) -> Recall:
    shown = None if lines is None else tuple(lines)
    return Recall(question, tuple(texts), tuple(matcher.turn_of(t) for t in texts), shown)


async def run_pipeline(
    dataset: Dataset,
    embedder: CachedEmbedder,
    *,
    recall_limit: int | None,
    progress: Progress,
    judge: Judge | None = None,
) -> PipelineRun:
    """`judge`: how the update judge answers (None: the fake's "replaces nothing")."""
    clock = BenchClock(min(s.turns[0].at for p in dataset.people for s in p.sessions))
    people = {p.id: p for p in dataset.people}
    matchers = {p.id: TurnMatcher(p) for p in dataset.people}
    with FakeOpenAI(embed=embedder) as fake:
        fake.state.reply = lambda _messages: REPLY
        fake.judge_with(judge)
        async with open_core(fake, clock, dims=embedder.dims, recall_limit=recall_limit) as core:
            limit = core.settings.memory_recall_limit
            started = time.perf_counter()
            await _link_identities(core, dataset, clock=clock)
            fed = await _feed(core, dataset, clock=clock, progress=progress)
            stored = await _stored(core, dataset)
            fed_at = time.perf_counter()
            mnemo: list[Recall] = []
            plain: list[Recall] = []
            public_only: list[Recall] = []
            for question in dataset.questions:
                clock.now = question.asked_at
                recalled = await _recall(core, dataset, question=question, limit=limit)
                texts = [item.text for item in recalled]
                person, matcher = people[question.person], matchers[question.person]
                lines = [memory_line(item) for item in recalled]
                mnemo.append(_as_recall(question, texts, matcher=matcher, lines=lines))
                k = len(texts)  # equal memories per prompt, question by question
                for public, into in ((False, plain), (question.place == PUBLIC, public_only)):
                    lines = plain_top_k(embedder, person, question=question, k=k, public_only=public)
                    into.append(_as_recall(question, lines, matcher=matcher))
            done = time.perf_counter()
    return PipelineRun(
        mnemo=mnemo,
        plain=plain,
        plain_public_only=public_only,
        recall_limit=limit,
        turns_fed=fed,
        memories_stored=stored,
        feed_seconds=fed_at - started,
        ask_seconds=done - fed_at,
        judge_requests=fake.count("judge"),
        judge_prompt_tokens=_median_judge_prompt(fake),
    )


def _median_judge_prompt(fake: FakeOpenAI) -> float:
    sizes = [
        sum(len(str(m.get("content", ""))) for m in r.body.get("messages", [])) / 4
        for r in fake.state.requests
        if judge_request(str((r.body.get("messages") or [{}])[-1].get("content", ""))) is not None
    ]
    return statistics.median(sizes) if sizes else 0.0
