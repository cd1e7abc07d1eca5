"""One benchmark run, as a function a later change can call to measure itself:

    result = asyncio.run(run_benchmark(quick=True))
    result.mnemo.evidence_recall, result.ratio_to_plain, result.mnemo.privacy_violations, ...

Several runs in one process: load the model once and pass it (`embedder=minilm_embedder()`); its
cache then also spares the later runs every embedding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .dataset import Dataset, load_dataset
from .embedder import CachedEmbedder, minilm_embedder
from .harness import Progress, labelled_judge, run_pipeline, texts_to_embed
from .scoring import Recall, SystemScore, score

QUICK_PEOPLE = 6
# A recalled memory at least this alike (cosine, the benchmark's model) to a question about something
# never said counts as "relevant" there: MiniLM puts paraphrases at 0.6+ and unrelated lines under 0.2.
RELEVANCE_THRESHOLD = 0.4


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    people: int
    turns: int
    questions: int
    recall_limit: int
    threshold: float
    embedder: str
    mnemo: SystemScore  # the fake model's judge replaces nothing (it cannot judge)
    # The same run with a judge that knows the labels: update-at-write's ceiling, not a model's quality.
    mnemo_labelled: SystemScore
    plain: SystemScore  # plain embedding top-k over everything the person said (no privacy filter)
    plain_public_only: SystemScore  # the same, only public lines for a public question
    memories_stored: int
    memories_stored_labelled: int
    judge_requests: int
    judge_requests_labelled: int
    judge_prompt_tokens: float  # median, estimated (the fake's chars / 4)
    seconds_model: float  # loading the model and embedding the dataset's texts
    seconds_feed: float
    seconds_ask: float
    seconds_total: float
    texts_embedded: int

    @property
    def ratio_to_plain(self) -> float:
        """Mnemo's evidence recall over the plain top-k's, at equal memories per prompt."""
        return self.mnemo.evidence_recall / self.plain.evidence_recall if self.plain.evidence_recall else 0.0

    @property
    def ratio_to_plain_public_only(self) -> float:
        base = self.plain_public_only.evidence_recall
        return self.mnemo.evidence_recall / base if base else 0.0


def _quiet(_line: str) -> None:
    return None


async def run_benchmark(
    *,
    quick: bool = False,
    dataset: Dataset | None = None,
    embedder: CachedEmbedder | None = None,
    recall_limit: int | None = None,
    threshold: float = RELEVANCE_THRESHOLD,
    progress: Progress = _quiet,
) -> BenchmarkResult:
    """The whole dataset (or its first QUICK_PEOPLE people) through Mnemo and the plain top-k.
    Defaults: the committed dataset, all-MiniLM-L6-v2, the production recall limit."""
    started = time.perf_counter()
    data = dataset or load_dataset()
    if quick:
        data = data.first_people(QUICK_PEOPLE)
    model = embedder or minilm_embedder()
    texts = texts_to_embed(data)
    progress(f"embedding {len(texts)} texts with {model.name}")
    model.warm(texts)
    warmed = time.perf_counter()
    progress(f"embedded in {warmed - started:.1f}s; feeding the conversations")
    run = await run_pipeline(data, model, recall_limit=recall_limit, progress=progress)
    progress("again, with an update judge that knows the labels")
    labelled = await run_pipeline(
        data, model, recall_limit=recall_limit, progress=progress, judge=labelled_judge(data)
    )

    def judge(name: str, recalls: list[Recall]) -> SystemScore:
        return score(name, recalls, dataset=data, similarity=model.similarity, threshold=threshold)

    return BenchmarkResult(
        people=len(data.people),
        turns=run.turns_fed,
        questions=len(data.questions),
        recall_limit=run.recall_limit,
        threshold=threshold,
        embedder=f"{model.name} ({model.dims}d)",
        mnemo=judge("Mnemo", run.mnemo),
        mnemo_labelled=judge("Mnemo, labelled judge", labelled.mnemo),
        plain=judge("plain top-k", run.plain),
        plain_public_only=judge("plain top-k, public lines in public", run.plain_public_only),
        memories_stored=run.memories_stored,
        memories_stored_labelled=labelled.memories_stored,
        judge_requests=run.judge_requests,
        judge_requests_labelled=labelled.judge_requests,
        judge_prompt_tokens=run.judge_prompt_tokens,
        seconds_model=warmed - started,
        seconds_feed=run.feed_seconds,
        seconds_ask=run.ask_seconds,
        seconds_total=time.perf_counter() - started,
        texts_embedded=model.computed,
    )
