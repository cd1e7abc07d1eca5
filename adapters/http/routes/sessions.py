"""/v1/sessions: the caller's web sessions (one per chat thread) and their messages."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from adapters.http import translate
from adapters.http.api_route import ApiRoute
from adapters.http.deps import AssistantDep, Caller, Limit, Offset, require_session
from adapters.http.errors import not_found
from adapters.http.schemas import DEFAULT_PAGE_SIZE, MessageList, SessionList
from core.models import Platform

router = APIRouter(prefix="/sessions", tags=["sessions"], route_class=ApiRoute)

SessionId = Annotated[uuid.UUID, Path(description="A session id from POST /v1/chat or GET /v1/sessions.")]


@router.get("", response_model=SessionList, summary="The caller's sessions")
async def list_sessions(
    principal: Caller, assistant: AssistantDep, offset: Offset = 0, limit: Limit = DEFAULT_PAGE_SIZE
) -> SessionList:
    """Most recently active first."""
    page = await assistant.conversations(
        platform=Platform.WEB,
        workspace=translate.WORKSPACE,
        channel=principal.subject,
        offset=offset,
        limit=limit,
    )
    items = [
        translate.session_out(s) for s in page.items if translate.is_web_session_thread(s.conversation.thread)
    ]
    return SessionList(
        items=items,
        offset=offset,
        limit=limit,
        total=page.total,
        has_more=offset + len(page.items) < page.total,
    )


@router.get(
    "/{session_id}/messages",
    response_model=MessageList,
    summary="A session's messages, oldest first",
    responses={404: {"description": "No such session for this caller"}},
)
async def session_messages(
    principal: Caller,
    assistant: AssistantDep,
    session_id: SessionId,
    offset: Offset = 0,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> MessageList:
    await require_session(assistant, principal, session_id)
    page = await assistant.conversation_messages(
        translate.web_conversation(principal, session_id), offset=offset, limit=limit
    )
    return MessageList(
        session_id=session_id,
        items=[translate.message_out(m) for m in page.items],
        offset=offset,
        limit=limit,
        total=page.total,
        has_more=offset + len(page.items) < page.total,
    )


@router.delete(
    "/{session_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a session and its messages",
    responses={404: {"description": "No such session for this caller"}},
)
async def delete_session(principal: Caller, assistant: AssistantDep, session_id: SessionId) -> Response:
    """What was learned in it stays in the memory profile (forget it there)."""
    deleted = await assistant.delete_conversation(translate.web_conversation(principal, session_id))
    if not deleted:
        raise not_found("session")
    return Response(status_code=204)
