"""Account linking over the HTTP API: get a code, redeem one from another platform, list, unlink;
every refusal in the one error shape with its own stable code; the brute-force limit as a 429."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from core.commands import Command, CommandName
from core.linking import hash_code
from core.models import IdentityKey, MemoryOrigin, Platform
from tests.adapters.http.conftest import ALICE, BOB, Api

SLACK = IdentityKey(Platform.SLACK, "T1", "U1")
DISCORD = IdentityKey(Platform.DISCORD, "", "555")
CODE = re.compile(r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$")


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body


async def slack_code(api: Api) -> str:
    """A code issued to the Slack identity (what `/memory link` shows in Slack)."""
    result = await api.core.commands.run(SLACK, Command(CommandName.LINK))
    return result.text.split("Your link code is ")[1].split(" ")[0]


async def redeem(api: Api, code: str, *, sub: str = ALICE) -> httpx.Response:
    return await api.client.post("/v1/links/redeem", json={"code": code}, headers=api.auth(sub))


def web_identity(sub: str = ALICE) -> IdentityKey:
    return IdentityKey(Platform.WEB, "", sub)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/links"),
        ("POST", "/v1/links/redeem"),
        ("GET", "/v1/links"),
        ("DELETE", "/v1/links/slack"),
    ],
)
async def test_every_link_endpoint_needs_a_token(api: Api, method: str, path: str) -> None:
    body = {"code": "ABCD-EFGH"} if path.endswith("redeem") else None
    response = await api.client.request(method, path, json=body)
    error_of(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = await api.client.request(method, path, json=body, headers={"Authorization": "Bearer nonsense"})
    error_of(bad, 401, "invalid_token")
    assert api.account_count() == 0  # nothing was created for an unauthenticated caller


async def test_a_web_code_redeemed_in_discord_links_them(api: Api) -> None:
    response = await api.client.post("/v1/links", headers=api.auth())

    assert response.status_code == 201, response.text
    body = response.json()
    assert CODE.match(body["code"])
    assert 590 <= body["expires_in_seconds"] <= 600
    assert body["code"] in body["message"]
    raw = body["code"].replace("-", "")
    assert await api.core.store.find_link_code(hash_code(raw)) is not None  # stored hashed

    linked = await api.core.commands.run(DISCORD, Command(CommandName.LINK, argument=body["code"]))
    assert "Discord, Web" in linked.text

    listed = await api.client.get("/v1/links", headers=api.auth())
    assert listed.status_code == 200
    assert listed.json() == {
        "identities": [{"platform": "web", "current": True}, {"platform": "discord", "current": False}]
    }


async def test_redeeming_a_slack_code_brings_the_slack_memories_to_the_web(api: Api) -> None:
    slack_account = await api.core.store.resolve_account(SLACK)
    await api.core.memory.remember(
        slack_account.id,
        [{"role": "user", "content": "my dog is called Biscuit"}],
        origin=MemoryOrigin(Platform.SLACK, "C1", is_private=False),
        epoch=0,
    )
    code = await slack_code(api)

    response = await redeem(api, code.lower().replace("-", " "))  # as typed on a phone

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Linked. Your memory now spans: Slack, Web."
    assert body["memories_moved"] == 0  # the web account had none of its own
    assert {"platform": "web", "current": True} in body["identities"]
    assert {"platform": "slack", "current": False} in body["identities"]
    profile = (await api.client.get("/v1/memory-profiles/me", headers=api.auth())).json()
    assert [item["text"] for item in profile["items"]] == ["my dog is called Biscuit"]
    assert profile["account_id"] == str(slack_account.id)


async def test_bad_codes_are_400s_with_their_own_codes_and_change_nothing(api: Api) -> None:
    code = await slack_code(api)
    error_of(await redeem(api, "ZZZZ-ZZZZ"), 400, "link_code_invalid")
    error_of(await redeem(api, "no such code!"), 400, "link_code_invalid")

    own = await api.client.post("/v1/links", headers=api.auth())
    body = error_of(await redeem(api, own.json()["code"]), 400, "link_code_own")
    assert "yours" in body["error"]["message"]

    slack_account = await api.core.store.resolve_account(SLACK)
    past = api.core.clock() - timedelta(minutes=30)
    await api.core.store.add_link_code(
        account_id=slack_account.id,
        code_hash=hash_code("ABCDEFGH"),
        now=past,
        expires_at=past + timedelta(minutes=10),
    )
    error_of(await redeem(api, "ABCD-EFGH"), 400, "link_code_expired")
    assert len(await api.core.store.list_identities(slack_account.id)) == 1  # none of it linked

    assert (await redeem(api, code, sub=BOB)).status_code == 200
    error_of(await redeem(api, code), 400, "link_code_used")
    assert (await api.core.store.resolve_account(web_identity())).id != slack_account.id


@pytest.mark.parametrize(
    "body",
    [{}, {"code": ""}, {"code": "A" * 41}, {"code": 12345678}, {"code": "ABCD-EFGH", "extra": 1}],
)
async def test_malformed_redeem_bodies_are_validation_errors(api: Api, body: dict[str, Any]) -> None:
    response = await api.client.post("/v1/links/redeem", json=body, headers=api.auth())
    error_of(response, 422, "validation_error")
    assert (
        await api.core.store.count_link_failures(web_identity(), since=api.core.clock() - timedelta(hours=1))
        == 0
    )  # a malformed request is not a guess


async def test_brute_force_is_a_429_with_retry_after_and_only_for_the_guesser(api: Api) -> None:
    code = await slack_code(api)
    for _ in range(5):
        error_of(await redeem(api, "ZZZZ-ZZZZ"), 400, "link_code_invalid")

    refused = await redeem(api, code)  # even the right code
    error_of(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"] == "3600"
    assert "Too many wrong codes" in refused.json()["error"]["message"]
    slack_account = await api.core.store.resolve_account(SLACK)
    assert len(await api.core.store.list_identities(slack_account.id)) == 1

    assert (await redeem(api, code, sub=BOB)).status_code == 200  # someone else is not affected


async def test_unlink_detaches_and_says_what_is_left(api: Api) -> None:
    await redeem(api, await slack_code(api))

    response = await api.client.delete("/v1/links/Slack", headers=api.auth())

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["unlinked"] == [{"platform": "slack", "current": False}]
    assert body["identities"] == [{"platform": "web", "current": True}]
    assert "Unlinked Slack" in body["message"]
    assert (await api.core.store.resolve_account(SLACK)).id != (
        await api.core.store.resolve_account(web_identity())
    ).id
    error_of(await api.client.delete("/v1/links/slack", headers=api.auth()), 404, "not_found")
    error_of(await api.client.delete("/v1/links/myspace", headers=api.auth()), 404, "not_found")
    last = await api.client.delete("/v1/links/web", headers=api.auth())
    error_of(last, 409, "last_identity")


async def test_unlinking_web_itself_moves_the_caller_to_a_fresh_account(api: Api) -> None:
    await redeem(api, await slack_code(api))
    slack_account = await api.core.store.resolve_account(SLACK)

    response = await api.client.delete("/v1/links/web", headers=api.auth())

    assert response.status_code == 200, response.text
    assert response.json()["unlinked"] == [{"platform": "web", "current": True}]
    assert response.json()["identities"] == [{"platform": "slack", "current": False}]
    me = (await api.client.get("/v1/auth/me", headers=api.auth())).json()
    assert me["account_id"] != str(slack_account.id)
    assert (await api.client.get("/v1/links", headers=api.auth())).json() == {
        "identities": [{"platform": "web", "current": True}]
    }


async def test_nobody_sees_or_unlinks_anyone_elses_links(api: Api) -> None:
    await redeem(api, await slack_code(api))

    bobs = await api.client.get("/v1/links", headers=api.auth(BOB))
    error_of(await api.client.delete("/v1/links/slack", headers=api.auth(BOB)), 404, "not_found")

    assert bobs.json() == {"identities": [{"platform": "web", "current": True}]}
    alices = (await api.client.get("/v1/links", headers=api.auth())).json()
    assert len(alices["identities"]) == 2
