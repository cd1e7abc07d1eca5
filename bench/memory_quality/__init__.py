"""Memory-quality benchmark (issue 16): dataset, harness and report. See bench/memory_quality.py."""

from .dataset import Dataset, load_dataset
from .embedder import CachedEmbedder, hashed_embedder, minilm_embedder
from .report import format_report
from .run import QUICK_PEOPLE, BenchmarkResult, run_benchmark
from .scoring import SystemScore

__all__ = [
    "QUICK_PEOPLE",
    "BenchmarkResult",
    "CachedEmbedder",
    "Dataset",
    "SystemScore",
    "format_report",
    "hashed_embedder",
    "load_dataset",
    "minilm_embedder",
    "run_benchmark",
]
