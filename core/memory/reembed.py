"""Re-embed every stored memory (and mem0 entity) with the configured embedding model and size, then
record that pair (core.memory.embedding_record). `python -m bot admin reembed` runs it after
EMBEDDING_MODEL or EMBEDDING_DIMS changed.

Run it with the bot stopped: a memory written meanwhile by a bot on the old settings would be of the
old kind. It is safe to interrupt and run again: the record changes only after every vector was
rewritten, so until then start-up keeps refusing the new settings, and a second run redoes it all.
The texts never leave the vector store except to the embedding endpoint, as when they were written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from config import ConfigError
from core.errors import MemoryBackendError
from core.memory.embedding_record import EmbeddingSpec, EmbeddingState
from core.memory.mem0_setup import Mem0Options, VectorStore, open_mem0

log = logging.getLogger(__name__)

# Texts per embeddings request (OpenAI accepts up to 2,048 inputs; mem0's own batches are 100).
BATCH = 100

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ReembedReport:
    vectors: int
    before: EmbeddingState
    after: EmbeddingSpec


def embedding_state(options: Mem0Options) -> EmbeddingState:
    """What is recorded and stored now (for the confirmation prompt). Synchronous."""
    return options.embedding_record.state()


def _reembed_store(store: VectorStore, embedder: Any, dims: int, progress: Progress | None) -> int:
    done = 0
    for user in store.user_ids():
        records = store.list(filters={"user_id": user})[0]
        for start in range(0, len(records), BATCH):
            chunk = records[start : start + BATCH]
            vectors = embedder.embed_batch([str(r.payload.get("data", "")) for r in chunk], "update")
            for record, vector in zip(chunk, vectors, strict=True):
                if len(vector) != dims:
                    raise ConfigError(
                        f"EMBEDDING_DIMS is {dims} but the embedding model returned vectors of "
                        f"{len(vector)} dims; set EMBEDDING_DIMS={len(vector)} (nothing was recorded)"
                    )
                store.update(record.id, vector=vector)
            done += len(chunk)
            if progress is not None:
                progress(done)
    return done


def reembed_all(options: Mem0Options, *, progress: Progress | None = None) -> ReembedReport:
    """Synchronous (model calls and database writes; run it in a thread from async code).
    ConfigError when the model's vectors do not have EMBEDDING_DIMS dims; MemoryBackendError when
    the embedding endpoint or the store fails (run it again: nothing is recorded until the end)."""
    before = embedding_state(options)
    memory, store = open_mem0(replace(options, check_embedding=False))
    stores: list[VectorStore] = [store, memory.entity_store]
    try:
        total = 0
        for one in stores:
            total += _reembed_store(one, memory.embedding_model, options.embedding_dims, progress)
        options.embedding_record.record(options.embedding)
    except (ConfigError, MemoryBackendError):
        raise
    except Exception as exc:
        raise MemoryBackendError(f"re-embedding failed: {type(exc).__name__}: {exc}") from exc
    finally:
        for one in reversed(stores):
            one.close()
        memory.close()
    log.info("re-embedded %d vectors with %s", total, options.embedding)
    return ReembedReport(vectors=total, before=before, after=options.embedding)


__all__ = ["BATCH", "ReembedReport", "embedding_state", "reembed_all"]
