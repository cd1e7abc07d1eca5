"""The gateway front door of interactions: acknowledge within Discord's 3 s, record, let a worker
answer.

`/memory` commands, forget-all's confirm button and the message context menus reach only the
gateway process that received them, and Discord sends an interaction once. So the front door
(client.py with `intake=True`) defers it at once (type 5, "thinking", ephemeral; type 6 for a
button that edits its own message), learns what only it can learn (discord.py's cache: who can
read the place), and records a "discord.interaction" delivery: the application id and the
interaction token (a worker answers through the token's webhook, no gateway needed), the person,
the place and what was asked. A worker answers it (interaction_responders.py) even if this process
dies right after the deferral.

Deferred first, recorded second: a worker must not answer before Discord has the deferral (it
would find no interaction to answer), and an interaction whose deferral failed (expired, or
another process acknowledged it) is not recorded: it cannot be answered. Only a death between the
deferral and the record (one insert) leaves a deferred interaction unanswered.

What needs no state and no core call is answered here directly (a bad option, cancel, a press by
someone else or an expired confirmation): there is nothing to lose. Autocomplete too: it must
answer within 3 s, so it stays in the gateway process (interactions.MemoryInteractions).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import discord

from adapters.common.tasks import TaskTracker
from adapters.discord.interaction_work import Asker, Quoted
from adapters.discord.options import NO_MENTIONS
from adapters.discord.privacy import Privacy, PrivacyOf, privacy_or_private
from core.assistant import Assistant
from core.errors import StorageError
from core.intake.model import NewDelivery
from core.replies import SWAMPED_REPLY

log = logging.getLogger(__name__)

DISCORD_INTERACTION = "discord.interaction"
# What the request asks (the payload's "do").
MEMORY, FORGET_ALL, REMEMBER, ASK = "memory", "forget-all", "remember", "ask"


def interaction_delivery(
    *,
    application_id: int,
    token: str,
    asker: Asker,
    request: Mapping[str, Any],
    received_at: datetime,
) -> NewDelivery:
    """One interaction for a worker. Keyed by the interaction's id (Discord's own, unique), in the
    person's lane: one person's interactions are answered one at a time, in order."""
    return NewDelivery(
        key=f"{DISCORD_INTERACTION}:{asker.interaction_id}",
        kind=DISCORD_INTERACTION,
        lane=f"discord-user:{asker.user_id}",
        payload={
            "application_id": application_id,
            "token": token,
            "asker": asker.to_json(),
            "request": dict(request),
        },
        received_at=received_at,
    )


class InteractionIntake:
    def __init__(self, *, assistant: Assistant, privacy_of: PrivacyOf, tracker: TaskTracker) -> None:
        self._assistant = assistant
        self._privacy_of = privacy_of
        # The client's tracker: shutdown (and tests) wait for interactions being recorded.
        self._tracker = tracker

    async def command(
        self, interaction: discord.Interaction[Any], subcommand: str, options: dict[str, Any]
    ) -> None:
        await self._record(interaction, {"do": MEMORY, "subcommand": subcommand, "options": options})

    async def forget_all(self, interaction: discord.Interaction[Any]) -> None:
        """The asker confirmed (checked already): the worker edits the prompt into the result."""
        await self._record(interaction, {"do": FORGET_ALL}, update=True)

    async def menu(self, interaction: discord.Interaction[Any], do: str, message: discord.Message) -> None:
        await self._record(
            interaction, {"do": do, "message": Quoted.of(message).to_json()}, place=message.channel
        )

    async def _record(
        self,
        interaction: discord.Interaction[Any],
        request: dict[str, Any],
        *,
        update: bool = False,
        place: Any = None,
    ) -> None:
        with self._tracker.hold():
            received_at = self._assistant.clock()
            try:
                if update:
                    await interaction.response.defer()  # type 6: the button's message is edited later
                else:
                    await interaction.response.defer(ephemeral=True, thinking=True)  # type 5
            except discord.HTTPException as exc:
                # Expired (the 3 s passed) or acknowledged already (another process has it).
                log.warning("could not defer an interaction (%s %s); not recorded", exc.status, exc.code)
                return
            if place is not None:
                request["privacy"] = _privacy_json(await privacy_or_private(self._privacy_of, place))
            delivery = interaction_delivery(
                application_id=interaction.application_id,
                token=interaction.token,
                asker=Asker.of(interaction),
                request=request,
                received_at=received_at,
            )
            try:
                accepted = await self._assistant.accept(delivery)
            except StorageError:
                log.error("could not record a Discord interaction; telling the person to ask again")
                await self._say_swamped(interaction)
                return
            if not accepted:
                log.info("interaction recorded already; a worker answers it")

    @staticmethod
    async def _say_swamped(interaction: discord.Interaction[Any]) -> None:
        try:
            await interaction.edit_original_response(
                content=SWAMPED_REPLY, view=None, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            log.warning("could not answer an interaction: %s %s", exc.status, exc.code)


def _privacy_json(privacy: Privacy) -> dict[str, Any]:
    return {"is_private": privacy.is_private, "is_direct": privacy.is_direct, "reason": privacy.reason}


def privacy_from_json(data: Mapping[str, Any]) -> Privacy:
    return Privacy(bool(data["is_private"]), bool(data["is_direct"]), str(data["reason"]))


__all__ = [
    "ASK",
    "DISCORD_INTERACTION",
    "FORGET_ALL",
    "MEMORY",
    "REMEMBER",
    "InteractionIntake",
    "interaction_delivery",
    "privacy_from_json",
]
