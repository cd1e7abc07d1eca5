"""Account linking under /v1/links: the HTTP front door of core.linking (issue 8).

`POST /v1/links` gives the caller a one-time code (in this private response, never anywhere else);
`POST /v1/links/redeem` with a code from another platform links the caller's web identity to that
account; `GET /v1/links` lists the linked platforms; `DELETE /v1/links/{platform}` detaches one.
Every refusal keeps the one JSON error shape, with a stable code per reason.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

import math
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from adapters.http.api_route import ApiRoute
from adapters.http.auth import Principal
from adapters.http.deps import AssistantDep, Caller, account_of
from adapters.http.errors import ApiError, ErrorBody, ErrorCode
from core.assistant import Assistant
from core.linking import (
    CODE_LENGTH,
    LinkCodeError,
    TooManyLinkAttemptsError,
    UnlinkError,
    display_code,
)
from core.models import IdentityKey

router = APIRouter(prefix="/links", tags=["links"], route_class=ApiRoute)

# Generous: people paste codes with spaces, dashes or a trailing newline; core normalizes them.
MAX_CODE_CHARS = 40

_CODE_ERRORS: dict[str, ErrorCode] = {
    "invalid": ErrorCode.LINK_CODE_INVALID,
    "used": ErrorCode.LINK_CODE_USED,
    "expired": ErrorCode.LINK_CODE_EXPIRED,
    "own": ErrorCode.LINK_CODE_OWN,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkRedeemRequest(_Strict):
    code: str = Field(
        min_length=1,
        max_length=MAX_CODE_CHARS,
        description=f"The {CODE_LENGTH}-character code from `/memory link` on another platform "
        "(case, spaces and dashes do not matter).",
    )


class LinkCodeOut(_Strict):
    code: str = Field(description="Show it only to the caller. Works once, until `expires_at`.")
    expires_at: datetime
    expires_in_seconds: int
    message: str


class LinkedIdentity(_Strict):
    platform: Literal["slack", "discord", "web", "console"]
    current: bool = Field(description="This is the identity making the request.")


class LinkList(_Strict):
    identities: list[LinkedIdentity]


class LinkResult(_Strict):
    identities: list[LinkedIdentity] = Field(description="Every identity now sharing this memory.")
    memories_moved: int = Field(description="Memories that joined from the caller's previous account.")
    message: str


class UnlinkResult(_Strict):
    unlinked: list[LinkedIdentity] = Field(description="Detached; each starts with a fresh, empty memory.")
    identities: list[LinkedIdentity] = Field(
        description="The identities that keep the memory (the account the detached ones left)."
    )
    message: str


def _identities(items: list[IdentityKey], caller: IdentityKey) -> list[LinkedIdentity]:
    return [LinkedIdentity(platform=i.platform.value, current=i == caller) for i in items]


def _code_refused(exc: LinkCodeError) -> ApiError:
    return ApiError(400, _CODE_ERRORS[exc.problem], str(exc))


def _too_many(exc: TooManyLinkAttemptsError) -> ApiError:
    seconds = str(int(exc.retry_after.total_seconds()))
    return ApiError(429, ErrorCode.RATE_LIMITED, str(exc), headers={"Retry-After": seconds})


def _unlink_refused(exc: UnlinkError) -> ApiError:
    if exc.problem == "only_identity":
        return ApiError(409, ErrorCode.LAST_IDENTITY, str(exc))
    return ApiError(404, ErrorCode.NOT_FOUND, str(exc))


async def ensure_account(assistant: Assistant, principal: Principal) -> None:
    # The web identity's account exists (with the token's name) before linking touches it.
    await account_of(assistant, principal)


@router.post(
    "",
    status_code=201,
    response_model=LinkCodeOut,
    summary="Get a one-time code to link another platform to this memory",
)
async def issue_link_code(principal: Caller, assistant: AssistantDep) -> LinkCodeOut:
    """Redeem the code on the other platform with `/memory link CODE` (or POST /v1/links/redeem
    from another web account): that identity then shares this account's memory."""
    await ensure_account(assistant, principal)
    issued = await assistant.issue_link_code(principal.identity)
    code = display_code(issued.code)
    seconds = max(0, math.ceil((issued.expires_at - assistant.clock()).total_seconds()))
    return LinkCodeOut(
        code=code,
        expires_at=issued.expires_at,
        expires_in_seconds=seconds,
        message=f"On your other platform, send Mnemo: /memory link {code}. It works once, for 10 minutes.",
    )


@router.post(
    "/redeem",
    response_model=LinkResult,
    summary="Link this web identity to the account that issued a code",
    responses={
        400: {
            "model": ErrorBody,
            "description": "The code cannot be used: `link_code_invalid`, `link_code_used`, "
            "`link_code_expired` or `link_code_own` (nothing changed)",
        },
        429: {
            "model": ErrorBody,
            "description": "Too many wrong codes within an hour, or too many requests",
        },
    },
)
async def redeem_link_code(principal: Caller, assistant: AssistantDep, body: LinkRedeemRequest) -> LinkResult:
    """Merges the caller's account into the code's account: memories (exact duplicates
    collapse), stored messages and settings (the stricter wins)."""
    await ensure_account(assistant, principal)
    try:
        outcome = await assistant.redeem_link_code(principal.identity, body.code)
    except LinkCodeError as exc:
        raise _code_refused(exc) from None
    except TooManyLinkAttemptsError as exc:
        raise _too_many(exc) from None
    platforms = ", ".join(sorted({i.platform.value.capitalize() for i in outcome.identities}))
    return LinkResult(
        identities=_identities(outcome.identities, principal.identity),
        memories_moved=outcome.memories_moved,
        message=f"Linked. Your memory now spans: {platforms}.",
    )


@router.get("", response_model=LinkList, summary="Identities sharing this memory")
async def list_links(principal: Caller, assistant: AssistantDep) -> LinkList:
    await ensure_account(assistant, principal)
    linked = await assistant.linked_identities(principal.identity)
    return LinkList(identities=_identities(linked, principal.identity))


@router.delete(
    "/{platform}",
    response_model=UnlinkResult,
    summary="Detach a platform from this memory",
    responses={
        404: {"model": ErrorBody, "description": "Unknown platform, or none of its identities is linked"},
        409: {"model": ErrorBody, "description": "`last_identity`: it is the account's only identity"},
    },
)
async def unlink_platform(
    principal: Caller,
    assistant: AssistantDep,
    platform: Annotated[str, Path(min_length=1, max_length=20, description="slack, discord or web")],
) -> UnlinkResult:
    """The detached identity starts with a fresh, empty memory; memories stay with this account
    (detaching `web` moves the caller itself to a fresh account)."""
    await ensure_account(assistant, principal)
    before = await assistant.linked_identities(principal.identity)
    try:
        detached = await assistant.unlink(principal.identity, platform)
    except UnlinkError as exc:
        raise _unlink_refused(exc) from None
    names = ", ".join(sorted({i.platform.value.capitalize() for i in detached}))
    return UnlinkResult(
        unlinked=_identities(detached, principal.identity),
        identities=_identities([i for i in before if i not in detached], principal.identity),
        message=f"Unlinked {names}. It starts with a fresh, empty memory.",
    )
