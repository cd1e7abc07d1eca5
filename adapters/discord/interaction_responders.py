"""The worker side of Discord interactions: answer what the gateway front door deferred and
recorded (interaction_intake.py), through the interaction's webhook, never a gateway connection.

The answer replaces the deferral: PATCH /webhooks/{application_id}/{token}/messages/@original
(the "thinking" message of a command or menu, or the message whose button was pressed). An edit
is idempotent, so a retry (the worker died, or Discord failed) edits the same message again and
never shows a second answer; no follow-up messages are posted.

What the first attempt answered is noted (core.intake `note_reply`) before the edit, and a retry
shows that answer instead of running the request again: a forget, an erasure or a "Remember this"
is not done twice, and a retry cannot say "no memory with that id" about what the first attempt
forgot. An export (a file) is not noted: it changes nothing, so a retry exports again. Only a
death between the work and the note runs it twice.

Interaction tokens live 15 minutes, more than the intake's 10-minute bound: a request that waited
longer than that bound gets an apology in place of its answer while the token still works.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import discord

from adapters.discord.commands import EphemeralAnswer
from adapters.discord.interaction_intake import (
    ASK,
    DISCORD_INTERACTION,
    FORGET_ALL,
    MEMORY,
    REMEMBER,
    privacy_from_json,
)
from adapters.discord.interaction_work import Asker, InteractionWork, Quoted
from adapters.discord.interactions import confirm_view
from adapters.discord.options import NO_MENTIONS
from adapters.discord.privacy import Privacy
from core.assistant import Assistant
from core.intake.dispatch import Dispatcher, NoteReply
from core.intake.model import Delivery
from core.replies import COMMAND_FAILED_REPLY

log = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(minutes=15)
LATE_INTERACTION_REPLY = (
    "Sorry, I could not get to this in time (I was down or very busy), so I did nothing. Please try again."
)


class BadRequestError(ValueError):
    """A recorded interaction this worker cannot read (a newer front door, or a damaged record)."""


def answer_to_json(answer: EphemeralAnswer) -> dict[str, Any]:
    return {
        "content": answer.content,
        "embed": answer.embed.to_dict() if answer.embed is not None else None,
        "confirm_for": answer.confirm_for,
    }


def answer_from_json(data: Mapping[str, Any]) -> EphemeralAnswer:
    embed = data.get("embed")
    return EphemeralAnswer(
        content=str(data.get("content") or ""),
        embed=discord.Embed.from_dict(dict(embed)) if embed else None,
        confirm_for=int(data["confirm_for"]) if data.get("confirm_for") is not None else None,
    )


class InteractionResponder:
    """Registers "discord.interaction" on the worker's dispatcher; answers through `rest()`, the
    worker's REST-only discord.py client (DiscordResponder's)."""

    def __init__(
        self,
        *,
        assistant: Assistant,
        rest: Callable[[], discord.Client],
        dispatcher: Dispatcher,
        token_lifetime: timedelta = TOKEN_LIFETIME,
    ) -> None:
        self._assistant = assistant
        self._rest = rest
        self._work = InteractionWork(assistant)
        self._token_lifetime = token_lifetime
        dispatcher.register(DISCORD_INTERACTION, self.answer, on_late=self.apologise)

    async def answer(self, delivery: Delivery, note_reply: NoteReply) -> None:
        noted = (delivery.reply_ref or {}).get("answer")
        if noted is not None:
            answer = answer_from_json(noted)  # an earlier attempt did the work: show its answer
        else:
            try:
                answer = await self._do(delivery)
            except (BadRequestError, KeyError, TypeError, ValueError) as exc:
                log.error("unreadable discord.interaction delivery (%s); saying sorry", type(exc).__name__)
                answer = EphemeralAnswer(content=COMMAND_FAILED_REPLY)
            if answer.file is None:
                await note_reply({"answer": answer_to_json(answer)})
        await self._edit(delivery, answer)

    async def _do(self, delivery: Delivery) -> EphemeralAnswer:
        payload = delivery.payload
        asker = Asker.from_json(payload["asker"])
        request = payload["request"]
        do = request["do"]
        if do == MEMORY:
            options = request.get("options") or {}
            if not isinstance(options, Mapping):
                raise BadRequestError("options")
            return await self._work.command(asker, str(request["subcommand"]), options)
        if do == FORGET_ALL:
            return EphemeralAnswer(content=await self._work.forget_all(asker))
        if do in (REMEMBER, ASK):
            quoted = Quoted.from_json(request["message"])
            privacy = privacy_from_json(request["privacy"])

            async def as_recorded() -> Privacy:
                return privacy  # learned by the front door, from discord.py's cache

            if do == REMEMBER:
                return await self._work.remember(asker, quoted, as_recorded, received_at=delivery.received_at)
            return await self._work.ask(
                asker,
                quoted,
                as_recorded,
                received_at=delivery.received_at,
                already_claimed=delivery.attempt > 1,
            )
        raise BadRequestError(f"unknown request {str(do)[:40]!r}")

    async def apologise(self, delivery: Delivery, note_reply: NoteReply) -> None:
        waited = self._assistant.clock() - delivery.received_at
        if waited >= self._token_lifetime:
            log.warning(
                "interaction token expired (waited %ds); dropped unanswered", int(waited.total_seconds())
            )
            return
        await self._edit(delivery, EphemeralAnswer(content=LATE_INTERACTION_REPLY))

    async def _edit(self, delivery: Delivery, answer: EphemeralAnswer) -> None:
        """Replace the deferral with the answer. Raises (another attempt) only when Discord or the
        network failed; a gone interaction is logged and left."""
        try:
            application_id, token = int(delivery.payload["application_id"]), str(delivery.payload["token"])
        except (KeyError, TypeError, ValueError):
            log.error("a discord.interaction delivery without its token; cannot answer it")
            return
        webhook = discord.Webhook.partial(application_id, token, client=self._rest())
        view = None
        if answer.confirm_for is not None:
            view = confirm_view(answer.confirm_for)
            # Presses are dispatched by the gateway process (by the buttons' ids): sent stopped, so
            # this client does not keep the view.
            view.stop()
        file = answer.discord_file()
        try:
            # "@original" for an id: discord.py puts it in the path as is (the interaction's answer).
            await webhook.edit_message(  # type: ignore[call-overload]
                "@original",
                content=answer.content or None,
                embed=answer.embed,
                attachments=[file] if file is not None else [],
                view=view,
                allowed_mentions=NO_MENTIONS,
            )
        except (discord.NotFound, discord.Forbidden) as exc:
            log.warning("interaction gone before its answer (%s %s)", exc.status, exc.code)
        except discord.HTTPException as exc:
            if exc.status >= 500 or exc.status == 429:
                raise  # Discord's trouble: another attempt edits the same message
            log.warning("Discord refused an interaction answer: %s %s", exc.status, exc.code)


__all__ = [
    "LATE_INTERACTION_REPLY",
    "TOKEN_LIFETIME",
    "InteractionResponder",
    "answer_from_json",
    "answer_to_json",
]
