"""What both vector stores share, so that they cannot drift apart: the record mem0 reads, filter
matching, how a vector is stored, and how search results are scored and ordered.

Filters: `user_id` is mandatory for search/list and matched exactly (so mem0's `"*"` wildcard is just
a string that matches no one); other keys are matched for equality against the payload, where a
missing `epoch` reads as 0 (memories written before erasure epochs existed).

Vectors are stored normalized, as little-endian float32 ('<f4') bytes, on every machine. Blobs
written before this was explicit were numpy's native float32 on little-endian x86, which is the
same bytes, so existing data reads unchanged.

Search order: score descending, then newest first (a record without `created_at` last), then id
in code-point order (the byte order both databases use for `list`). Equal scores therefore come
back in the same order on both stores, whatever order their rows were read in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# One vector's stored form; the dtype is explicit so a big-endian machine reads the same bytes.
STORED_DTYPE = np.dtype("<f4")


@dataclass
class OutputData:
    """The record shape mem0 reads back from a vector store."""

    id: str
    score: float | None
    payload: dict[str, Any]


# Values a filter sees for keys the payload lacks.
_PAYLOAD_DEFAULTS: dict[str, Any] = {"epoch": 0}


def scoped_user(filters: dict[str, Any] | None) -> str:
    """The one user a search or list is for. ValueError when the filters name none."""
    user = (filters or {}).get("user_id")
    if not isinstance(user, str) or not user:
        raise ValueError("this vector store only serves queries scoped to one user_id")
    return user


def matches(payload: dict[str, Any], filters: dict[str, Any] | None) -> bool:
    """Whether the payload passes every filter except `user_id` (which the query itself scopes)."""
    for key, expected in (filters or {}).items():
        if key == "user_id":
            continue
        if payload.get(key, _PAYLOAD_DEFAULTS.get(key)) != expected:
            return False
    return True


def first_matching(
    rows: Iterable[tuple[str, dict[str, Any]]], filters: dict[str, Any] | None, top_k: int | None
) -> list[OutputData]:
    """mem0's `list`: (id, payload) rows that pass the filters, at most `top_k`, in row order."""
    out = []
    for vid, payload in rows:
        if matches(payload, filters):
            out.append(OutputData(vid, None, payload))
            if top_k is not None and len(out) >= top_k:
                break
    return out


def unit_vector(vector: Any) -> np.ndarray:
    """The vector as float32, scaled to length 1 (a zero vector stays zero)."""
    arr = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(arr))
    return arr / norm if norm > 0 else arr


def vector_blob(vector: Any, dims: int) -> bytes:
    """The stored form of a vector. ValueError when it does not have `dims` dimensions."""
    arr = np.asarray(vector, dtype=np.float32)
    if arr.shape != (dims,):
        raise ValueError(f"expected a vector of {dims} dims, got {arr.shape}")
    return unit_vector(arr).astype(STORED_DTYPE).tobytes()


def vector_from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=STORED_DTYPE)


def _created_key(payload: dict[str, Any]) -> tuple[bool, str]:
    # Sorted descending: dated records first, newest first; undated ones last. Compared as text,
    # as the databases compare their created_at column.
    created = payload.get("created_at")
    return (created is not None, "" if created is None else str(created))


def ranked(
    candidates: Sequence[tuple[str, bytes, dict[str, Any]]], query: Any, *, dims: int, top_k: int
) -> list[OutputData]:
    """The `top_k` of (id, blob, payload) candidates most similar to `query`, in the order described
    above, with the cosine similarity clamped to [0, 1] as the score (mem0 wants "higher is better")."""
    if not candidates or top_k <= 0:
        return []
    matrix = np.frombuffer(b"".join(c[1] for c in candidates), dtype=STORED_DTYPE).reshape(
        len(candidates), dims
    )
    # einsum, not `matrix @ query`: BLAS computes identical rows to slightly different floats
    # depending on where they sit in the matrix, so equal memories would not score equal and their
    # order would follow the row order each database happened to return. einsum scores each row on
    # its own; it takes about twice as long (~0.5 ms for 1,000 memories of 1,536 dims), little
    # beside reading those rows.
    scores = np.einsum("ij,j->i", matrix, unit_vector(query))
    scores = np.where(np.isnan(scores), -np.inf, scores)  # a NaN vector ranks last, never first
    if top_k < len(candidates):
        # Only what can reach the top needs the full sort; `>=` keeps every tie at the cut.
        cutoff = np.partition(scores, len(scores) - top_k)[len(scores) - top_k]
        contenders = np.flatnonzero(scores >= cutoff).tolist()
    else:
        contenders = list(range(len(candidates)))
    # Three stable sorts, last key first.
    contenders.sort(key=lambda i: candidates[i][0])
    contenders.sort(key=lambda i: _created_key(candidates[i][2]), reverse=True)
    contenders.sort(key=lambda i: float(scores[i]), reverse=True)
    return [
        OutputData(candidates[i][0], max(0.0, float(scores[i])), candidates[i][2]) for i in contenders[:top_k]
    ]
