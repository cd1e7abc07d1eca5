"""The Store port's feedback contract (ratings of answers), on SQLite and Supabase."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import StorageError
from core.models import AnswerFeedback, IdentityKey, Platform, Rating
from core.storage import Store

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ALICE = IdentityKey(Platform.SLACK, "T1", "UALICE")
BOB = IdentityKey(Platform.SLACK, "T1", "UBOB")
ANSWER = "slack:T1:D1:1700000001.000100"


async def test_a_rating_is_kept_per_account_and_answer_and_a_later_one_replaces_it(store: Store) -> None:
    alice, bob = await store.resolve_account(ALICE), await store.resolve_account(BOB)

    await store.record_feedback(alice.id, answer=ANSWER, rating=Rating.GOOD, now=T0)
    await store.record_feedback(alice.id, answer="slack:T1:D1:2", rating=Rating.BAD, now=T0 + timedelta(1))
    await store.record_feedback(alice.id, answer=ANSWER, rating=Rating.BAD, now=T0 + timedelta(2))
    await store.record_feedback(bob.id, answer=ANSWER, rating=Rating.GOOD, now=T0)

    assert await store.list_feedback(alice.id) == [
        AnswerFeedback(ANSWER, Rating.BAD, T0 + timedelta(2)),
        AnswerFeedback("slack:T1:D1:2", Rating.BAD, T0 + timedelta(1)),
    ]
    assert await store.list_feedback(bob.id) == [AnswerFeedback(ANSWER, Rating.GOOD, T0)]


async def test_erasing_an_account_erases_its_ratings_only(store: Store) -> None:
    alice, bob = await store.resolve_account(ALICE), await store.resolve_account(BOB)
    await store.record_feedback(alice.id, answer=ANSWER, rating=Rating.GOOD, now=T0)
    await store.record_feedback(bob.id, answer=ANSWER, rating=Rating.BAD, now=T0)

    await store.erase_account(alice.id)

    assert await store.list_feedback(alice.id) == []
    assert await store.list_feedback(bob.id) == [AnswerFeedback(ANSWER, Rating.BAD, T0)]


@pytest.mark.parametrize("answer", ["", "x" * 301, "bad\nid"])
async def test_a_bad_answer_id_is_refused_and_nothing_is_kept(store: Store, answer: str) -> None:
    alice = await store.resolve_account(ALICE)

    with pytest.raises(ValueError, match="answer id"):
        await store.record_feedback(alice.id, answer=answer, rating=Rating.GOOD, now=T0)

    assert await store.list_feedback(alice.id) == []


async def test_a_bad_rating_or_a_naive_time_is_refused(store: Store) -> None:
    alice = await store.resolve_account(ALICE)

    with pytest.raises(ValueError, match="meh"):
        await store.record_feedback(alice.id, answer=ANSWER, rating="meh", now=T0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.record_feedback(alice.id, answer=ANSWER, rating=Rating.GOOD, now=T0.replace(tzinfo=None))
    assert await store.list_feedback(alice.id) == []


async def test_a_rating_for_an_unknown_account_fails_cleanly(store: Store) -> None:
    with pytest.raises(StorageError):
        await store.record_feedback(uuid.uuid4(), answer=ANSWER, rating=Rating.GOOD, now=T0)
