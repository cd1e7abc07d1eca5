"""Bad input every store refuses before it reaches its backend, with the same ValueError whichever
backend it is (the contract tests check both): nothing is stored, nothing is sent."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta


def aware(value: datetime, name: str) -> datetime:
    # A naive datetime would be read in the database server's (or the file's) time zone: refuse it.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {value.isoformat()})")
    return value


def non_negative(value: int, name: str) -> int:
    # SQLite reads LIMIT -1 as "no limit"; PostgreSQL refuses it with an error of its own.
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (got {value})")
    return value


def non_negative_duration(value: timedelta, name: str) -> timedelta:
    if value < timedelta(0):
        raise ValueError(f"{name} must be >= 0 (got {value})")
    return value


def event_key(key: str) -> str:
    if not key:
        raise ValueError("event key must not be empty")
    return key


def distinct_accounts(source: uuid.UUID, target: uuid.UUID) -> None:
    if source == target:  # the merge would end by deleting the account itself
        raise ValueError("merge_accounts: source and target must be different accounts")


MAX_MEMORY_IDS = 100


def memory_ids(ids: Sequence[str], *, answer: bool) -> list[str]:
    """An answer's provenance: at most 100 memory ids, each 1-100 printable characters, and only on
    an answer (Mnemo's own message: role assistant, no author name)."""
    if ids and not answer:
        raise ValueError("memory_ids are kept only on an answer (role assistant, no author name)")
    if isinstance(ids, str) or len(ids) > MAX_MEMORY_IDS:
        raise ValueError(f"memory_ids must be a list of at most {MAX_MEMORY_IDS} ids")
    for value in ids:
        if not isinstance(value, str) or not 0 < len(value) <= 100 or not value.isprintable():
            raise ValueError("each memory id must be 1-100 printable characters")
    return list(ids)


MAX_ANSWER_ID = 300


def answer_id(answer: str) -> str:
    """An answer's id for feedback: printable, at most MAX_ANSWER_ID characters."""
    if not answer or len(answer) > MAX_ANSWER_ID or not answer.isprintable():
        raise ValueError(f"answer id must be 1-{MAX_ANSWER_ID} printable characters")
    return answer
