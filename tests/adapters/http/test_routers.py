"""Each resource router (adapters/http/routes/) works on its own, given the shared ApiServices; an
endpoint mounted without them fails loudly, in the API's error shape, never silently."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from adapters.http.api_route import ApiRoute
from adapters.http.auth import TokenVerifier
from adapters.http.deps import ApiServices
from adapters.http.ratelimit import RateLimiter
from adapters.http.routes import PREFIX, auth, sessions
from tests.adapters.http.conftest import Api


def app_with(router: APIRouter) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def services_for(api: Api, router: APIRouter) -> ApiServices:
    return ApiServices(
        assistant=api.core.assistant,
        settings=api.settings,
        verifier=TokenVerifier.from_settings(api.settings),
        limiter=RateLimiter(100),
        routes=router.routes,
    )


async def test_one_resource_router_serves_alone(api: Api) -> None:
    created = await api.chat("Hello there.")
    assert created.status_code == 200, created.text
    router = APIRouter(prefix=PREFIX, route_class=ApiRoute)
    router.include_router(sessions.router, dependencies=[Depends(services_for(api, router).attach)])
    async with app_with(router) as client:
        listed = await client.get("/v1/sessions", headers=api.auth())
        chat = await client.post("/v1/chat", json={"message": "hi"}, headers=api.auth())
    assert listed.status_code == 200, listed.text
    assert [s["id"] for s in listed.json()["items"]] == [created.json()["session_id"]]
    assert listed.headers["RateLimit-Limit"] == "100"
    assert chat.status_code == 404  # only the sessions router is mounted


async def test_an_endpoint_without_its_services_is_a_logged_500(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    router = APIRouter(prefix=PREFIX, route_class=ApiRoute)
    router.include_router(auth.router)  # no ApiServices.attach
    with caplog.at_level(logging.ERROR, logger="adapters.http.api_route"):
        async with app_with(router) as client:
            response = await client.get("/v1/auth/me", headers=api.auth())
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "ApiServices.attach" not in response.text  # the cause is logged, not sent
    assert any(
        "ApiServices.attach" in str(record.exc_info[1]) for record in caplog.records if record.exc_info
    )
    assert api.account_count() == 0  # nothing was created for the caller
