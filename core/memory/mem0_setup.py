"""Everything mem0 needs done around it before Mnemo can use it (core.memory.service wraps the result).

- telemetry and its `~/.mem0` directory are switched off / moved into DATA_DIR before `import mem0`
  (it reads both at import time);
- the vector store is our per-account partitioned store, plugged in through mem0's factory: SQLite
  in DATA_DIR (core.memory.vectors.sqlite), or PostgreSQL when a database URL is given
  (core.memory.vectors.postgres), so several machines share one memory;
- its OpenAI clients are replaced with ours (core.memory.mem0_openai: our timeout and retry
  limits, no silent OPENROUTER_API_KEY rerouting, and no typed-SDK work holding the GIL);
- mem0's history database keeps nothing: mem0 would copy every memory text (also deleted ones)
  into a `history` table and the last raw messages of each person into a `messages` table, copies
  that per-process (Postgres mode) could not be purged from another process. Mnemo never reads
  them, so mem0 gets a history store that stores nothing (see core.erasure for every copy of a
  person's words).
- the embedding model and size are recorded with the vectors, and settings that do not match the
  stored ones are refused before mem0 starts (core.memory.embedding_record).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import ConfigError
from core.errors import MemoryBackendError
from core.memory.embedding_record import EmbeddingRecord, EmbeddingSpec
from core.memory.mem0_openai import Mem0OpenAI
from core.memory.vectors.postgres import PROVIDER as POSTGRES_PROVIDER
from core.memory.vectors.postgres import PostgresVectorConfig, PostgresVectorStore
from core.memory.vectors.sqlite import PROVIDER as SQLITE_PROVIDER
from core.memory.vectors.sqlite import SQLiteVectorConfig, SQLiteVectorStore

VectorStore = SQLiteVectorStore | PostgresVectorStore


@dataclass(frozen=True, slots=True)
class Mem0Options:
    data_dir: Path
    base_url: str
    api_key: str
    llm_model: str
    embedding_model: str
    embedding_dims: int
    timeout_seconds: float
    max_retries: int
    # The memory model judges, at write time, which older memories a new one replaces
    # (MEMORY_UPDATE_BY_MODEL; core.memory.update_judge). False: only the nightly consolidation merges.
    update_by_model: bool = True
    # Postgres connection string for the vectors (None: SQLite in data_dir). Never in a repr.
    vector_db_url: str | None = field(default=None, repr=False)
    # Refuse an embedding model/size other than the stored vectors' (off only for re-embedding).
    check_embedding: bool = True

    @property
    def embedding(self) -> EmbeddingSpec:
        return EmbeddingSpec(self.embedding_model, self.embedding_dims)

    @property
    def embedding_record(self) -> EmbeddingRecord:
        return EmbeddingRecord(self.data_dir, self.vector_db_url)


def _import_mem0(data_dir: Path) -> Any:
    # Must happen before the first `import mem0`: telemetry is read at import time and mem0 creates
    # its directory on import. OPENROUTER_API_KEY is handled by replacing mem0's clients below.
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("MEM0_DIR", str(data_dir / "mem0"))
    import mem0
    from mem0.utils.factory import VectorStoreFactory

    classes = VectorStoreFactory.provider_to_class
    classes[SQLITE_PROVIDER] = f"{SQLiteVectorStore.__module__}.{SQLiteVectorStore.__name__}"
    classes[POSTGRES_PROVIDER] = f"{PostgresVectorStore.__module__}.{PostgresVectorStore.__name__}"
    return mem0


def _history_that_keeps_nothing() -> Any:
    """mem0's history store with every write switched off (in memory, always empty).

    mem0 only writes to it on our paths (`Memory.history()`, the one reader, is never called), and
    what it would keep are copies of people's words: each memory's text at every change, including
    deletion, and the last ten raw messages per person as extraction context. Purging those by
    hand proved fragile (every delete path must remember it; in Postgres mode each process has its
    own copy that another process's erasure cannot reach). The extraction still sees the exchange
    and the person's existing memories; it loses only mem0's own ten-message look-back."""
    from mem0.memory.storage import SQLiteManager

    class KeepNothing(SQLiteManager):  # type: ignore[misc]
        def add_history(self, *args: Any, **kwargs: Any) -> None:
            return None

        def batch_add_history(self, records: list[dict[str, Any]]) -> None:
            return None

        def save_messages(self, messages: list[dict[str, Any]], session_scope: str) -> None:
            return None

    return KeepNothing(":memory:")


def _vector_store_config(options: Mem0Options) -> tuple[str, SQLiteVectorConfig | PostgresVectorConfig]:
    if options.vector_db_url:
        return POSTGRES_PROVIDER, PostgresVectorConfig(
            collection_name="mnemo",
            url=options.vector_db_url,
            embedding_model_dims=options.embedding_dims,
        )
    return SQLITE_PROVIDER, SQLiteVectorConfig(
        collection_name="mnemo",
        path=str(options.data_dir / "memory_vectors.db"),
        embedding_model_dims=options.embedding_dims,
    )


def open_mem0(options: Mem0Options) -> tuple[Any, VectorStore]:
    """mem0's `Memory` set up as described above, and the vector store it writes to. Synchronous;
    touches files (and the database, in Postgres mode) but no model. ConfigError when the database
    URL is wrong or the database unusable, or (EmbeddingMismatchError) when the stored vectors were
    made with another embedding model or size; MemoryBackendError when mem0 fails otherwise."""
    options.data_dir.mkdir(parents=True, exist_ok=True)
    _import_mem0(options.data_dir)
    from mem0 import Memory
    from mem0.configs.base import MemoryConfig
    from mem0.vector_stores.configs import VectorStoreConfig

    provider, vector_config = _vector_store_config(options)
    config = MemoryConfig(
        llm={
            "provider": "openai",
            "config": {
                "model": options.llm_model,
                "openai_base_url": options.base_url,
                "api_key": options.api_key,
                "temperature": 0.0,
            },
        },
        embedder={
            "provider": "openai",
            "config": {
                "model": options.embedding_model,
                "openai_base_url": options.base_url,
                "api_key": options.api_key,
                "embedding_dims": options.embedding_dims,
            },
        },
        # Replaced below by a history store that keeps nothing; never a file.
        history_db_path=":memory:",
    )
    # mem0 validates vector store providers against a fixed list; ours is registered with its
    # factory in _import_mem0, so this one field is set after validation.
    config.vector_store = VectorStoreConfig.model_construct(provider=provider, config=vector_config)
    try:
        memory = Memory(config)
    except ConfigError:
        raise  # the database URL is wrong or the database unusable: one line at start-up
    except Exception as exc:
        raise MemoryBackendError(f"mem0 could not start: {exc}") from exc
    client = Mem0OpenAI(
        base_url=options.base_url,
        api_key=options.api_key,
        timeout_seconds=options.timeout_seconds,
        max_retries=options.max_retries,
    )
    memory.llm.client = client
    memory.embedding_model.client = client
    memory.db.close()
    memory.db = _history_that_keeps_nothing()
    store = memory.vector_store
    if options.check_embedding:
        # After mem0 opened the store, so a bad database URL is reported by the store's own check.
        try:
            options.embedding_record.check(options.embedding)
        except BaseException:
            store.close()
            memory.close()
            raise
    if not isinstance(store, SQLiteVectorStore | PostgresVectorStore):  # pragma: no cover - wiring error
        raise MemoryBackendError("mem0 did not use Mnemo's vector store")
    return memory, store
