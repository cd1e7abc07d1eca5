"""GET /v1/auth/me: who the bearer token says the caller is, and their account."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

from fastapi import APIRouter

from adapters.http.api_route import ApiRoute
from adapters.http.deps import AssistantDep, Caller, account_of
from adapters.http.schemas import AccountOut

router = APIRouter(prefix="/auth", tags=["auth"], route_class=ApiRoute)


@router.get("/me", response_model=AccountOut, summary="The caller's account")
async def auth_me(principal: Caller, assistant: AssistantDep) -> AccountOut:
    """The account behind the bearer token, created on first use (platform `web`)."""
    account = await account_of(assistant, principal)
    account_settings = await assistant.settings(principal.identity)
    return AccountOut(
        account_id=account.id,
        subject=principal.subject,
        display_name=account.display_name,
        email=principal.email,
        memory_paused=account_settings.memory_paused,
        created_at=account.created_at,
    )
