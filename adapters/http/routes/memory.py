"""/v1/memory-profiles/me: what Mnemo remembers about the caller, through the same commands as
`/memory` on Slack and Discord (forget one, erase all, pause/resume, export)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from adapters.http import translate
from adapters.http.api_route import ApiRoute
from adapters.http.auth import Principal
from adapters.http.deps import AssistantDep, Caller, Limit, Offset, Services, account_of
from adapters.http.schemas import (
    DEFAULT_PAGE_SIZE,
    MAX_MEMORY_ID_CHARS,
    MAX_QUERY_CHARS,
    ErasureResult,
    MemoryExport,
    MemoryProfile,
    MemoryProfileStatus,
    MemoryProfileUpdate,
)
from core.assistant import Assistant
from core.commands import Command, CommandName, CommandResult
from core.models import Platform

router = APIRouter(prefix="/memory-profiles/me", tags=["memory"], route_class=ApiRoute)


async def run_command(assistant: Assistant, principal: Principal, command: Command) -> CommandResult:
    return await assistant.run_command(principal.identity, command, display_name=principal.display_name)


@router.get("", response_model=MemoryProfile, summary="What Mnemo remembers about the caller")
async def memory_profile(
    principal: Caller,
    assistant: AssistantDep,
    offset: Offset = 0,
    limit: Limit = DEFAULT_PAGE_SIZE,
    q: Annotated[
        str | None,
        Query(max_length=MAX_QUERY_CHARS, description="Search: most relevant first instead of newest."),
    ] = None,
) -> MemoryProfile:
    account = await account_of(assistant, principal)
    query = q.strip() if q and q.strip() else None
    account_settings, page = await assistant.memory_page(
        principal.identity, offset=offset, limit=limit, query=query
    )
    return MemoryProfile(
        account_id=account.id,
        memory_paused=account_settings.memory_paused,
        query=query,
        items=[translate.memory_out(item) for item in page.items],
        offset=offset,
        limit=limit,
        total=page.total,
        has_more=page.has_more,
    )


@router.delete(
    "/memories/{memory_id}",
    status_code=204,
    response_class=Response,
    summary="Forget one memory",
    responses={404: {"description": "No such memory for this caller"}},
)
async def forget_memory(
    principal: Caller,
    assistant: AssistantDep,
    services: Services,
    memory_id: Annotated[str, Path(min_length=1, max_length=MAX_MEMORY_ID_CHARS)],
) -> Response:
    await run_command(assistant, principal, Command(CommandName.FORGET, argument=memory_id))
    services.idempotency.forget_caller(principal.subject)  # a kept answer may quote it
    return Response(status_code=204)


@router.delete(
    "",
    response_model=ErasureResult,
    summary="Erase everything: memories, stored messages, sessions",
)
async def erase_profile(principal: Caller, assistant: AssistantDep, services: Services) -> ErasureResult:
    """The same erasure as `/memory forget all` (confirmed), plus the caller's web sessions."""
    result = await run_command(assistant, principal, Command(CommandName.FORGET_ALL, confirmed=True))
    services.idempotency.forget_caller(principal.subject)  # no retry may replay an erased answer
    sessions = await assistant.erase_conversations(
        platform=Platform.WEB, workspace=translate.WORKSPACE, channel=principal.subject
    )
    return ErasureResult(erased=True, sessions_deleted=sessions, message=result.text)


@router.patch("", response_model=MemoryProfileStatus, summary="Pause or resume remembering")
async def update_profile(
    principal: Caller, assistant: AssistantDep, body: MemoryProfileUpdate
) -> MemoryProfileStatus:
    name = CommandName.PAUSE if body.memory_paused else CommandName.RESUME
    result = await run_command(assistant, principal, Command(name))
    account = await account_of(assistant, principal)
    account_settings = await assistant.settings(principal.identity)
    return MemoryProfileStatus(
        account_id=account.id, memory_paused=account_settings.memory_paused, message=result.text
    )


@router.get("/export", response_model=MemoryExport, summary="Every memory, as a JSON document")
async def export_profile(principal: Caller, assistant: AssistantDep, response: Response) -> MemoryExport:
    result = await run_command(assistant, principal, Command(CommandName.EXPORT))
    response.headers["Content-Disposition"] = 'attachment; filename="mnemo-memories.json"'
    return translate.export_document(result.export_json or "{}")
