"""The worker side of POST /v1/chat: a chat message whose web process died before answering it.

The web process answers a chat request itself while its client waits (routes/chat.py), holding
the message in the durable intake as it does. If that process dies first, the hold expires and a
worker answers the message here: the reply is stored in the session, where the client reads it
(GET /v1/sessions/{id}/messages) when it comes back. Nothing is sent anywhere. A message that
waited past the intake's bound is dropped with a log line (the Dispatcher's default): the client
gave up long ago, and a late answer would surprise it in its session.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from adapters.http import translate
from adapters.http.auth import Principal
from core.assistant import Assistant
from core.intake.dispatch import Dispatcher, NoteReply
from core.intake.model import Delivery, NewDelivery

HTTP_CHAT = "http.chat"


def chat_delivery(
    principal: Principal, *, text: str, session_id: uuid.UUID, message_id: str, now: datetime
) -> NewDelivery:
    message = translate.to_incoming(
        principal, text=text, session_id=session_id, message_id=message_id, now=now
    )
    return NewDelivery(
        key=message.event_key,
        kind=HTTP_CHAT,
        lane=message.conversation.as_string(),
        payload={
            "subject": principal.subject,
            "display_name": principal.display_name,
            "text": text,
            "session_id": str(session_id),
            "message_id": message_id,
        },
        received_at=now,
    )


class ChatResponder:
    def __init__(self, assistant: Assistant) -> None:
        self._assistant = assistant

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.register(HTTP_CHAT, self.answer)

    async def answer(self, delivery: Delivery, note_reply: NoteReply) -> None:
        payload = delivery.payload
        principal = Principal(subject=str(payload["subject"]), display_name=payload.get("display_name"))
        message = translate.to_incoming(
            principal,
            text=str(payload["text"]),
            session_id=uuid.UUID(str(payload["session_id"])),
            message_id=str(payload["message_id"]),
            now=delivery.received_at,
        )
        # The web process claimed it and died while answering: this attempt must answer.
        await self._assistant.handle(message, already_claimed=True)


__all__ = ["HTTP_CHAT", "ChatResponder", "chat_delivery"]
