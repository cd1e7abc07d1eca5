"""Pure translation between the HTTP API's bodies and the core's models.

A web session is a conversation keyed ('web', '', <token sub>, <session uuid>): the caller's sessions
are exactly the conversations of the channel named after their `sub`, so one person can never
reach another's session by id (it is simply not in their channel), and the sessions stay theirs
when their account is linked to or unlinked from Slack/Discord (accounts change, the sub does not).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from adapters.http.auth import Principal
from adapters.http.schemas import (
    ChatResponse,
    MemoryExport,
    MemoryOut,
    MessageOut,
    SessionOut,
)
from core.models import (
    ConversationKey,
    ConversationSummary,
    IncomingMessage,
    MemoryItem,
    Platform,
    Reply,
    ReplyKind,
    StoredMessage,
)

WORKSPACE = ""


def web_conversation(principal: Principal, session_id: uuid.UUID) -> ConversationKey:
    return ConversationKey(Platform.WEB, WORKSPACE, principal.subject, str(session_id))


def to_incoming(
    principal: Principal,
    *,
    text: str,
    session_id: uuid.UUID,
    message_id: str,
    now: datetime,
) -> IncomingMessage:
    """A chat request as the core's message: one-to-one, so private and direct."""
    conversation = web_conversation(principal, session_id)
    return IncomingMessage(
        platform=Platform.WEB,
        workspace=WORKSPACE,
        user=principal.subject,
        channel=conversation.channel,
        thread=conversation.thread,
        text=text,
        message_id=message_id,
        is_private=True,
        is_direct=True,
        mentions_bot=True,
        user_name=principal.display_name,
        received_at=now,
        raw={"endpoint": "POST /v1/chat", "session_id": str(session_id)},
    )


def chat_response(reply: Reply, session_id: uuid.UUID) -> ChatResponse:
    # The API's session id is the conversation's (stable across idle timeouts), not the store's
    # session row id in `reply.session_id`.
    used = [memory_out(item) for item in reply.memories] if reply.kind is ReplyKind.ANSWER else []
    return ChatResponse(session_id=session_id, kind=reply.kind.value, text=reply.text, memories_used=used)


def session_out(summary: ConversationSummary) -> SessionOut:
    return SessionOut(
        id=uuid.UUID(summary.conversation.thread),
        created_at=summary.opened_at,
        last_active_at=summary.last_active_at,
        message_count=summary.message_count,
        preview=summary.preview,
    )


def is_web_session_thread(thread: str) -> bool:
    """Only threads this API created (uuids) are sessions; anything else in the channel is not ours."""
    try:
        return str(uuid.UUID(thread)) == thread
    except ValueError:
        return False


def message_out(message: StoredMessage) -> MessageOut:
    return MessageOut(
        id=message.id,
        role=message.role.value,
        text=message.text,
        created_at=message.created_at,
    )


def memory_out(item: MemoryItem) -> MemoryOut:
    return MemoryOut(
        id=item.id,
        text=item.text,
        created_at=item.created_at,
        learned_on=item.platform,
        channel=item.channel,
        private=item.is_private,
        score=item.score,
    )


def export_document(export_json: str) -> MemoryExport:
    """The `/memory export` document (core.commands) as the API's typed body."""
    document = json.loads(export_json)
    return MemoryExport.model_validate(document)
