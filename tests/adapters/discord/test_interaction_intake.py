"""Discord interactions through the durable intake: the gateway client defers each `/memory`
command and confirm press within Discord's 3 s and records it; a worker answers it by editing the
deferral through the interaction's webhook, even when the gateway process is gone, and never
twice (a worker that dies mid-answer, an interaction delivered to two processes)."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.discord.interaction_intake import DISCORD_INTERACTION
from adapters.discord.translate import identity_of
from core.intake.model import NewDelivery
from tests.adapters.discord.conftest import (
    EPHEMERAL,
    callback_of,
    flags,
    new_user,
)
from tests.adapters.discord.intake_harness import edit_of, followups_of, front_door
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


async def test_a_command_is_deferred_recorded_and_answered_by_a_worker_through_rest(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with front_door(tmp_path, fake_openai, fake_discord) as door:
        user = new_user()
        payload = await door.command(user, "pause")
        deferral = await door.deferral(payload)
        answer = await door.answer(payload)
        await door.workers[0].drained()
        [row] = door.deliveries()
        paused = (await door.core.assistant.settings(identity_of(user))).memory_paused

    assert deferral.body["type"] == 5  # deferred, "thinking"
    assert flags(deferral) & EPHEMERAL  # only the person who asked sees the answer
    assert "Paused" in answer.body["content"]
    assert answer.body["allowed_mentions"]["parse"] == []
    assert "Authorization" not in answer.headers  # the token in the path is the credential
    assert paused
    assert followups_of(door.fake, payload) == []
    assert (row["kind"], row["key"], row["lane"]) == (
        DISCORD_INTERACTION,
        f"{DISCORD_INTERACTION}:{payload['id']}",
        f"discord-user:{user}",
    )
    assert row["done_at"] is not None
    assert row["payload"] is None  # dropped once answered


async def test_the_gateway_gone_after_the_deferral_a_worker_started_later_answers_once(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with front_door(tmp_path, fake_openai, fake_discord, worker=False) as door:
        user = new_user()
        await door.learn(user, "my favourite tea is oolong-42")
        payload = await door.command(user, "show", query="tea", page=1)
        deferral = await door.deferral(payload)
        [row] = door.deliveries()
        recorded = json.loads(row["payload"])
        await door.gateway.stop()  # the process that deferred it is gone
        assert door.fake.find("PATCH", "/messages/@original") == []  # nobody answered yet

        worker = await door.start_worker()
        answer = await door.answer(payload)
        await worker.drained()

    assert deferral.body["type"] == 5
    assert recorded["application_id"] == door.fake.app_id
    assert recorded["token"] == payload["token"]
    assert recorded["asker"]["user_id"] == user
    assert recorded["asker"]["guild_id"] == door.guild_id
    assert recorded["asker"]["channel_id"] == door.channel_id
    assert recorded["request"]["do"] == "memory"
    assert recorded["request"]["subcommand"] == "show"
    assert recorded["request"]["options"]["query"] == "tea"
    assert recorded["request"]["options"]["page"] == 1
    assert "oolong-42" in json.dumps(answer.body["embeds"])
    assert len(door.fake.find("PATCH", "/messages/@original")) == 1
    assert followups_of(door.fake, payload) == []


async def test_a_worker_that_dies_mid_answer_leaves_the_next_one_the_same_answer(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with front_door(tmp_path, fake_openai, fake_discord) as door:
        user = new_user()
        cat = await door.learn(user, "my cat is called Miso")
        await door.learn(user, "I live in Ghent")
        payload = door.fake.slash_command(
            user_id=user,
            subcommand="forget",
            options={"id": cat.id},
            guild_id=door.guild_id,
            channel_id=door.channel_id,
        )
        stuck = door.fake.hold("PATCH", f"/webhooks/{door.fake.app_id}/{payload['token']}/messages/@original")
        await door.fake.dispatch("INTERACTION_CREATE", payload)
        await stuck.arrived()  # the memory is forgotten, and the answer is on its way...
        await door.workers[0].kill()  # ...when the worker dies

        survivor = await door.start_worker()
        again = await door.answer(payload, count=2)
        stuck.release()
        await survivor.drained()
        left = [m.text for m in await door.memories(user)]

    first = next(r for r in door.fake.requests if edit_of(door.fake, payload)(r))
    assert "Forgotten" in again.body["content"]  # not "no memory with that id": not run again
    assert "Miso" in again.body["content"]
    assert again.body["content"] == first.body["content"]
    assert left == ["I live in Ghent"]
    assert followups_of(door.fake, payload) == []


async def test_an_interaction_delivered_twice_is_answered_once(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with front_door(tmp_path, fake_openai, fake_discord, worker=False) as door:
        await door.open_gateway()  # a second gateway process, also given the interaction
        user = new_user()
        payload = door.fake.slash_command(
            user_id=user, subcommand="pause", guild_id=door.guild_id, channel_id=door.channel_id
        )
        assert await door.fake.dispatch("INTERACTION_CREATE", payload, broadcast=True) == 2
        callbacks = await door.fake.wait_for(callback_of(payload), count=2)
        await door.handled()
        [row] = door.deliveries()
        again = NewDelivery(
            key=row["key"], kind=row["kind"], lane=row["lane"], payload={}, received_at=door.core.clock()
        )
        assert not await door.core.assistant.accept(again)  # recorded once, whoever records it

        worker = await door.start_worker()
        await door.answer(payload)
        await worker.drained()

    assert sorted(c.body["type"] for c in callbacks) == [5, 5]  # both tried; Discord took one
    assert door.fake.original_of(payload).acked
    assert len(door.fake.find("PATCH", "/messages/@original")) == 1
    assert followups_of(door.fake, payload) == []


async def test_forget_all_confirmed_is_a_deferred_update_answered_by_a_worker(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with front_door(tmp_path, fake_openai, fake_discord) as door:
        user = new_user()
        await door.learn(user, "my passport number is X123")
        asked = await door.command(user, "forget-all")
        prompt = await door.answer(asked)
        [row] = prompt.body["components"]
        confirm, cancel = row["components"]
        press = door.fake.button_press(
            user_id=user,
            custom_id=confirm["custom_id"],
            message=door.fake.original_of(asked).original or {},
            guild_id=door.guild_id,
            channel_id=door.channel_id,
        )
        await door.fake.dispatch("INTERACTION_CREATE", press)
        deferral = await door.deferral(press)
        result = await door.answer(press)
        await door.workers[0].drained()
        left = await door.memories(user)

    assert "cannot be undone" in prompt.body["content"]
    assert (confirm["label"], cancel["label"]) == ("Erase everything", "Cancel")
    assert deferral.body["type"] == 6  # deferred update: the prompt itself becomes the result
    assert "I erased 1 memory" in result.body["content"]
    assert result.body["components"] == []
    assert left == []


async def test_an_export_is_attached_to_the_deferral_by_the_worker(
    tmp_path: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with front_door(tmp_path, fake_openai, fake_discord) as door:
        user = new_user()
        await door.learn(user, "my favourite colour is teal")
        payload = await door.command(user, "export")
        deferral = await door.deferral(payload)
        answer = await door.answer(payload)
        await door.workers[0].drained()

    assert flags(deferral) & EPHEMERAL
    [(name, content)] = answer.files
    assert name == "mnemo-memories.json"
    assert [m["text"] for m in json.loads(content)["memories"]] == ["my favourite colour is teal"]
