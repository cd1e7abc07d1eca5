"""Discord interactions through the durable intake, the rest: context menus (recorded with their
place's privacy), a "Remember this" that waited while the person erased everything, the apology
for one that waited too long, an unreadable record, and what the gateway still answers itself."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from adapters.discord.interaction_intake import DISCORD_INTERACTION, interaction_delivery
from adapters.discord.interaction_responders import LATE_INTERACTION_REPLY
from adapters.discord.interaction_work import ERASED_SINCE, Asker
from adapters.discord.responders import DiscordResponder
from adapters.discord.sdk import apply_endpoint_overrides
from adapters.discord.service import DiscordService
from adapters.discord.translate import identity_of
from bot.intake_worker import IntakeWorker
from bot.services import build_services
from bot.wiring import build_core
from core.commands import Command, CommandName
from core.intake.model import NewDelivery
from core.replies import COMMAND_FAILED_REPLY
from tests.adapters.discord.conftest import (
    EPHEMERAL,
    answer_text,
    callback_of,
    discord_settings,
    flags,
    new_user,
)
from tests.adapters.discord.intake_harness import asker_for, edit_of, front_door
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


async def test_context_menus_are_recorded_with_their_places_privacy_and_answered_by_a_worker(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    fake_openai.state.reply = lambda messages: "That is your red bike."
    async with front_door(tmp_path, fake_openai, fake_discord, worker=False) as door:
        user = new_user()
        mine = door.fake.message(
            channel_id=door.channel_id, guild_id=door.guild_id, author_id=user, content="I ride a red bike"
        )
        remember = door.fake.message_command(
            name="Remember this",
            user_id=user,
            target=mine,
            guild_id=door.guild_id,
            channel_id=door.channel_id,
        )
        await door.fake.dispatch("INTERACTION_CREATE", remember)
        deferral = await door.deferral(remember)
        [row] = door.deliveries()
        recorded = json.loads(row["payload"])["request"]

        worker = await door.start_worker()
        remembered = await door.answer(remember)
        await worker.drained()
        kept = [(m.text, m.is_private) for m in await door.memories(user)]
        ask = door.fake.message_command(
            name="Ask Mnemo about this",
            user_id=user,
            target=mine,
            guild_id=door.guild_id,
            channel_id=door.channel_id,
        )
        await door.fake.dispatch("INTERACTION_CREATE", ask)
        asked = await door.answer(ask)
        await worker.drained()

    assert deferral.body["type"] == 5
    assert flags(deferral) & EPHEMERAL
    assert recorded["do"] == "remember"
    assert recorded["message"]["text"] == "I ride a red bike"
    assert recorded["privacy"]["is_private"] is False  # a server channel everyone can read
    assert "I'll remember that (from a public place)" in remembered.body["content"]
    assert kept == [("I ride a red bike", False)]
    assert asked.body["content"] == "That is your red bike."
    assert "I ride a red bike" in str(fake_openai.chat_prompts()[-1])
    assert door.fake.find("POST", f"/channels/{door.channel_id}/messages") == []  # nothing public


async def test_remember_this_waiting_while_the_person_erased_everything_keeps_nothing(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with front_door(tmp_path, fake_openai, fake_discord, worker=False) as door:
        user = new_user()
        await door.learn(user, "my locker is number 77")
        mine = door.fake.message(
            channel_id=door.channel_id, guild_id=door.guild_id, author_id=user, content="my PIN is 4321"
        )
        remember = door.fake.message_command(
            name="Remember this",
            user_id=user,
            target=mine,
            guild_id=door.guild_id,
            channel_id=door.channel_id,
        )
        await door.fake.dispatch("INTERACTION_CREATE", remember)
        await door.deferral(remember)
        erased = await door.core.assistant.run_command(
            identity_of(user), Command(CommandName.FORGET_ALL, confirmed=True)
        )
        worker = await door.start_worker()
        answer = await door.answer(remember)
        await worker.drained()
        left = await door.memories(user)

    assert "erased 1 memory" in erased.text
    assert answer.body["content"] == ERASED_SINCE
    assert left == []


async def test_an_interaction_that_waited_too_long_gets_an_apology_while_its_token_lives(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with front_door(tmp_path, fake_openai, fake_discord) as door:
        user = new_user()
        late, expired = (
            door.fake.slash_command(
                user_id=user, subcommand="pause", guild_id=door.guild_id, channel_id=door.channel_id
            )
            for _ in range(2)
        )
        for payload, waited in ((late, timedelta(minutes=11)), (expired, timedelta(minutes=16))):
            door.fake.original_of(payload).acked = True  # a front door deferred it back then
            delivery = interaction_delivery(
                application_id=door.fake.app_id,
                token=payload["token"],
                asker=asker_for(int(payload["id"]), user, door),
                request={"do": "memory", "subcommand": "pause", "options": {}},
                received_at=door.core.clock() - waited,
            )
            assert await door.core.assistant.accept(delivery)
        apology = await door.answer(late)
        await door.workers[0].drained()
        paused = (await door.core.assistant.settings(identity_of(user))).memory_paused

    assert apology.body["content"] == LATE_INTERACTION_REPLY
    assert not paused  # the late request was not carried out
    assert [r for r in door.fake.requests if edit_of(door.fake, expired)(r)] == []  # its token is dead
    assert fake_openai.count("chat") == 0


async def test_an_unreadable_recorded_interaction_is_told_sorry_and_dropped(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with front_door(tmp_path, fake_openai, fake_discord) as door:
        user = new_user()
        payload = door.fake.slash_command(
            user_id=user, subcommand="pause", guild_id=door.guild_id, channel_id=door.channel_id
        )
        door.fake.original_of(payload).acked = True
        bad = interaction_delivery(
            application_id=door.fake.app_id,
            token=payload["token"],
            asker=asker_for(int(payload["id"]), user, door),
            request={"do": "dance"},
            received_at=door.core.clock(),
        )
        tokenless = NewDelivery(
            key="discord.interaction:1",
            kind=DISCORD_INTERACTION,
            lane="x",
            payload={},
            received_at=door.core.clock(),
        )
        assert await door.core.assistant.accept(bad)
        assert await door.core.assistant.accept(tokenless)
        sorry = await door.answer(payload)
        await door.workers[0].drained()
        rows = door.deliveries()

    assert sorry.body["content"] == COMMAND_FAILED_REPLY
    assert all(row["done_at"] is not None for row in rows)  # dropped, not retried forever
    assert len(door.fake.find("PATCH", "/messages/@original")) == 1


async def test_bad_options_and_autocomplete_are_answered_by_the_gateway_itself(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with front_door(tmp_path, fake_openai, fake_discord, worker=False) as door:
        user = new_user()
        bad = await door.command(user, "forget", id="not an id!")
        told = await door.deferral(bad)
        complete = door.fake.slash_command(
            user_id=user,
            subcommand="forget",
            options={"id": ("locker", True)},
            guild_id=door.guild_id,
            channel_id=door.channel_id,
            interaction_type=4,
        )
        await door.fake.dispatch("INTERACTION_CREATE", complete)
        [choices] = await door.fake.wait_for(callback_of(complete))
        await door.handled()

    assert told.body["type"] == 4  # answered at once: nothing to record
    assert flags(told) & EPHEMERAL
    assert "doesn't look like a memory id" in answer_text(told)
    assert choices.body["type"] == 8  # autocomplete stays in the gateway process (no worker runs)
    assert door.deliveries() == []


async def test_a_worker_process_as_bot_services_wires_it_answers_interactions(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    guild_id, [channel_id] = fake_discord.add_guild()
    settings = discord_settings(tmp_path, fake_openai, fake_discord)
    async with build_core(settings) as core:
        services = build_services(settings, core, role="worker")
        assert not any(isinstance(s, DiscordService) for s in services)  # no gateway in a worker
        running = [s for s in services if isinstance(s, DiscordResponder | IntakeWorker)]
        user = new_user()
        payload = fake_discord.slash_command(
            user_id=user, subcommand="pause", guild_id=guild_id, channel_id=channel_id
        )
        fake_discord.original_of(payload).acked = True  # a gateway process deferred it
        asker = Asker(
            interaction_id=int(payload["id"]),
            user_id=user,
            display_name="someone",
            guild_id=guild_id,
            role_ids=(),
            channel_id=channel_id,
            thread_parent_id=None,
            filesize_limit=10 * 1024 * 1024,
        )
        delivery = interaction_delivery(
            application_id=fake_discord.app_id,
            token=payload["token"],
            asker=asker,
            request={"do": "memory", "subcommand": "pause", "options": {}},
            received_at=core.clock(),
        )
        for service in running:
            await service.start()
        try:
            assert await core.assistant.accept(delivery)
            [answer] = await fake_discord.wait_for(edit_of(fake_discord, payload))
        finally:
            for service in reversed(running):
                await service.stop()
            apply_endpoint_overrides(api_url=None, gateway_url=None)

    assert "Paused" in answer.body["content"]
