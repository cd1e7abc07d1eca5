"""The memory profile: list/search, forget one, pause/resume, export, complete erasure; the same
code as the `/memory` command; another person's memory id is a 404 that changes nothing."""

from __future__ import annotations

import json

from tests.adapters.http.conftest import BOB, Api
from tests.fakes.openai_server import FakeOpenAI


async def learn(api: Api, *lines: str, sub: str | None = None) -> str:
    """Chat the lines in one session and wait for the memory writes; returns the session id."""
    session_id: str | None = None
    for line in lines:
        response = await api.chat(line, session_id=session_id, **({"sub": sub} if sub else {}))
        assert response.status_code == 200, response.text
        session_id = response.json()["session_id"]
    assert await api.core.writer.flush(10)
    assert session_id is not None
    return session_id


async def profile(api: Api, sub: str | None = None, **params: str | int) -> dict[str, object]:
    headers = api.auth(sub) if sub else api.auth()
    response = await api.client.get("/v1/memory-profiles/me", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def texts(body: dict[str, object]) -> list[str]:
    return [item["text"] for item in body["items"]]  # type: ignore[attr-defined]


async def test_the_profile_lists_what_was_learned_in_web_chats(api: Api) -> None:
    await learn(api, "I grow tomatoes on my balcony", "My sister lives in Porto")

    body = await profile(api)
    page = await profile(api, limit=1, offset=1)

    assert sorted(texts(body)) == ["I grow tomatoes on my balcony", "My sister lives in Porto"]
    item = body["items"][0]  # type: ignore[index]
    assert item["learned_on"] == "web"
    assert item["private"] is True
    assert item["id"]
    assert (body["total"], body["has_more"], body["memory_paused"]) == (2, False, False)
    assert len(texts(page)) == 1
    assert page["offset"] == 1
    assert page["has_more"] is False


async def test_search_ranks_the_relevant_memory_first(api: Api) -> None:
    await learn(api, "I grow tomatoes on my balcony", "My sister lives in Porto", "I play the cello")

    found = await profile(api, q="where does my sister live")
    blank = await profile(api, q="   ")

    assert texts(found)[0] == "My sister lives in Porto"
    assert found["query"] == "where does my sister live"
    assert found["items"][0]["score"] is not None  # type: ignore[index]
    assert blank["query"] is None
    assert len(texts(blank)) == 3


async def test_forgetting_one_memory(api: Api) -> None:
    await learn(api, "I grow tomatoes on my balcony", "I play the cello")
    target = next(i for i in (await profile(api))["items"] if "cello" in i["text"])  # type: ignore[attr-defined]

    forgotten = await api.client.delete(f"/v1/memory-profiles/me/memories/{target['id']}", headers=api.auth())
    again = await api.client.delete(f"/v1/memory-profiles/me/memories/{target['id']}", headers=api.auth())

    assert forgotten.status_code == 204
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"
    assert texts(await profile(api)) == ["I grow tomatoes on my balcony"]


async def test_another_persons_memory_id_is_a_404_and_stays(api: Api) -> None:
    await learn(api, "My bank PIN hint is a bird")
    await learn(api, "Bob likes jazz", sub=BOB)
    alices = (await profile(api))["items"][0]["id"]  # type: ignore[index]

    attempt = await api.client.delete(f"/v1/memory-profiles/me/memories/{alices}", headers=api.auth(BOB))
    bobs_view = await profile(api, BOB)
    bobs_search = await profile(api, BOB, q="bank PIN bird")
    bobs_export = (await api.client.get("/v1/memory-profiles/me/export", headers=api.auth(BOB))).json()

    assert attempt.status_code == 404
    assert "bird" not in attempt.text
    assert texts(await profile(api)) == ["My bank PIN hint is a bird"]
    assert texts(bobs_view) == ["Bob likes jazz"]
    assert texts(bobs_search) == ["Bob likes jazz"]
    assert [m["text"] for m in bobs_export["memories"]] == ["Bob likes jazz"]


async def test_pause_stops_remembering_and_resume_starts_again(api: Api) -> None:
    paused = await api.client.patch(
        "/v1/memory-profiles/me", json={"memory_paused": True}, headers=api.auth()
    )
    await learn(api, "I was born in March")
    while_paused = await profile(api)
    me = (await api.client.get("/v1/auth/me", headers=api.auth())).json()
    resumed = await api.client.patch(
        "/v1/memory-profiles/me", json={"memory_paused": False}, headers=api.auth()
    )
    await learn(api, "I work as a nurse")

    assert paused.status_code == 200
    assert paused.json()["memory_paused"] is True
    assert paused.json()["message"].startswith("Paused")
    assert while_paused["items"] == []
    assert while_paused["memory_paused"] is True
    assert me["memory_paused"] is True
    assert resumed.json()["memory_paused"] is False
    assert texts(await profile(api)) == ["I work as a nurse"]


async def test_bad_profile_updates_are_422(api: Api) -> None:
    for body in (
        {},
        {"memory_paused": "maybe"},
        {"memory_paused": True, "forget": True},
        {"paused": True},
        {"memory_paused": 0},  # not a boolean, though pydantic would read it as one
        {"memory_paused": "true"},
    ):
        response = await api.client.patch("/v1/memory-profiles/me", json=body, headers=api.auth())
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"
    assert (await profile(api))["memory_paused"] is False


async def test_export_is_a_downloadable_json_document(api: Api) -> None:
    await learn(api, "I grow tomatoes on my balcony")

    response = await api.client.get("/v1/memory-profiles/me/export", headers=api.auth())

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "attachment" in response.headers["content-disposition"]
    document = json.loads(response.content)
    me = (await api.client.get("/v1/auth/me", headers=api.auth())).json()
    assert document["account_id"] == me["account_id"]
    [memory] = document["memories"]
    assert memory["text"] == "I grow tomatoes on my balcony"
    assert memory["learned_on"] == "web"
    assert memory["private"] is True


async def test_erasing_the_profile_removes_memories_messages_and_sessions_of_that_person_only(
    api: Api,
) -> None:
    await learn(api, "I grow tomatoes on my balcony")
    await learn(api, "My sister lives in Porto")
    await learn(api, "Bob likes jazz", sub=BOB)
    bob_messages_before = (await api.client.get("/v1/sessions", headers=api.auth(BOB))).json()["items"][0]

    erased = await api.client.delete("/v1/memory-profiles/me", headers=api.auth())

    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["erased"] is True
    assert body["sessions_deleted"] == 2
    assert body["message"].startswith("Done. I erased 2 memories and 4 stored messages")
    assert (await profile(api))["items"] == []
    assert (await api.client.get("/v1/sessions", headers=api.auth())).json()["total"] == 0
    assert api.message_count() == 2  # Bob's two
    assert texts(await profile(api, BOB)) == ["Bob likes jazz"]
    assert (await api.client.get("/v1/sessions", headers=api.auth(BOB))).json()["items"][
        0
    ] == bob_messages_before
    # The person can start again.
    assert (await api.chat("hello again")).status_code == 200


async def test_a_memory_backend_failure_is_a_503_in_our_shape(api: Api, fake_openai: FakeOpenAI) -> None:
    await learn(api, "I grow tomatoes on my balcony")
    fake_openai.fail(500, times=20, endpoint="embeddings")

    response = await api.client.get("/v1/memory-profiles/me", params={"q": "tomatoes"}, headers=api.auth())

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert "500" not in response.json()["error"]["message"]
    assert response.headers["Retry-After"]


async def test_memory_ids_are_bounded(api: Api) -> None:
    response = await api.client.delete("/v1/memory-profiles/me/memories/" + "x" * 200, headers=api.auth())
    assert response.status_code == 422
