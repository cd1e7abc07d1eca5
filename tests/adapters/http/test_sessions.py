"""GET /v1/sessions, GET /v1/sessions/{id}/messages, DELETE /v1/sessions/{id}: paging, order, and
every id-taking endpoint refusing another person's id (IDOR) without revealing or changing it."""

from __future__ import annotations

import uuid

import pytest

from tests.adapters.http.conftest import BOB, Api
from tests.fakes.openai_server import FakeOpenAI


async def test_sessions_are_listed_most_recent_first_with_counts_and_previews(api: Api) -> None:
    first = (await api.chat("Planning a trip to Lisbon")).json()["session_id"]
    second = (await api.chat("Recipe ideas please")).json()["session_id"]
    await api.chat("and one more thing", session_id=first)

    listed = await api.client.get("/v1/sessions", headers=api.auth())

    assert listed.status_code == 200
    body = listed.json()
    assert [s["id"] for s in body["items"]] == [first, second]
    assert body["items"][0]["message_count"] == 4
    assert body["items"][0]["preview"] == "Planning a trip to Lisbon"
    assert body["items"][1]["message_count"] == 2
    assert body["items"][0]["last_active_at"] >= body["items"][1]["last_active_at"]
    assert (body["total"], body["offset"], body["limit"], body["has_more"]) == (2, 0, 20, False)


async def test_session_listing_pages(api: Api) -> None:
    ids = [(await api.chat(f"session {n}")).json()["session_id"] for n in range(5)]

    pages = [
        (await api.client.get("/v1/sessions", params={"offset": o, "limit": 2}, headers=api.auth())).json()
        for o in (0, 2, 4)
    ]

    assert [s["id"] for p in pages for s in p["items"]] == list(reversed(ids))
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert all(p["total"] == 5 for p in pages)


async def test_messages_come_oldest_first_and_page(api: Api, fake_openai: FakeOpenAI) -> None:
    fake_openai.state.reply = lambda messages: "reply to " + str(messages[-1]["content"])[-5:]
    session_id = (await api.chat("one")).json()["session_id"]
    await api.chat("two", session_id=session_id)

    whole = (await api.client.get(f"/v1/sessions/{session_id}/messages", headers=api.auth())).json()
    tail = (
        await api.client.get(
            f"/v1/sessions/{session_id}/messages", params={"offset": 2, "limit": 1}, headers=api.auth()
        )
    ).json()

    assert [(m["role"], m["text"]) for m in whole["items"]] == [
        ("user", "one"),
        ("assistant", "reply to one"),
        ("user", "two"),
        ("assistant", "reply to two"),
    ]
    assert whole["session_id"] == session_id
    assert whole["total"] == 4
    assert [m["text"] for m in tail["items"]] == ["two"]
    assert tail["has_more"] is True


async def test_deleting_a_session_removes_it_and_its_messages(api: Api) -> None:
    gone = (await api.chat("delete me")).json()["session_id"]
    kept = (await api.chat("keep me")).json()["session_id"]

    deleted = await api.client.delete(f"/v1/sessions/{gone}", headers=api.auth())
    again = await api.client.delete(f"/v1/sessions/{gone}", headers=api.auth())
    read = await api.client.get(f"/v1/sessions/{gone}/messages", headers=api.auth())
    continued = await api.chat("hello?", session_id=gone)
    listed = (await api.client.get("/v1/sessions", headers=api.auth())).json()

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert again.status_code == 404
    assert read.status_code == 404
    assert continued.status_code == 404
    assert [s["id"] for s in listed["items"]] == [kept]
    assert api.message_count() == 2


async def test_no_endpoint_reveals_or_changes_another_persons_session(
    api: Api, fake_openai: FakeOpenAI
) -> None:
    alices = (await api.chat("Alice's diary entry")).json()["session_id"]
    await api.chat("Bob's own chat", sub=BOB)
    calls = fake_openai.count("chat")

    attempts = {
        "read": await api.client.get(f"/v1/sessions/{alices}/messages", headers=api.auth(BOB)),
        "delete": await api.client.delete(f"/v1/sessions/{alices}", headers=api.auth(BOB)),
        "chat": await api.chat("let me in", sub=BOB, session_id=alices),
    }
    bobs_list = (await api.client.get("/v1/sessions", headers=api.auth(BOB))).json()
    alices_view = (await api.client.get(f"/v1/sessions/{alices}/messages", headers=api.auth())).json()

    for name, response in attempts.items():
        assert response.status_code == 404, name
        assert "Alice" not in response.text, name
    assert alices not in [s["id"] for s in bobs_list["items"]]
    assert bobs_list["total"] == 1
    assert alices_view["items"][0]["text"] == "Alice's diary entry"
    assert alices_view["total"] == 2
    assert fake_openai.count("chat") == calls


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/sessions", {"limit": 0}),
        ("/v1/sessions", {"limit": 101}),
        ("/v1/sessions", {"offset": -1}),
        ("/v1/sessions", {"offset": "abc"}),
        ("/v1/sessions/not-a-uuid/messages", {}),
        (f"/v1/sessions/{uuid.uuid4()}/messages", {"limit": 1000}),
    ],
)
async def test_bad_paging_and_ids_are_422(api: Api, path: str, params: dict[str, str | int]) -> None:
    response = await api.client.get(path, params=params, headers=api.auth())
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["details"]
