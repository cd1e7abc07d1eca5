"""The daily token budget through the HTTP API: over budget, POST /v1/chat answers 200 with kind
'refused' and the reset time, without calling the model or storing the message."""

from __future__ import annotations

from pathlib import Path

from tests.adapters.http.conftest import api_settings, open_api
from tests.fakes.openai_server import FakeOpenAI


async def test_over_budget_the_api_answers_refused_and_calls_no_model(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str
) -> None:
    fake_openai.state.usage = (100, 50)
    settings = api_settings(tmp_path, fake_openai, jwt_secret, daily_token_budget_per_person=150)
    async with open_api(settings, jwt_secret) as api:
        first = await api.chat("hello")
        assert first.status_code == 200
        assert first.json()["kind"] == "answer"
        calls, stored = fake_openai.count("chat"), api.message_count()

        second = await api.chat("hello again", session_id=first.json()["session_id"])

        assert second.status_code == 200
        body = second.json()
        assert body["kind"] == "refused"
        assert "tokens for today" in body["text"]
        assert "resets at midnight UTC" in body["text"]
        assert fake_openai.count("chat") == calls
        assert api.message_count() == stored
