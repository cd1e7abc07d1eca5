"""The Supabase store's feedback role: two SQL functions over mnemo.answer_feedback."""

from __future__ import annotations

import uuid
from datetime import datetime

from postgrest.types import JSON

from core.models import AnswerFeedback, Rating
from core.storage.supabase.client import SupabaseConnection, timestamp_param
from core.storage.supabase.parsing import as_objects, string_at, time_at
from core.storage.validation import answer_id


def _feedback_from(data: JSON) -> list[AnswerFeedback]:
    return [
        AnswerFeedback(string_at(row, "answer"), Rating(string_at(row, "rating")), time_at(row, "at"))
        for row in as_objects(data)
    ]


class SupabaseFeedback(SupabaseConnection):
    async def record_feedback(
        self, account_id: uuid.UUID, *, answer: str, rating: Rating, now: datetime
    ) -> None:
        await self._rpc(
            "mnemo_record_feedback",
            {
                "p_account_id": str(account_id),
                "p_answer": answer_id(answer),
                "p_rating": Rating(rating).value,
                "p_now": timestamp_param(now, "now"),
            },
        )

    async def list_feedback(self, account_id: uuid.UUID) -> list[AnswerFeedback]:
        return await self._call("mnemo_list_feedback", {"p_account_id": str(account_id)}, _feedback_from)
