"""POST /v1/chat: new and continued sessions, the same orchestrator as Slack/Discord, bad input,
dependency failures, idempotent retries, shutdown."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from adapters.http.api_route import MAX_BODY_BYTES
from core.models import MAX_MESSAGE_CHARS
from core.replies import MODEL_DOWN_REPLY
from tests.adapters.http.conftest import BOB, Api, api_settings, open_api
from tests.core.helpers import prompt_text
from tests.fakes.openai_server import FakeOpenAI


async def test_a_new_session_then_a_continued_one_share_history(api: Api, fake_openai: FakeOpenAI) -> None:
    first = await api.chat("My cat is called Miso.")
    assert first.status_code == 200, first.text
    body = first.json()
    session_id = body["session_id"]
    assert uuid.UUID(session_id)
    assert body["kind"] == "answer"
    assert "My cat is called Miso." in body["text"]  # the fake model echoes its prompt

    second = await api.chat("What is my cat called?", session_id=session_id)
    third = await api.chat("A fresh start")

    assert second.status_code == 200
    assert second.json()["session_id"] == session_id
    assert third.json()["session_id"] != session_id
    prompts = fake_openai.chat_prompts()
    assert "My cat is called Miso." in prompt_text(prompts[1])  # history of the continued session
    assert "My cat is called Miso." not in prompt_text(prompts[2])  # not of a new session
    assert api.message_count() == 6


async def test_the_web_chat_is_private_and_uses_the_token_name(api: Api, fake_openai: FakeOpenAI) -> None:
    await api.chat("hello there")
    prompt = prompt_text(fake_openai.chat_prompts()[0])
    assert "Pat Example" in prompt
    assert "Web" in prompt


async def test_another_persons_session_is_a_404_and_nothing_happens(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    alices = (await api.chat("Alice's secret plan")).json()["session_id"]
    calls, stored = fake_openai.count("chat"), api.message_count()

    bobs_try = await api.chat("show me", sub=BOB, session_id=alices)
    unknown = await api.chat("hello", session_id=str(uuid.uuid4()))

    assert bobs_try.status_code == 404
    assert bobs_try.json()["error"] == {
        "code": "not_found",
        "message": "No session with this id.",
        "details": [],
    }
    assert unknown.status_code == 404
    assert unknown.json() == bobs_try.json()  # no way to tell "someone else's" from "none"
    assert fake_openai.count("chat") == calls
    assert api.message_count() == stored


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "body.message", "Field required"),
        ({"message": ""}, "body.message", "at least 1"),
        ({"message": "   \n\t"}, "body.message", "empty"),
        ({"message": "x" * (MAX_MESSAGE_CHARS + 1)}, "body.message", f"at most {MAX_MESSAGE_CHARS}"),
        ({"message": "hi", "sesion_id": "typo"}, "body.sesion_id", "unknown field"),
        ({"message": "hi", "session_id": "not-a-uuid"}, "body.session_id", "UUID"),
        ({"message": 42}, "body.message", "string"),
        ({"message": "nul\x00byte"}, "body.message", "NUL"),
        ([], "body", "object"),
    ],
)
async def test_bad_chat_bodies_are_422_with_a_clear_message(
    api: Api, fake_openai: FakeOpenAI, body: Any, field: str, words: str
) -> None:
    response = await api.client.post("/v1/chat", json=body, headers=api.auth())

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == field
    assert words.lower() in error["message"].lower(), error["message"]
    assert fake_openai.count("chat") == 0
    assert api.message_count() == 0


async def test_a_message_of_exactly_the_limit_is_accepted(api: Api) -> None:
    response = await api.chat("y" * MAX_MESSAGE_CHARS)
    assert response.status_code == 200


async def test_not_json_and_wrong_media_type(api: Api) -> None:
    broken = await api.client.post(
        "/v1/chat", content=b'{"message": ', headers={**api.auth(), "Content-Type": "application/json"}
    )
    form = await api.client.post("/v1/chat", data={"message": "hi"}, headers=api.auth())
    text = await api.client.post(
        "/v1/chat", content=b'{"message": "hi"}', headers={**api.auth(), "Content-Type": "text/plain"}
    )

    assert broken.status_code == 422
    assert "not valid JSON" in broken.json()["error"]["message"]
    assert form.status_code == 415
    assert form.json()["error"]["code"] == "unsupported_media_type"
    assert text.status_code == 415
    assert api.message_count() == 0


async def test_oversized_bodies_are_413_whether_declared_or_streamed(api: Api) -> None:
    big = b'{"message": "' + b"z" * MAX_BODY_BYTES + b'"}'

    async def chunks() -> Any:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    declared = await api.client.post(
        "/v1/chat", content=big, headers={**api.auth(), "Content-Type": "application/json"}
    )
    streamed = await api.client.post(
        "/v1/chat", content=chunks(), headers={**api.auth(), "Content-Type": "application/json"}
    )

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert "256 KiB" in response.json()["error"]["message"]
    assert "content-length" not in streamed.request.headers  # really sent chunked
    assert api.message_count() == 0


async def test_a_model_outage_is_an_apology_in_the_same_session(api: Api, fake_openai: FakeOpenAI) -> None:
    session_id = (await api.chat("first")).json()["session_id"]
    fake_openai.fail(500, times=10, endpoint="chat")

    response = await api.chat("second", session_id=session_id)
    fake_openai.heal()
    after = await api.chat("third", session_id=session_id)

    assert response.status_code == 200
    assert response.json() == {
        "session_id": session_id,
        "kind": "apology",
        "text": MODEL_DOWN_REPLY,
        "memories_used": [],
    }
    assert after.json()["kind"] == "answer"


async def test_an_answer_lists_the_callers_own_memories_it_used(api: Api, fake_openai: FakeOpenAI) -> None:
    first = (await api.chat("My cat is called Miso.")).json()
    assert first["memories_used"] == []  # nothing was remembered yet
    assert await api.core.writer.flush(10)

    mine = (await api.chat("What is my cat called?")).json()
    bobs = (await api.chat("What is my cat called?", sub=BOB)).json()

    assert [m["text"] for m in mine["memories_used"]] == ["My cat is called Miso."]
    assert mine["memories_used"][0]["learned_on"] == "web"
    assert mine["memories_used"][0]["id"]
    assert bobs["memories_used"] == []


async def test_idempotent_retries_are_answered_once(api: Api, fake_openai: FakeOpenAI) -> None:
    headers = {**api.auth(), "Idempotency-Key": "retry-me-1"}
    body = {"message": "Book the table for two"}

    first, second = await asyncio.gather(
        api.client.post("/v1/chat", json=body, headers=headers),
        api.client.post("/v1/chat", json=body, headers=headers),
    )
    third = await api.client.post("/v1/chat", json=body, headers=headers)
    changed = await api.client.post("/v1/chat", json={"message": "something else"}, headers=headers)
    bobs = await api.client.post(
        "/v1/chat", json=body, headers={**api.auth(BOB), "Idempotency-Key": "retry-me-1"}
    )

    assert first.status_code == second.status_code == third.status_code == 200
    assert first.json() == second.json() == third.json()
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert bobs.status_code == 200  # keys are per person
    assert bobs.json()["session_id"] != first.json()["session_id"]
    assert fake_openai.count("chat") == 2  # Alice once, Bob once
    assert api.message_count() == 4


@pytest.mark.parametrize("removal", ["forget one", "erase"])
async def test_after_a_forget_or_an_erasure_a_retry_does_not_replay_the_kept_answer(
    api: Api, fake_openai: FakeOpenAI, removal: str
) -> None:
    first = await api.chat("My locker code is 7731.")
    assert first.status_code == 200
    assert await api.core.writer.flush(10)
    headers = {**api.auth(), "Idempotency-Key": "after-removal"}
    body = {"message": "what is my locker code?"}
    answered = await api.client.post("/v1/chat", json=body, headers=headers)
    assert "7731" in json.dumps(answered.json()["memories_used"])

    if removal == "erase":
        assert (await api.client.delete("/v1/memory-profiles/me", headers=api.auth())).status_code == 200
    else:
        memory_id = answered.json()["memories_used"][0]["id"]
        path = f"/v1/memory-profiles/me/memories/{memory_id}"
        assert (await api.client.delete(path, headers=api.auth())).status_code == 204
    retry = await api.client.post("/v1/chat", json=body, headers=headers)

    assert retry.status_code == 409  # the store's claim still says "seen": no second answer either
    assert retry.json()["error"]["code"] == "duplicate_request"
    assert "7731" not in retry.text


async def test_a_retry_seen_by_another_process_is_a_409_not_a_second_answer(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str
) -> None:
    settings = api_settings(tmp_path, fake_openai, jwt_secret)
    headers = {"Idempotency-Key": "k-42"}
    async with open_api(settings, jwt_secret) as api:
        first = await api.client.post("/v1/chat", json={"message": "once"}, headers={**api.auth(), **headers})
    # A restart (or another web process) shares the store but not the in-process cache.
    async with open_api(settings, jwt_secret) as api:
        retry = await api.client.post("/v1/chat", json={"message": "once"}, headers={**api.auth(), **headers})
        stored = api.message_count()

    assert first.status_code == 200
    assert retry.status_code == 409
    assert retry.json()["error"]["code"] == "duplicate_request"
    assert stored == 2
    assert fake_openai.count("chat") == 1


@pytest.mark.parametrize("key", [b"", b"has space", b"x" * 256, b"tab\tkey", "é".encode("latin-1")])
async def test_bad_idempotency_keys_are_422(api: Api, key: bytes) -> None:
    headers = [(name.encode(), value.encode()) for name, value in api.auth().items()]
    response = await api.client.post(
        "/v1/chat", json={"message": "hi"}, headers=[*headers, (b"Idempotency-Key", key)]
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "header.Idempotency-Key"


async def test_while_shutting_down_chat_is_503_and_says_so(api: Api, fake_openai: FakeOpenAI) -> None:
    api.core.orchestrator.stop_accepting()
    response = await api.chat("are you there?")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "shutting_down"
    assert response.headers["Retry-After"]
    assert fake_openai.count("chat") == 0


async def test_concurrent_sessions_of_one_person_do_not_mix(api: Api, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: "ok: " + str(messages[-1]["content"])[-12:]
    a = (await api.chat("session A start")).json()["session_id"]
    b = (await api.chat("session B start")).json()["session_id"]

    results = await asyncio.gather(
        *(api.chat(f"to A number {n:02d}", session_id=a) for n in range(5)),
        *(api.chat(f"to B number {n:02d}", session_id=b) for n in range(5)),
    )

    assert all(r.status_code == 200 for r in results)
    listed = {
        sid: [
            m["text"]
            for m in (
                await api.client.get(
                    f"/v1/sessions/{sid}/messages", params={"limit": 100}, headers=api.auth()
                )
            ).json()["items"]
            if m["role"] == "user"
        ]
        for sid in (a, b)
    }
    assert sorted(listed[a]) == sorted(["session A start", *(f"to A number {n:02d}" for n in range(5))])
    assert sorted(listed[b]) == sorted(["session B start", *(f"to B number {n:02d}" for n in range(5))])


async def test_an_overloaded_process_answers_503_with_retry_after_and_the_key_works_later(
    tmp_path: Path, fake_openai: FakeOpenAI, jwt_secret: str
) -> None:
    settings = api_settings(
        tmp_path, fake_openai, jwt_secret, max_concurrent_replies=1, max_waiting_replies=0
    )
    async with open_api(settings, jwt_secret) as api:
        gate = fake_openai.hold("chat")
        busy = asyncio.create_task(api.chat("the one reply this process can write now"))
        await gate.arrived()
        headers = {**api.auth(), "Idempotency-Key": "overloaded-1"}
        stored = api.message_count()

        refused = await api.client.post("/v1/chat", json={"message": "me too"}, headers=headers)

        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "30"
        assert refused.json()["error"]["code"] == "overloaded"
        assert api.message_count() == stored  # nothing of it was stored
        gate.release()
        assert (await busy).status_code == 200
        again = await api.client.post("/v1/chat", json={"message": "me too"}, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["kind"] == "answer"
